"""moto's server, answering one request at a time.

moto rolls a failed DynamoDB transaction back by restoring a snapshot of the whole table taken
when the transaction began, so with its default threaded server two concurrent transactions can
undo each other's committed writes. DynamoDB's transactions are serializable; serving requests
one by one gives the emulator the same isolation, which the concurrency tests rely on.

Usage: python moto_serial.py HOST PORT
"""

import os
import signal
import sys

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple


def main() -> None:
    host, port = sys.argv[1], int(sys.argv[2])
    os.environ.setdefault("MOTO_PORT", str(port))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(host, port, app, threaded=False, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
