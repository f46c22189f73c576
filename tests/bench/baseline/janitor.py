"""The scheduled orphan sweep: list the tagged secrets under the prefix; secrets younger than
the minimum age are left alone (a create may be in flight), older ones checked for metadata."""
import os
from datetime import datetime, timedelta, timezone

import boto3

from common import SECRET_PREFIX, TABLE

dynamodb = boto3.client("dynamodb")
secretsmanager = boto3.client("secretsmanager")
MIN_AGE = timedelta(minutes=int(os.environ.get("LATCHKEY_ORPHAN_MIN_AGE_MINUTES", "60")))


def janitor_sweep(event, context):
    cutoff = datetime.now(timezone.utc) - MIN_AGE
    examined = removed = 0
    pages = secretsmanager.get_paginator("list_secrets").paginate(Filters=[
        {"Key": "name", "Values": [SECRET_PREFIX]},
        {"Key": "tag-key", "Values": ["latchkey:credential-id"]},
    ])
    for page in pages:
        for secret in page["SecretList"]:
            tag = next((t["Value"] for t in secret.get("Tags", []) if t["Key"] == "latchkey:credential-id"), None)
            if not secret["Name"].startswith(SECRET_PREFIX) or tag is None:
                continue
            examined += 1
            if secret["CreatedDate"] > cutoff:
                continue
            out = dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": f"CRED#{tag}"}, "sk": {"S": "META"}},
                                    ConsistentRead=True)
            if "Item" not in out:
                secretsmanager.delete_secret(SecretId=secret["ARN"], ForceDeleteWithoutRecovery=True)
                removed += 1
    return {"examined": examined, "removed": removed}
