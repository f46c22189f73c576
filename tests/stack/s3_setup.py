"""Prepares the signing-enforcing S3 emulator: a bucket, and an IAM user with an access key
allowed to list it. Must make exactly the calls the emulator lets through unsigned
(INITIAL_NO_AUTH_ACTION_COUNT); afterwards every call must be signed with a known key.

Usage: python s3_setup.py ENDPOINT OUTFILE
"""

import json
import sys

import boto3


def main() -> None:
    endpoint, outfile = sys.argv[1], sys.argv[2]
    kw = dict(endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="setup", aws_secret_access_key="setup")
    iam = boto3.client("iam", **kw)
    iam.create_user(UserName="latchkey-test")
    key = iam.create_access_key(UserName="latchkey-test")["AccessKey"]
    iam.put_user_policy(
        UserName="latchkey-test",
        PolicyName="list-bucket",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}),
    )
    signed = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"])
    signed.create_bucket(Bucket="latchkey-test-bucket")
    with open(outfile, "w") as f:
        json.dump({"access_key_id": key["AccessKeyId"], "secret_access_key": key["SecretAccessKey"], "bucket": "latchkey-test-bucket"}, f)


if __name__ == "__main__":
    main()
