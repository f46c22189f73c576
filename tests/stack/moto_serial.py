"""moto's server, answering one request at a time, with transactions that roll back by item.

moto rolls a failed DynamoDB transaction back by restoring a snapshot of the whole table taken
when the transaction began, so with its default threaded server two concurrent transactions can
undo each other's committed writes. DynamoDB's transactions are serializable; serving requests
one by one gives the emulator the same isolation, which the concurrency tests rely on.

That snapshot is also a deep copy of the whole table per transaction: ~0.4 s at 3,000 items,
growing with the table, which would make the emulator, not the service, what a benchmark with
10,000 credentials measures. Here a transaction snapshots only the items it names and puts
exactly those back when it fails: the same outcome, since requests never interleave.

A queue's message counts read the clock once per message, and moto computes all of them (as
part of the queue's attributes) for every message sent: sending 1,000 jobs cost ~25 s. Here
each count reads the clock once per call: the same answers, at that instant.

Three lookups moto repeats on every request are made cheap, with the same answers: the list of
its service modules (a directory scan, ~18 % of the emulator's time in the refresh benchmark),
a secret by name (a scan of every secret before the dictionary lookup) and a handler class's
method names (an `inspect.getmembers` per request).

It patches moto's internals, so it names the moto version it was written against and refuses
another one, and it can check itself: `--self-test` proves, in process, that a cancelled
transaction puts back exactly the items it named and nothing else (emulator.sh runs it before
every start).

Usage: python moto_serial.py HOST PORT
       python moto_serial.py --self-test
"""

import copy
import functools
import importlib.metadata
import os
import signal
import sys

# The moto release whose internals the patches below were read against (tests/stack/requirements.txt).
WRITTEN_AGAINST = "5.2.5"
installed = importlib.metadata.version("moto")
if installed != WRITTEN_AGAINST:
    sys.exit(
        f"moto_serial.py patches moto {WRITTEN_AGAINST}'s internals, but moto {installed} is installed: "
        "re-read _item_rollback, _TablesByReference and the lookups against it, then update WRITTEN_AGAINST"
    )

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


def _queue_counts() -> None:
    """Queue.messages and the three approximate counts, with one clock reading per call."""
    from moto.core.utils import unix_time_millis
    from moto.sqs.models import Queue

    def visible_now(queue):
        now = unix_time_millis()
        return [m for m in queue._messages if now > m.visible_at and not now < m.delayed_until]

    def count(test):
        def counted(queue):
            now = unix_time_millis()
            return sum(1 for m in queue._messages if test(m, now))

        return property(counted)

    Queue.messages = property(visible_now)
    Queue.approximate_number_of_messages = property(lambda queue: len(visible_now(queue)))
    Queue.approximate_number_of_messages_not_visible = count(lambda m, now: not now > m.visible_at)
    Queue.approximate_number_of_messages_delayed = count(lambda m, now: now < m.delayed_until)


def patch() -> None:
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
    _queue_counts()


def self_test() -> None:
    """A cancelled transaction puts back exactly what it named: its puts undone, a new item
    gone, and an item it did not name, written meanwhile (as a concurrent writer would with the
    threaded server, right after moto took its snapshot), left as that writer wrote it. With
    moto's own whole-table snapshot this fails: the concurrent write is undone."""
    import boto3
    from moto import mock_aws

    patch()
    snapshot = models.copy

    class ConcurrentWriteAfterSnapshot:
        def __getattr__(self, name):
            return getattr(snapshot, name)

        @staticmethod
        def deepcopy(value, memo=None):
            copied = snapshot.deepcopy(value, memo)
            if isinstance(value, Table) and value.name == "t":
                value.put_item({"pk": {"S": "c"}, "v": {"S": "concurrent"}})
            return copied

    models.copy = ConcurrentWriteAfterSnapshot()
    with mock_aws():
        # moto intercepts AWS's own endpoint; AWS_ENDPOINT_URL (set by make) would send the
        # client to the emulator this is about to start instead.
        ddb = boto3.client(
            "dynamodb",
            region_name="us-east-1",
            endpoint_url="https://dynamodb.us-east-1.amazonaws.com",
        )
        # Two tables, so that moto snapshots `t` once (it snapshots a table per item naming it).
        for table in ("t", "u"):
            ddb.create_table(
                TableName=table,
                KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                BillingMode="PAY_PER_REQUEST",
            )
        for table, pk in (("t", "a"), ("t", "c"), ("u", "b")):
            ddb.put_item(TableName=table, Item={"pk": {"S": pk}, "v": {"S": "before"}})
        try:
            ddb.transact_write_items(
                TransactItems=[
                    {"Put": {"TableName": "t", "Item": {"pk": {"S": "a"}, "v": {"S": "after"}}}},
                    {"Put": {"TableName": "u", "Item": {"pk": {"S": "new"}, "v": {"S": "after"}}}},
                    {
                        "ConditionCheck": {
                            "TableName": "u",
                            "Key": {"pk": {"S": "b"}},
                            "ConditionExpression": "v = :never",
                            "ExpressionAttributeValues": {":never": {"S": "never"}},
                        }
                    },
                ]
            )
            sys.exit("moto_serial self-test: the transaction should have been cancelled")
        except ddb.exceptions.TransactionCanceledException:
            pass
        state = {
            f"{table}/{i['pk']['S']}": i["v"]["S"]
            for table in ("t", "u")
            for i in ddb.scan(TableName=table)["Items"]
        }
    expected = {"t/a": "before", "t/c": "concurrent", "u/b": "before"}
    if state != expected:
        sys.exit(f"moto_serial self-test: after a cancelled transaction the tables hold {state}, not {expected}")
    print("moto_serial self-test: a cancelled transaction put back exactly the items it named")


def main() -> None:
    if sys.argv[1:] == ["--self-test"]:
        self_test()
        return
    host, port = sys.argv[1], int(sys.argv[2])
    os.environ.setdefault("MOTO_PORT", str(port))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    patch()
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(host, port, app, threaded=False, request_handler=MotoRequestHandler)



if __name__ == "__main__":
    main()
