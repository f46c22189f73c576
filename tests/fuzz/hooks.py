"""Schemathesis hooks for the fuzz runs: keep every connection a generated credential could
make on this machine.

Generated credentials name random hosts and URLs, and a connection test, a refresh or an OAuth
exchange would reach for them. Before each call, every field the connector catalog types as a
`url` or a `hostname` is pointed at 127.0.0.1, whatever the generated value (null included, so
a PATCH cannot remove a pinned endpoint), and an S3 credential always gets an endpoint (without
one it would go to s3.<region>.amazonaws.com). The fuzz stack's outbound guard refuses loopback,
so nothing is even sent. Schemathesis re-validates a case after this hook, so an invalid case
stays one.
"""

import json
import pathlib

import schemathesis

CATALOG = pathlib.Path(__file__).resolve().parents[2] / "shared/catalog/connectors.json"
LOOPBACK = {"hostname": "127.0.0.1", "url": "http://127.0.0.1:9/"}


def destination_fields():
    """Every field name any connector types as a url or a hostname, with its type."""
    fields = {}
    for connector in json.loads(CATALOG.read_text())["connectors"]:
        for name, spec in connector["fields"].items():
            if spec["type"] in LOOPBACK:
                fields[name] = spec["type"]
    return fields


DESTINATIONS = destination_fields()


def pin(fields):
    for name, kind in DESTINATIONS.items():
        if name in fields:
            fields[name] = LOOPBACK[kind]
    if "bucket" in fields or "access_key_id" in fields:
        fields["endpoint"] = LOOPBACK["url"]


@schemathesis.hook
def before_call(context, case, kwargs):
    body = case.body
    if isinstance(body, dict) and isinstance(body.get("fields"), dict):
        pin(body["fields"])
