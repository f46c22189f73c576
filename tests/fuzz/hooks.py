"""Schemathesis hooks for the fuzz runs: keep every connection a generated credential could
make on this machine.

Generated credentials name random hosts and URLs, and a connection test, a refresh or a
validation would reach for them. Before each call, every field that says where to connect is
pointed at 127.0.0.1 (port 9, discard; the stack's outbound guard refuses loopback anyway, so
nothing is even sent). `before_call` changes only what is sent: schemathesis still judges the
case as generated, so invalid cases stay invalid.
"""

import schemathesis

LOOPBACK_HOST = "127.0.0.1"
LOOPBACK_URL = "http://127.0.0.1:9/"
HOST_FIELDS = {"host"}
URL_FIELDS = {"base_url", "validation_url", "token_url", "authorize_url", "endpoint"}


def pin_fields(fields):
    for name in list(fields):
        if name in HOST_FIELDS and isinstance(fields[name], str):
            fields[name] = LOOPBACK_HOST
        elif name in URL_FIELDS and isinstance(fields[name], str):
            fields[name] = LOOPBACK_URL
    # S3 without an endpoint would go to s3.<region>.amazonaws.com.
    if fields.get("bucket") is not None and "access_key_id" in fields:
        fields["endpoint"] = LOOPBACK_URL


@schemathesis.hook
def before_call(context, case, kwargs):
    body = case.body
    if isinstance(body, dict) and isinstance(body.get("fields"), dict):
        pin_fields(body["fields"])
