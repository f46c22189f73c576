"""GET /credentials/{id}/accessors: one consistent GetItem; the ACL on it is the answer."""
import boto3

from common import caller, load, not_found, response

dynamodb = boto3.client("dynamodb")
events = boto3.client("events")


def list_accessors(event, context):
    record, _ = load(dynamodb, event["pathParameters"]["id"], caller(event), "collaborator")
    if record is None:
        return not_found()
    items = []
    for principal, role in sorted(record["acl"].items()):
        kind, pid = principal.split(":", 1)
        items.append({"type": kind, "id": pid, "role": role})
    return response(200, {"items": items})
