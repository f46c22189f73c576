"""moto's server, answering one request at a time, with transactions that roll back by item.

moto rolls a failed DynamoDB transaction back by restoring a snapshot of the whole table taken
when the transaction began, so with its default threaded server two concurrent transactions can
undo each other's committed writes. DynamoDB's transactions are serializable; serving requests
one by one gives the emulator the same isolation, which the concurrency tests rely on.

That snapshot is also a deep copy of the whole table per transaction: ~0.4 s at 3,000 items,
growing with the table, which would make the emulator, not the service, what a benchmark with
10,000 credentials measures. Here a transaction snapshots only the items it names and puts
exactly those back when it fails: the same outcome, since requests never interleave.

Three lookups moto repeats on every request are made cheap, with the same answers: the list of
its service modules (a directory scan, ~18 % of the emulator's time in the refresh benchmark),
a secret by name (a scan of every secret before the dictionary lookup) and a handler class's
method names (an `inspect.getmembers` per request).

Usage: python moto_serial.py HOST PORT
"""

import copy
import functools
import os
import signal
import sys

from moto import backends
from moto.core import responses
from moto.dynamodb import models
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import Table
from moto.secretsmanager.models import SecretsStore
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple


class _TablesByReference:
    """moto's module-level `copy`, except that a whole Table is not deep-copied: its rollback
    then restores the same (unchanged) object, and `_item_rollback` does the real work."""

    def __getattr__(self, name):
        return getattr(copy, name)

    @staticmethod
    def deepcopy(value, memo=None):
        return value if isinstance(value, Table) else copy.deepcopy(value, memo)


def _named_keys(backend, transact_items):
    """(table name, key) of every item the transaction names, where both can be read."""
    for entry in transact_items:
        _, op = next(iter(entry.items()))
        table = backend.tables.get(op.get("TableName"))
        if table is None:
            continue
        if "Key" in op:
            yield table.name, op["Key"]
        elif "Item" in op:
            attrs = op["Item"]
            key = {k: attrs[k] for k in (table.hash_key_attr, table.range_key_attr) if k and k in attrs}
            yield table.name, key


def _item_rollback(original):
    def transact_write_items(self, transact_items):
        saved = []
        for table_name, key in _named_keys(self, transact_items):
            try:
                before = self.get_item(table_name, key)
            except Exception:  # a malformed key: moto's own code reports it
                continue
            saved.append((table_name, key, copy.deepcopy(before.to_json()["Attributes"]) if before else None))
        try:
            return original(self, transact_items)
        except Exception:
            for table_name, key, attrs in reversed(saved):
                if attrs is None:
                    if self.get_item(table_name, key) is not None:
                        self.delete_item(table_name, key)
                else:
                    self.put_item(table_name, attrs)
            raise

    return transact_write_items


def _by_name_first(lookup, found):
    """A secret whose name is the key is what moto's scan would find: ask the dictionary first,
    and answer as `lookup` would (`found`), else let it scan."""

    def wrapped(self, key, *args):
        if dict.__contains__(self, key):
            return found(self, key)
        return lookup(self, key, *args)

    return wrapped


def main() -> None:
    host, port = sys.argv[1], int(sys.argv[2])
    os.environ.setdefault("MOTO_PORT", str(port))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    models.copy = _TablesByReference()
    modules = frozenset(backends.list_of_moto_modules())  # the installed package: fixed
    backends.list_of_moto_modules = functools.partial(iter, modules)
    responses.method_names_from_class = functools.cache(responses.method_names_from_class)
    for lookup, found in (
        ("__getitem__", dict.__getitem__),
        ("get", dict.__getitem__),
        ("__contains__", lambda _store, _key: True),
    ):
        setattr(SecretsStore, lookup, _by_name_first(getattr(SecretsStore, lookup), found))
    DynamoDBBackend.transact_write_items = _item_rollback(DynamoDBBackend.transact_write_items)
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(host, port, app, threaded=False, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
