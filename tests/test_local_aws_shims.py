"""Each shim in scripts/local_aws.py, against the launched server, plus the deployed-code runner."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import threading
import time
import urllib.request
import uuid
import zipfile

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from scripts.harness import Server, local_client
from scripts.run_deployed import invoke

HANDLER_SOURCE = b"""
import os
def handle(event, context):
    if event.get("fail"):
        raise ValueError("asked to fail: " + event["fail"])
    if event.get("partial_until", 0) > event.get("round", 0):
        following = {**event, "round": event.get("round", 0) + 1}
        return {"status": "PARTIAL_SUCCESS", "resume_event": following, "run_id": "r"}
    remaining = context.get_remaining_time_in_millis()
    return {"status": "SUCCESS", "echo": event, "source": os.environ["SOURCE_ID"], "remaining_ms": remaining}
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


def test_lambda_invoke_runs_the_deployed_zip_through_the_invoke_api(local_aws):
    name, _ = create_function(local_aws)
    lam = local_client("lambda", local_aws)
    response = lam.invoke(FunctionName=name, Payload=json.dumps({"hello": "world"}).encode(), LogType="Tail")
    assert "FunctionError" not in response
    result = json.loads(response["Payload"].read())
    assert result["echo"] == {"hello": "world"} and result["source"] == "shim-test"
    assert 0 < result["remaining_ms"] <= 7000  # the function's own timeout
    failed = lam.invoke(FunctionName=name, Payload=json.dumps({"fail": "please"}).encode())
    assert failed["FunctionError"] == "Unhandled"  # what Lambda says of an exception the handler raised
    assert json.loads(failed["Payload"].read()) == {
        "errorType": "ValueError",
        "errorMessage": "asked to fail: please",
    }


def machine_role(endpoint: str) -> str:
    return local_client("iam", endpoint).create_role(
        RoleName=f"sfn-{uuid.uuid4().hex[:8]}",
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
    )["Role"]["Arn"]


def finished(sfn, execution_arn: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while (described := sfn.describe_execution(executionArn=execution_arn))["status"] == "RUNNING":
        assert time.monotonic() < deadline, "the execution did not finish"
        time.sleep(0.2)
    return described


def test_state_machines_execute_and_their_lambda_tasks_run_the_deployed_code(local_aws):
    """sfn_execute_state_machines (gap 6) with lambda_invoke_subprocess (gap 4): a resume loop."""
    name, _ = create_function(local_aws)
    arn = local_client("lambda", local_aws).get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    loop = {
        "StartAt": "Invoke",
        "States": {
            "Invoke": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": arn, "Payload.$": "$"},
                "ResultSelector": {"result.$": "$.Payload"},
                "Next": "Partial?",
            },
            "Partial?": {
                "Type": "Choice",
                "Choices": [
                    {"Variable": "$.result.status", "StringEquals": "PARTIAL_SUCCESS", "Next": "Resume"}
                ],
                "Default": "Done",
            },
            "Resume": {"Type": "Pass", "OutputPath": "$.result.resume_event", "Next": "Invoke"},
            "Done": {"Type": "Succeed", "OutputPath": "$.result"},
        },
    }
    sfn = local_client("stepfunctions", local_aws)
    machine = sfn.create_state_machine(
        name=f"loop-{uuid.uuid4().hex[:6]}", definition=json.dumps(loop), roleArn=machine_role(local_aws)
    )
    done = finished(
        sfn,
        sfn.start_execution(
            stateMachineArn=machine["stateMachineArn"], input=json.dumps({"partial_until": 2})
        )["executionArn"],
    )
    assert done["status"] == "SUCCEEDED"
    assert json.loads(done["output"])["echo"] == {"partial_until": 2, "round": 2}  # two resumes
    failed = finished(
        sfn,
        sfn.start_execution(stateMachineArn=machine["stateMachineArn"], input=json.dumps({"fail": "boom"}))[
            "executionArn"
        ],
    )
    assert (failed["status"], failed["error"]) == ("FAILED", "ValueError")
    assert "asked to fail: boom" in failed["cause"]


def test_validate_state_machine_definition_answers_ok_or_the_problems(local_aws):
    """sfn_validate_definition (gap 7): what the provider asks at plan time."""
    sfn = local_client("stepfunctions", local_aws)
    good = {"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Succeed"}}}
    assert sfn.validate_state_machine_definition(definition=json.dumps(good))["result"] == "OK"
    dangling = {"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Nowhere"}}}
    answer = sfn.validate_state_machine_definition(definition=json.dumps(dangling))
    assert answer["result"] == "FAIL"
    assert [d["code"] for d in answer["diagnostics"]] == ["MISSING_TRANSITION_TARGET"]
    assert "'Nowhere'" in answer["diagnostics"][0]["message"]
    broken = sfn.validate_state_machine_definition(
        definition='{"StartAt": "A", "States": {"A": {"Type": "Nope"}}}'
    )
    assert broken["result"] == "FAIL" and broken["diagnostics"][0]["code"] == "SCHEMA_VALIDATION_FAILED"


def test_list_state_machine_versions_lists_published_versions_newest_first(local_aws):
    """sfn_list_versions (gap 8): what the provider reads after every create and refresh."""
    sfn = local_client("stepfunctions", local_aws)
    role = machine_role(local_aws)
    first = json.dumps({"StartAt": "A", "States": {"A": {"Type": "Succeed"}}})
    unpublished = sfn.create_state_machine(name=f"v-{uuid.uuid4().hex[:6]}", definition=first, roleArn=role)
    assert (
        sfn.list_state_machine_versions(stateMachineArn=unpublished["stateMachineArn"])[
            "stateMachineVersions"
        ]
        == []
    )
    machine = sfn.create_state_machine(
        name=f"v-{uuid.uuid4().hex[:6]}", definition=first, roleArn=role, publish=True
    )
    second = json.dumps({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}})
    sfn.update_state_machine(stateMachineArn=machine["stateMachineArn"], definition=second, publish=True)
    versions = sfn.list_state_machine_versions(stateMachineArn=machine["stateMachineArn"])[
        "stateMachineVersions"
    ]
    assert [v["stateMachineVersionArn"].rsplit(":", 1)[1] for v in versions] == ["2", "1"]


def test_executions_started_without_a_name_get_distinct_names(local_aws):
    """sfn_execution_names (gap 9): moto would call both "None" and refuse the second."""
    sfn = local_client("stepfunctions", local_aws)
    definition = json.dumps({"StartAt": "A", "States": {"A": {"Type": "Succeed"}}})
    machine = sfn.create_state_machine(
        name=f"n-{uuid.uuid4().hex[:6]}", definition=definition, roleArn=machine_role(local_aws)
    )
    arns = [
        sfn.start_execution(stateMachineArn=machine["stateMachineArn"], input=json.dumps({"i": i}))[
            "executionArn"
        ]
        for i in range(2)
    ]
    names = [arn.rsplit(":", 1)[1] for arn in arns]
    assert len(set(names)) == 2 and all(uuid.UUID(n) for n in names)


def test_run_deployed_runs_the_deployed_handler_with_its_environment_and_timeout(local_aws):
    name, _ = create_function(local_aws)
    run = invoke(name, local_aws, {"hello": "world"})
    assert run.error is None, run.logs
    assert run.result["echo"] == {"hello": "world"}
    assert run.result["source"] == "shim-test"
    assert 0 < run.result["remaining_ms"] <= 7000
    assert run.module_file.endswith("tiny.py") and "lake-ingest-run-" in run.module_file


# -- s3_conditional_writes_atomic (gap 5), on the aws_endpoint fixture's in-process server ----------

RACERS = 10


def widen_conditional_gap(monkeypatch: pytest.MonkeyPatch, seconds: float = 0.05) -> None:
    """Pause moto between its If-Match/If-None-Match check and its write, conditional puts only.

    Without the pause the gap is a few microseconds and a race in it is rare (about 1 in 15 with a
    1 us thread switch interval), so a test would pass with or without the shim; with it, every
    racer that is not kept out by the shim's lock lands in the gap.
    """
    from moto.s3.responses import S3Response

    checksum = S3Response._get_checksum

    def pause_then_checksum(self, response_headers):
        if self.headers.get("If-Match") or self.headers.get("If-None-Match"):
            time.sleep(seconds)
        return checksum(self, response_headers)

    monkeypatch.setattr(S3Response, "_get_checksum", pause_then_checksum)


def race_conditional_puts(bucket: str, key: str, **condition: str) -> dict[int, int]:
    """RACERS clients put `writer <i>` to one key at once; each one's HTTP status."""
    no_retries = Config(retries={"max_attempts": 1, "mode": "standard"})
    clients = [boto3.client("s3", config=no_retries) for _ in range(RACERS)]
    barrier = threading.Barrier(RACERS)
    statuses: dict[int, int] = {}

    def put(index: int) -> None:
        barrier.wait()
        try:
            clients[index].put_object(Bucket=bucket, Key=key, Body=f"writer {index}".encode(), **condition)
            statuses[index] = 200
        except ClientError as error:
            statuses[index] = error.response["ResponseMetadata"]["HTTPStatusCode"]

    threads = [threading.Thread(target=put, args=(i,)) for i in range(RACERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


@pytest.fixture
def race_bucket(aws_endpoint):
    s3 = boto3.client("s3")
    bucket = f"race-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=bucket)
    return s3, bucket


@pytest.mark.parametrize("condition", ["If-None-Match", "If-Match"])
def test_s3_conditional_writes_let_exactly_one_writer_win(race_bucket, monkeypatch, condition):
    s3, bucket = race_bucket
    if condition == "If-None-Match":
        arguments = {"IfNoneMatch": "*"}  # create only if absent
    else:
        arguments = {"IfMatch": s3.put_object(Bucket=bucket, Key="state", Body=b"v0")["ETag"]}
    widen_conditional_gap(monkeypatch)
    statuses = race_conditional_puts(bucket, "state", **arguments)
    assert sorted(statuses.values()) == [200] + [412] * (RACERS - 1)
    (winner,) = [i for i, status in statuses.items() if status == 200]
    assert s3.get_object(Bucket=bucket, Key="state")["Body"].read() == f"writer {winner}".encode()


def test_without_the_shim_moto_lets_several_conditional_writes_win(race_bucket, monkeypatch):
    """The gap the shim closes (if moto fixes it, this fails: then drop the shim)."""
    from moto.s3.responses import S3Response

    _, bucket = race_bucket
    monkeypatch.setattr(S3Response, "put_object", S3Response.put_object.__wrapped__)
    widen_conditional_gap(monkeypatch)
    statuses = race_conditional_puts(bucket, "state", IfNoneMatch="*")
    assert list(statuses.values()).count(200) > 1, statuses


def test_the_conditional_write_shim_is_applied_once_and_by_apply_shims(monkeypatch):
    from moto.s3.responses import S3Response
    from scripts import local_aws

    shimmed = S3Response.put_object
    assert hasattr(shimmed, "conditional_lock")  # the aws_endpoint fixture applied it
    local_aws.shim_s3_conditional_writes_atomic()
    assert S3Response.put_object is shimmed  # not wrapped twice (its lock would deadlock)

    called = []
    for name in (
        "shim_lambda_config_roundtrip",
        "shim_bucket_policy_conditions",
        "shim_lambda_code_location",
        "shim_lambda_invoke_subprocess",
        "shim_sfn_execute_state_machines",
        "shim_sfn_validate_definition",
        "shim_sfn_list_versions",
        "shim_sfn_execution_names",
        "shim_secrets_current_follows_label",
        "shim_athena_untagged_resources",
    ):
        monkeypatch.setattr(local_aws, name, lambda *_: None)
    monkeypatch.setattr(local_aws, "shim_s3_conditional_writes_atomic", lambda: called.append(True))
    local_aws.apply_shims("http://127.0.0.1:1")
    assert called == [True]


def test_a_plain_secret_read_follows_awscurrent_after_its_label_moves(local_aws):
    """Gap 10: a rotated refresh token is saved by moving AWSCURRENT (UpdateSecretVersionStage); a read
    without VersionStage must then answer the new version, as on AWS."""
    client = local_client("secretsmanager", local_aws)
    arn = client.create_secret(Name=f"s-{uuid.uuid4().hex[:8]}", SecretString="old")["ARN"]
    first = client.get_secret_value(SecretId=arn)["VersionId"]
    client.put_secret_value(
        SecretId=arn,
        SecretString="new",
        ClientRequestToken=str(uuid.uuid4()),
        VersionStages=["LAKEINGEST_ROTATED"],
    )
    assert client.get_secret_value(SecretId=arn)["SecretString"] == "old"  # only the custom label moved
    second = client.get_secret_value(SecretId=arn, VersionStage="LAKEINGEST_ROTATED")["VersionId"]
    client.update_secret_version_stage(
        SecretId=arn, VersionStage="AWSCURRENT", MoveToVersionId=second, RemoveFromVersionId=first
    )
    assert client.get_secret_value(SecretId=arn)["SecretString"] == "new"
    with pytest.raises(ClientError):  # AWSCURRENT is no longer on `first`: the compare-and-swap refuses
        client.update_secret_version_stage(
            SecretId=arn, VersionStage="AWSCURRENT", MoveToVersionId=first, RemoveFromVersionId=first
        )


def test_an_untagged_athena_workgroup_lists_no_tags_and_a_missing_one_still_fails(local_aws):
    """Gap 11: the provider reads a workgroup's tags after every create and refresh; AWS answers an
    untagged one with an empty list (moto: "Does Not Exist"), and a missing one with an error."""
    athena = local_client("athena", local_aws)
    name = f"wg-{uuid.uuid4().hex[:8]}"
    athena.create_work_group(Name=name, Configuration={"EnforceWorkGroupConfiguration": True})
    arn = f"arn:aws:athena:us-east-1:123456789012:workgroup/{name}"
    assert athena.list_tags_for_resource(ResourceARN=arn)["Tags"] == []
    athena.tag_resource(ResourceARN=arn, Tags=[{"Key": "lake-ingest:lake", "Value": "acme"}])
    assert athena.list_tags_for_resource(ResourceARN=arn)["Tags"] == [
        {"Key": "lake-ingest:lake", "Value": "acme"}
    ]
    athena.untag_resource(ResourceARN=arn, TagKeys=["lake-ingest:lake"])
    assert athena.list_tags_for_resource(ResourceARN=arn)["Tags"] == []
    with pytest.raises(ClientError, match="Does Not Exist"):
        athena.list_tags_for_resource(ResourceARN=f"{arn}-missing")


def test_without_the_shim_moto_answers_an_untagged_workgroup_does_not_exist(monkeypatch):
    """The gap itself, in moto's own in-process mock without the shim: what the shim exists for."""
    from moto import mock_aws
    from moto.athena.models import AthenaBackend

    unshimmed = getattr(
        AthenaBackend.list_tags_for_resource, "__wrapped__", AthenaBackend.list_tags_for_resource
    )
    monkeypatch.setattr(AthenaBackend, "list_tags_for_resource", unshimmed)
    with mock_aws():
        athena = boto3.client(
            "athena",
            region_name="us-east-1",
            endpoint_url="https://athena.us-east-1.amazonaws.com",
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )
        athena.create_work_group(Name="untagged")
        with pytest.raises(ClientError, match="Does Not Exist"):
            athena.list_tags_for_resource(
                ResourceARN="arn:aws:athena:us-east-1:123456789012:workgroup/untagged"
            )
