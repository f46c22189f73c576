"""GET /credentials/{id}/oauth/authorize: a single-use state with a PKCE verifier, kept ten
minutes, and the redirect to the provider."""
import base64
import hashlib
import os
import secrets
import time
import urllib.parse

import boto3

from common import TABLE, caller, load, not_found, response, to_item

dynamodb = boto3.client("dynamodb")
secretsmanager = boto3.client("secretsmanager")
events = boto3.client("events")
REDIRECT_URI = os.environ["LATCHKEY_OAUTH_REDIRECT_URI"]


def authorize(event, context):
    who = caller(event)
    record, _ = load(dynamodb, event["pathParameters"]["id"], who, "admin")
    if record is None:
        return not_found()
    state = secrets.token_urlsafe(32)
    verifier = secrets.token_urlsafe(64)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    dynamodb.put_item(TableName=TABLE, Item=to_item({
        "pk": f"OAUTH#{state}", "sk": "STATE", "credential_id": record["id"],
        "verifier": verifier, "user": who["user"], "version": record["version"],
        "expires_at": int(time.time()) + 600,
    }), ConditionExpression="attribute_not_exists(pk)")
    fields = record["fields"]
    query = urllib.parse.urlencode({
        "response_type": "code", "client_id": fields["client_id"], "redirect_uri": REDIRECT_URI,
        "scope": " ".join(fields.get("scopes", [])), "state": state,
        "code_challenge": challenge, "code_challenge_method": "S256", "prompt": "consent",
    })
    location = f"{fields['authorize_url']}?{query}"
    return response(200, {"authorize_url": location})
