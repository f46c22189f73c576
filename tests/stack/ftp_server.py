"""A real FTP server (pyftpdlib) for the FTP connection tests: one user, loopback only.

Usage: python ftp_server.py PORT USER PASSWORD HOMEDIR
"""

import sys

from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler
from pyftpdlib.servers import FTPServer


def main() -> None:
    port, user, password, home = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    authorizer = DummyAuthorizer()
    authorizer.add_user(user, password, home, perm="elr")
    handler = FTPHandler
    handler.authorizer = authorizer
    handler.passive_ports = range(52000, 52100)
    FTPServer(("127.0.0.1", port), handler).serve_forever()


if __name__ == "__main__":
    main()
