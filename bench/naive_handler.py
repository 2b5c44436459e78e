"""The handler most teams write first (the baseline lake-ingest is measured against).

secret -> GET -> body text -> one PutObject -> len(json.loads(text)). It holds the body as bytes,
as text and as parsed objects at once, and stores it uncompressed.
"""

from __future__ import annotations

import json
import os

import boto3
import requests

secrets = boto3.client("secretsmanager")
s3 = boto3.client("s3")


def lambda_handler(event: dict, context: object) -> dict:
    secret = json.loads(secrets.get_secret_value(SecretId=os.environ["SECRET_ARN"])["SecretString"])
    response = requests.get(
        os.environ["API_URL"], headers={"Authorization": f"Bearer {secret['api_key']}"}, timeout=60
    )
    response.raise_for_status()
    text = response.text
    key = f"{os.environ['RAW_PREFIX']}/{event['run_id']}.json"
    s3.put_object(
        Bucket=os.environ["RAW_BUCKET"],
        Key=key,
        Body=text.encode(),
        ServerSideEncryption="aws:kms",
        SSEKMSKeyId=os.environ["KMS_KEY_ARN"],
    )
    return {"records": len(json.loads(text)), "objects": [key]}
