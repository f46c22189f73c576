"""What the baseline handlers share: the caller from API Gateway's JWT claims, the access rule,
the item codec and responses. The baseline is the Python a team would write instead of the Rust
functions, for the requests `make bench` times, with the same AWS calls (the bench counts both
at the emulator's door). It is not a second implementation of the service."""
import json
import os
import secrets
import time
from datetime import datetime, timezone

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

TABLE = os.environ["LATCHKEY_TABLE"]
SECRET_PREFIX = os.environ["LATCHKEY_SECRET_PREFIX"]
EVENT_BUS = os.environ["LATCHKEY_EVENT_BUS"]
ROLES = ["collaborator", "operator", "admin", "owner"]

_deserializer = TypeDeserializer()
_serializer = TypeSerializer()


def from_item(item):
    return {k: _deserializer.deserialize(v) for k, v in item.items()}


def to_item(value):
    return {k: _serializer.serialize(v) for k, v in value.items() if v is not None}


def now():
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def sortable_id():
    """Time-ordered, like the ULIDs the Rust functions use."""
    return f"{time.time_ns():020d}{secrets.token_hex(5)}"


def caller(event):
    claims = event["requestContext"]["authorizer"]["jwt"]["claims"]
    teams = claims.get("teams", "[]").strip("[]").split()
    return {"user": claims["sub"], "org_id": claims["org_id"], "teams": teams}


def principals(who):
    return [f"user:{who['user']}"] + [f"team:{t}" for t in who["teams"]] + [f"org:{who['org_id']}"]


def role_of(record, who):
    if record.get("org_id") != who["org_id"]:
        return None
    held = [record["acl"][p] for p in principals(who) if p in record.get("acl", {})]
    return max(held, key=ROLES.index) if held else None


def response(status, body, headers=None):
    return {
        "statusCode": status,
        "headers": {"content-type": "application/json", **(headers or {})},
        "body": json.dumps(body, default=str),
    }


def not_found():
    return response(404, {"error": {"code": "not_found", "message": "no such credential"}})


def load(dynamodb, credential_id, who, minimum):
    """The metadata item if `who` holds at least `minimum` on a live credential, else None."""
    out = dynamodb.get_item(
        TableName=TABLE,
        Key={"pk": {"S": f"CRED#{credential_id}"}, "sk": {"S": "META"}},
        ConsistentRead=True,
    )
    if "Item" not in out:
        return None, None
    record = from_item(out["Item"])
    role = role_of(record, who)
    if role is None or record.get("deleted_at") or ROLES.index(role) < ROLES.index(minimum):
        return None, None
    return record, role


def view(record, role):
    keys = ["id", "name", "description", "connector", "auth_type", "fields", "secret_fields",
            "owner", "org_id", "status", "status_code", "status_reason", "status_trigger",
            "verified_at", "status_changed_at", "version", "tags", "created_at", "updated_at"]
    shown = {k: record.get(k) for k in keys}
    shown["access_role"] = role
    return shown


def read_secret(secretsmanager, record):
    out = secretsmanager.get_secret_value(
        SecretId=f"{SECRET_PREFIX}{record['id']}", VersionId=record["secret_version"]
    )
    return json.loads(out["SecretString"])
