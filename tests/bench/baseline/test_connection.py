"""POST /credentials/{id}/test for a REST credential with basic auth: read the metadata and the
pinned secret version, call the validation URL, record the verdict and its history in one
transaction conditioned on the version, and publish an event when the status changed."""
import base64
import json
import urllib.error
import urllib.request

import boto3

from common import (EVENT_BUS, TABLE, caller, load, not_found, now, read_secret, response,
                    sortable_id, to_item, view)

dynamodb = boto3.client("dynamodb")
secretsmanager = boto3.client("secretsmanager")
events = boto3.client("events")


def probe(record, secret):
    fields = record["fields"]
    token = base64.b64encode(f"{fields['username']}:{secret['password']}".encode()).decode()
    request = urllib.request.Request(
        fields["validation_url"], headers={"authorization": f"Basic {token}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return "valid", f"http_{answer.status}"
    except urllib.error.HTTPError as e:
        return ("invalid", "auth_rejected") if e.code in (401, 403) else ("inconclusive", f"http_{e.code}")
    except OSError:
        return "inconclusive", "unreachable"


def test_credential(event, context):
    who = caller(event)
    record, role = load(dynamodb, event["pathParameters"]["id"], who, "operator")
    if record is None:
        return not_found()
    verdict, code = probe(record, read_secret(secretsmanager, record))
    at = now()
    before = record["status"]
    updated = dict(record, version=record["version"] + 1, updated_at=at)
    if verdict != "inconclusive":
        updated.update(status=verdict, status_code=code, status_trigger="test")
        if verdict == "valid":
            updated["verified_at"] = at
    changed = updated["status"] != before
    if changed:
        updated["status_changed_at"] = at
    pk = f"CRED#{record['id']}"
    writes = [{"Put": {
        "TableName": TABLE, "Item": to_item(updated),
        "ConditionExpression": "#v = :expected",
        "ExpressionAttributeNames": {"#v": "version"},
        "ExpressionAttributeValues": {":expected": {"N": str(record["version"])}},
    }}]
    history = [{"action": "tested", "result": verdict, "code": code}]
    if changed:
        history.append({"action": "status_changed", "status": updated["status"], "code": code})
    for line in history:
        item = dict(line, pk=pk, sk=f"HIST#{sortable_id()}", at=at, actor=f"user:{who['user']}")
        writes.append({"Put": {"TableName": TABLE, "Item": to_item(item)}})
    dynamodb.transact_write_items(TransactItems=writes)
    if changed:
        events.put_events(Entries=[{
            "EventBusName": EVENT_BUS, "Source": "latchkey", "DetailType": "CredentialStatusChanged",
            "Detail": json.dumps({"credential_id": record["id"], "from": before,
                                  "to": updated["status"], "code": code, "trigger": "test"}),
        }])
    return response(200, {"result": verdict, "code": code, "credential": view(updated, role)})
