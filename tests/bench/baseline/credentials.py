"""GET /credentials/{id}: one consistent GetItem, the access rule, the view."""
import boto3

from common import caller, load, not_found, response, view

# Clients at import, once per process, as AWS advises (the Rust mains do the same).
dynamodb = boto3.client("dynamodb")
secretsmanager = boto3.client("secretsmanager")
events = boto3.client("events")


def get_credential(event, context):
    record, role = load(dynamodb, event["pathParameters"]["id"], caller(event), "collaborator")
    if record is None:
        return not_found()
    return response(200, view(record, role), {"etag": f'"{record["version"]}"'})
