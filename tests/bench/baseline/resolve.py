"""The platform's resolve: the metadata, the pinned secret version, a history line of the use."""
import boto3

from common import TABLE, load, now, read_secret, sortable_id, to_item

dynamodb = boto3.client("dynamodb")
secretsmanager = boto3.client("secretsmanager")
events = boto3.client("events")


def resolve(event, context):
    who = event["principal"]
    record, _ = load(dynamodb, event["credential_id"], who, "collaborator")
    if record is None:
        return {"error": {"code": "not_found", "message": "no such credential"}}
    secret = read_secret(secretsmanager, record)
    usage = event.get("usage")
    entry = {"pk": f"CRED#{record['id']}", "sk": f"HIST#{sortable_id()}", "at": now(),
             "action": "used", "actor": f"user:{who['user']}",
             "usage": f"{usage['kind']}:{usage['resource_id']}" if usage else None}
    dynamodb.put_item(TableName=TABLE, Item=to_item(entry))
    return {"credential_id": record["id"], "version": record["version"],
            "connector": record["connector"], "auth_type": record["auth_type"],
            "status": record["status"], "fields": record["fields"], "secrets": secret}
