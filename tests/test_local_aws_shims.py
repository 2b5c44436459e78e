"""Each shim in scripts/local_aws.py, against the launched server, plus the deployed-code runner."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import urllib.request
import uuid
import zipfile

import pytest
from botocore.exceptions import ClientError
from scripts.harness import Server, local_client
from scripts.run_deployed import invoke

HANDLER_SOURCE = b"""
import os
def handle(event, context):
    remaining = context.get_remaining_time_in_millis()
    return {"echo": event, "source": os.environ["SOURCE_ID"], "remaining_ms": remaining}
"""


@pytest.fixture(scope="module")
def local_aws(tmp_path_factory):
    server = Server("local-aws", ["scripts.local_aws"], tmp_path_factory.mktemp("local-aws"))
    yield server.url
    server.stop()


def make_zip(source: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("tiny.py", source)
    return buffer.getvalue()


def create_function(endpoint, **extra):
    name = f"fn-{uuid.uuid4().hex[:8]}"
    role = local_client("iam", endpoint).create_role(
        RoleName=name, AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []})
    )["Role"]["Arn"]
    code = make_zip(HANDLER_SOURCE)
    local_client("lambda", endpoint).create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role,
        Handler="tiny.handle",
        Code={"ZipFile": code},
        Timeout=7,
        Environment={"Variables": {"SOURCE_ID": "shim-test"}},
        **extra,
    )
    return name, code


def test_lambda_config_roundtrip_keeps_logging_and_dead_letter_config(local_aws):
    queue = local_client("sqs", local_aws).create_queue(QueueName=f"q-{uuid.uuid4().hex[:6]}")["QueueUrl"]
    queue_arn = local_client("sqs", local_aws).get_queue_attributes(
        QueueUrl=queue, AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]
    name, _ = create_function(
        local_aws,
        LoggingConfig={"LogFormat": "JSON", "LogGroup": "/custom/group", "ApplicationLogLevel": "INFO"},
        DeadLetterConfig={"TargetArn": queue_arn},
    )
    lam = local_client("lambda", local_aws)
    config = lam.get_function_configuration(FunctionName=name)
    assert config["LoggingConfig"]["LogFormat"] == "JSON"
    assert config["LoggingConfig"]["LogGroup"] == "/custom/group"
    assert config["DeadLetterConfig"] == {"TargetArn": queue_arn}
    lam.update_function_configuration(FunctionName=name, LoggingConfig={"LogFormat": "Text"})
    assert lam.get_function(FunctionName=name)["Configuration"]["LoggingConfig"]["LogFormat"] == "Text"


def test_bucket_policy_conditions_are_not_applied_but_plain_denies_are(local_aws):
    s3 = local_client("s3", local_aws)
    bucket = f"shim-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=bucket)
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
            {
                "Sid": "DenyBlocked",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:PutObject",
                "Resource": f"arn:aws:s3:::{bucket}/blocked/*",
            },
            {
                "Sid": "DenyUnlistedConditional",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:PutObject",
                "Resource": f"arn:aws:s3:::{bucket}/unlisted/*",
                "Condition": {"StringEquals": {"aws:PrincipalTag/team": "x"}},
            },
        ],
    }
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
    s3.put_object(Bucket=bucket, Key="ok/object", Body=b"x")  # the TLS-only statement does not lock us out
    assert s3.get_object(Bucket=bucket, Key="ok/object")["Body"].read() == b"x"
    with pytest.raises(ClientError, match="403"):
        s3.put_object(Bucket=bucket, Key="blocked/object", Body=b"x")  # an unconditional deny still holds
    with pytest.raises(ClientError, match="403"):
        # a conditional statement the shim does not list (and the matrix does not cover) fails closed
        s3.put_object(Bucket=bucket, Key="unlisted/object", Body=b"x")


def test_lambda_code_location_downloads_the_deployed_zip(local_aws):
    name, code = create_function(local_aws)
    response = local_client("lambda", local_aws).get_function(FunctionName=name)
    location = response["Code"]["Location"]
    assert location.startswith(local_aws + "/")
    with urllib.request.urlopen(location, timeout=10) as download:
        downloaded = download.read()
    assert downloaded == code
    assert (
        base64.b64encode(hashlib.sha256(downloaded).digest()).decode()
        == response["Configuration"]["CodeSha256"]
    )


def test_run_deployed_runs_the_deployed_handler_with_its_environment_and_timeout(local_aws):
    name, _ = create_function(local_aws)
    run = invoke(name, local_aws, {"hello": "world"})
    assert run.error is None, run.logs
    assert run.result["echo"] == {"hello": "world"}
    assert run.result["source"] == "shim-test"
    assert 0 < run.result["remaining_ms"] <= 7000
    assert run.module_file.endswith("tiny.py") and "lake-ingest-run-" in run.module_file
