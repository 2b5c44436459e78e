"""Each shim in scripts/local_aws.py, against the launched server, plus the deployed-code runner."""

from __future__ import annotations

import base64
import hashlib
import http.client
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
from scripts.harness import Server, local_client, local_push_url
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
def local_aws_server(tmp_path_factory):
    server = Server("local-aws", ["scripts.local_aws"], tmp_path_factory.mktemp("local-aws"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def local_aws(local_aws_server):
    return local_aws_server.url


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
        "shim_sqs_esm_not_inline",
        "shim_sqs_redrive_policy_compact",
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


# -- http_api_front (gap 12), sqs_esm_poller (gap 13), sqs_redrive_policy_compact (gap 14) ----------

PUSH_HANDLERS = {
    "echo.py": b"""
import base64, json, os
print("echo module imported")  # on stdout, like any handler's logs: never read as an answer
def handle(event, context):
    print("echo handler called")
    mode = event.get("rawQueryString", "")
    if mode == "raise":
        raise RuntimeError("asked to fail")
    if mode == "exit":
        os._exit(3)  # the execution environment dies mid-request
    if mode == "plain":
        return {"plain": True}
    if mode == "binary":
        body = base64.b64encode(bytes([0, 255])).decode()
        headers = {"content-type": "image/png"}
        return {"statusCode": 200, "headers": headers, "body": body, "isBase64Encoded": True}
    return {
        "statusCode": 201,
        "headers": {"content-type": "application/json", "x-echo": "yes"},
        "cookies": ["seen=1"],
        "body": json.dumps({"event": event, "pid": os.getpid()}),
    }
""",
    "batch.py": b"""
import json, pathlib, time
def handle(event, context):
    records = event["Records"]
    bodies = [json.loads(r["body"]) for r in records]
    print("SEEN " + json.dumps(records))
    for body in bodies:
        if "gate" in body:  # wait (up to 10 s) until the test releases the function
            gate = pathlib.Path(body["gate"])
            deadline = time.monotonic() + 10
            while not (gate / "release").exists() and time.monotonic() < deadline:
                time.sleep(0.02)
            (gate / "finished").write_text("")
    if any(b.get("fail") == "raise" for b in bodies):
        raise RuntimeError("asked to fail the batch")
    failed = [r["messageId"] for r, b in zip(records, bodies) if b.get("fail") == "item"]
    return {"batchItemFailures": [{"itemIdentifier": i} for i in failed]}
""",
}


def zip_of(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, source in files.items():
            archive.writestr(name, source)
    return buffer.getvalue()


def create_push_function(endpoint: str, handler: str) -> str:
    """A function from PUSH_HANDLERS; its ARN."""
    name = f"fn-{uuid.uuid4().hex[:8]}"
    role = local_client("iam", endpoint).create_role(
        RoleName=name, AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []})
    )["Role"]["Arn"]
    return local_client("lambda", endpoint).create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role,
        Handler=handler,
        Code={"ZipFile": zip_of(PUSH_HANDLERS)},
        Timeout=15,
    )["FunctionArn"]


def http_api(endpoint: str, function_arn: str, routes: list[str], **stage) -> str:
    """An HTTP API whose routes all reach the function (payload 2.0, by its invocation ARN)."""
    gateway = local_client("apigatewayv2", endpoint)
    api_id = gateway.create_api(Name=f"api-{uuid.uuid4().hex[:6]}", ProtocolType="HTTP")["ApiId"]
    integration = gateway.create_integration(
        ApiId=api_id,
        IntegrationType="AWS_PROXY",
        IntegrationUri=f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{function_arn}/invocations",
        PayloadFormatVersion="2.0",
    )["IntegrationId"]
    for route in routes:
        gateway.create_route(ApiId=api_id, RouteKey=route, Target=f"integrations/{integration}")
    gateway.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True, **stage)
    return api_id


def request(base: str, method: str, target: str, body: bytes = b"", headers: tuple = ()) -> tuple:
    """(status, headers as a list, body) of one request, headers sent exactly as given (repeats too)."""
    host, port = base.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    names = {name.lower() for name, _ in headers}
    connection.putrequest(method, target, skip_host="host" in names, skip_accept_encoding=True)
    for name, value in headers:
        connection.putheader(name, value)
    if body or method == "POST":
        connection.putheader("Content-Length", str(len(body)))
    connection.endheaders(body)
    response = connection.getresponse()
    answer = (response.status, response.getheaders(), response.read())
    connection.close()
    return answer


@pytest.fixture(scope="module")
def echo_api(local_aws_server):
    arn = create_push_function(local_aws_server.url, "echo.handle")
    api_id = http_api(local_aws_server.url, arn, ["POST /hooks/{source}", "GET /hooks/{source}/items"])
    return local_aws_server.http_api_url, api_id, arn


def test_the_http_api_front_url_is_written_next_to_the_port_file(local_aws_server):
    assert local_aws_server.http_api_url.startswith("http://127.0.0.1:")
    assert local_aws_server.http_api_url != local_aws_server.url


def test_a_post_reaches_the_function_as_a_payload_2_event_and_its_answer_comes_back(echo_api):
    base, api_id, _ = echo_api
    body = '{"id": "evt_1", "note": "caf\u00e9"}'.encode()
    status, headers, answer = request(
        base,
        "POST",
        "/hooks/orders?b=2&a=1&a=3",
        body,
        (("Content-Type", "application/json"), ("X-Tag", "one"), ("x-tag", "two"), ("Cookie", "k=v; m=n")),
    )
    assert status == 201
    assert ("x-echo", "yes") in [(k.lower(), v) for k, v in headers] and ("Set-Cookie", "seen=1") in headers
    event = json.loads(answer)["event"]
    assert (event["version"], event["routeKey"]) == ("2.0", "POST /hooks/{source}")
    assert (event["rawPath"], event["rawQueryString"]) == ("/hooks/orders", "b=2&a=1&a=3")
    assert event["queryStringParameters"] == {"a": "1,3", "b": "2"}
    assert event["pathParameters"] == {"source": "orders"}
    assert event["headers"]["x-tag"] == "one,two" and event["headers"]["content-type"] == "application/json"
    assert all(name == name.lower() for name in event["headers"]) and "cookie" not in event["headers"]
    assert event["cookies"] == ["k=v", "m=n"]
    assert (event["body"], event["isBase64Encoded"]) == (body.decode(), False)
    context = event["requestContext"]
    assert (context["apiId"], context["stage"], context["http"]["method"]) == (api_id, "$default", "POST")
    assert context["http"]["path"] == "/hooks/orders" and context["http"]["sourceIp"] == "127.0.0.1"
    assert context["requestId"] and abs(context["timeEpoch"] / 1000 - time.time()) < 60


@pytest.mark.parametrize(
    "content_type", ["application/octet-stream", "application/x-www-form-urlencoded", None]
)
def test_a_body_that_is_not_text_arrives_base64_encoded(echo_api, content_type):
    base, _, _ = echo_api
    body = b"a=1&b=%C3%A9" if content_type else bytes(range(256))
    headers = (("Content-Type", content_type),) if content_type else ()
    status, _, answer = request(base, "POST", "/hooks/bin", body, headers)
    event = json.loads(answer)["event"]
    assert status == 201 and event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == body


def test_a_text_body_that_is_not_utf8_arrives_base64_encoded(echo_api):
    base, _, _ = echo_api
    status, _, answer = request(
        base, "POST", "/hooks/latin", "caf\u00e9".encode("latin-1"), (("Content-Type", "text/plain"),)
    )
    event = json.loads(answer)["event"]
    assert status == 201 and event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == b"caf\xe9"


def test_answers_are_mapped_as_api_gateway_maps_them(echo_api):
    base, _, _ = echo_api
    status, headers, answer = request(base, "POST", "/hooks/x?plain")
    assert (status, json.loads(answer), dict(headers)["Content-Type"]) == (
        200,
        {"plain": True},
        "application/json",
    )
    status, _, answer = request(base, "POST", "/hooks/x?binary")
    assert (status, answer) == (200, bytes([0, 255]))
    status, _, answer = request(base, "POST", "/hooks/x?raise")
    assert (status, json.loads(answer)) == (500, {"message": "Internal Server Error"})


def test_an_unknown_route_or_method_or_api_is_not_found(echo_api):
    base, api_id, _ = echo_api
    assert request(base, "POST", "/nowhere")[0] == 404
    status, _, answer = request(base, "PUT", "/hooks/orders")
    assert (status, json.loads(answer)) == (404, {"message": "Not Found"})
    assert request(base, "GET", "/hooks/orders/items")[0] == 201
    own_host = (("Host", f"{api_id}.execute-api.us-east-1.amazonaws.com"),)
    assert request(base, "POST", "/hooks/orders", b"{}", own_host)[0] == 201
    other_host = (("Host", "zzzzzzzz.execute-api.us-east-1.amazonaws.com"),)
    assert request(base, "POST", "/hooks/orders", b"{}", other_host)[0] == 404  # the Host picks the API


def test_the_function_stays_warm_until_its_code_changes(local_aws, echo_api):
    base, _, arn = echo_api
    pids = [json.loads(request(base, "POST", "/hooks/warm", b"{}")[2])["pid"] for _ in range(3)]
    assert len(set(pids)) == 1  # one worker answered all three: the handler was imported once
    events = local_client("logs", local_aws).filter_log_events(
        logGroupName=f"/aws/lambda/{arn.split(':')[-1]}"
    )
    assert any(e["message"] == "echo handler called" for e in events["events"])  # its output is its logs
    local_client("lambda", local_aws).update_function_code(
        FunctionName=arn, ZipFile=zip_of({**PUSH_HANDLERS, "extra.py": b"# new code"})
    )
    assert json.loads(request(base, "POST", "/hooks/warm", b"{}")[2])["pid"] not in pids


def test_a_worker_that_dies_is_replaced(echo_api):
    base, _, _ = echo_api
    before = json.loads(request(base, "POST", "/hooks/w", b"{}")[2])["pid"]
    status, _, answer = request(base, "POST", "/hooks/w?exit", b"{}")
    assert (status, json.loads(answer)) == (500, {"message": "Internal Server Error"})
    assert json.loads(request(base, "POST", "/hooks/w", b"{}")[2])["pid"] != before


def test_the_stage_throttles_each_route_with_its_own_bucket(local_aws_server, echo_api):
    _, _, arn = echo_api
    http_api(
        local_aws_server.url,
        arn,
        ["POST /limited", "POST /roomy"],
        DefaultRouteSettings={"ThrottlingBurstLimit": 2, "ThrottlingRateLimit": 0.01},
        RouteSettings={"POST /roomy": {"ThrottlingBurstLimit": 50, "ThrottlingRateLimit": 50}},
    )
    base = local_aws_server.http_api_url
    limited = [request(base, "POST", "/limited", b"{}") for _ in range(4)]
    assert [status for status, _, _ in limited] == [201, 201, 429, 429]
    assert json.loads(limited[-1][2]) == {"message": "Too Many Requests"}
    assert [request(base, "POST", "/roomy", b"{}")[0] for _ in range(4)] == [201] * 4


def queue_with_dlq(endpoint: str, max_receive_count: int, visibility: int) -> tuple[str, str, str]:
    sqs = local_client("sqs", endpoint)
    dlq = sqs.create_queue(QueueName=f"dlq-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receive_count})
    queue = sqs.create_queue(
        QueueName=f"q-{uuid.uuid4().hex[:8]}",
        Attributes={"VisibilityTimeout": str(visibility), "RedrivePolicy": policy},
    )["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return queue, arn, dlq


def map_queue(endpoint: str, queue_arn: str, function_arn: str, batch_size: int, window: int) -> None:
    local_client("lambda", endpoint).create_event_source_mapping(
        EventSourceArn=queue_arn,
        FunctionName=function_arn,
        BatchSize=batch_size,
        MaximumBatchingWindowInSeconds=window,
        FunctionResponseTypes=["ReportBatchItemFailures"],
    )


def batches_seen(endpoint: str, function_arn: str) -> list[list[dict]]:
    """The Records of every batch the function was given (it logs them)."""
    logs = local_client("logs", endpoint)
    group = f"/aws/lambda/{function_arn.split(':')[-1]}"
    try:
        pages = logs.get_paginator("filter_log_events").paginate(logGroupName=group)
        messages = [e["message"] for page in pages for e in page["events"]]
    except logs.exceptions.ResourceNotFoundException:
        return []
    return [json.loads(m.removeprefix("SEEN ")) for m in messages if m.startswith("SEEN ")]


def dlq_bodies(endpoint: str, dlq: str, expected: int, timeout: float = 25) -> list[dict]:
    """Wait until the dead-letter queue holds `expected` messages (redrive moves them on a receive)."""
    sqs = local_client("sqs", endpoint)
    deadline = time.monotonic() + timeout
    while True:
        count = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages"])
        if int(count["Attributes"]["ApproximateNumberOfMessages"]) >= expected:
            break
        assert time.monotonic() < deadline, "the messages did not reach the dead-letter queue"
        time.sleep(0.2)
    messages = sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10)["Messages"]
    return [json.loads(m["Body"]) for m in messages]


def test_sqs_mappings_batch_and_redeliver_only_the_reported_failures(local_aws):
    queue, queue_arn, dlq = queue_with_dlq(local_aws, max_receive_count=2, visibility=3)
    function_arn = create_push_function(local_aws, "batch.handle")
    map_queue(local_aws, queue_arn, function_arn, batch_size=10, window=1)
    sqs = local_client("sqs", local_aws)
    for start in range(0, 25, 10):
        sqs.send_message_batch(
            QueueUrl=queue,
            Entries=[
                {
                    "Id": str(n),
                    "MessageBody": json.dumps({"n": n, "fail": "item" if n in (3, 17) else None}),
                    "MessageAttributes": {"kind": {"DataType": "String", "StringValue": f"k{n}"}},
                }
                for n in range(start, min(start + 10, 25))
            ],
        )
    assert sorted(b["n"] for b in dlq_bodies(local_aws, dlq, expected=2)) == [3, 17]
    batches = batches_seen(local_aws, function_arn)
    seen = [json.loads(r["body"])["n"] for batch in batches for r in batch]
    assert max(len(b) for b in batches) > 1 and max(len(b) for b in batches) <= 10
    assert sorted(seen) == sorted([*range(25), 3, 17])  # the two failures were delivered again, once
    attributes = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["All"])["Attributes"]
    assert (
        attributes["ApproximateNumberOfMessages"]
        == attributes["ApproximateNumberOfMessagesNotVisible"]
        == "0"
    )
    record = batches[0][0]
    assert set(record) == {
        "messageId", "receiptHandle", "body", "attributes", "messageAttributes", "md5OfBody",
        "md5OfMessageAttributes", "eventSource", "eventSourceARN", "awsRegion",
    }  # fmt: skip
    assert (record["eventSource"], record["eventSourceARN"], record["awsRegion"]) == (
        "aws:sqs",
        queue_arn,
        "us-east-1",
    )
    assert record["md5OfBody"] == hashlib.md5(record["body"].encode()).hexdigest()  # noqa: S324 - SQS's checksum
    assert record["attributes"]["ApproximateReceiveCount"] == "1" and record["attributes"]["SentTimestamp"]
    n = json.loads(record["body"])["n"]
    assert record["messageAttributes"] == {
        "kind": {"stringValue": f"k{n}", "stringListValues": [], "binaryListValues": [], "dataType": "String"}
    }


def test_a_function_error_deletes_nothing_and_redrive_takes_the_batch(local_aws):
    queue, queue_arn, dlq = queue_with_dlq(local_aws, max_receive_count=1, visibility=1)
    function_arn = create_push_function(local_aws, "batch.handle")
    map_queue(local_aws, queue_arn, function_arn, batch_size=10, window=0)
    sqs = local_client("sqs", local_aws)
    sqs.send_message_batch(
        QueueUrl=queue,
        Entries=[{"Id": str(n), "MessageBody": json.dumps({"n": n, "fail": "raise"})} for n in range(3)],
    )
    assert sorted(b["n"] for b in dlq_bodies(local_aws, dlq, expected=3)) == [0, 1, 2]
    assert sorted(json.loads(r["body"])["n"] for b in batches_seen(local_aws, function_arn) for r in b) == [
        0,
        1,
        2,
    ]


def test_send_message_returns_before_the_function_runs(local_aws, tmp_path):
    """moto alone runs the function inside SendMessage; the function here waits for a file the test
    writes only after SendMessage returned, and marks when it finished."""
    queue, queue_arn, _ = queue_with_dlq(local_aws, max_receive_count=3, visibility=30)
    function_arn = create_push_function(local_aws, "batch.handle")
    map_queue(local_aws, queue_arn, function_arn, batch_size=1, window=0)
    local_client("sqs", local_aws).send_message(
        QueueUrl=queue, MessageBody=json.dumps({"gate": str(tmp_path)})
    )
    assert not (tmp_path / "finished").exists()
    (tmp_path / "release").write_text("")
    deadline = time.monotonic() + 15
    while not batches_seen(local_aws, function_arn):
        assert time.monotonic() < deadline, "the function never ran"
        time.sleep(0.1)
    assert (tmp_path / "finished").exists()


def test_redrive_policy_is_answered_as_compact_json(local_aws):
    _, _, dlq = queue_with_dlq(local_aws, max_receive_count=5, visibility=30)
    sqs = local_client("sqs", local_aws)
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    queue = sqs.create_queue(
        QueueName=f"q-{uuid.uuid4().hex[:8]}",
        Attributes={
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "5"}, indent=2)
        },
    )["QueueUrl"]
    for names in (["RedrivePolicy"], ["All"]):
        policy = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=names)["Attributes"]["RedrivePolicy"]
        assert policy == f'{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":5}}'


def test_local_push_url_puts_the_path_on_the_local_front():
    url = "https://abc123.execute-api.eu-west-1.amazonaws.com/hooks/stripe-events"
    assert local_push_url(url, "http://127.0.0.1:4567") == "http://127.0.0.1:4567/hooks/stripe-events"
    assert (
        local_push_url(url + "?x=1", "http://127.0.0.1:4567/")
        == "http://127.0.0.1:4567/hooks/stripe-events?x=1"
    )
    with pytest.raises(ValueError, match="execute-api"):
        local_push_url("https://example.com/hooks/x", "http://127.0.0.1:4567")


@pytest.mark.parametrize(
    ("route_key", "method", "path", "expected"),
    [
        ("POST /hooks/{id}", "POST", "/hooks/a", {"id": "a"}),
        ("POST /hooks/{id}", "GET", "/hooks/a", None),
        ("POST /hooks/{id}", "POST", "/hooks/a/b", None),
        ("POST /hooks/{id}", "POST", "/hooks/", None),
        ("ANY /files/{path+}", "PUT", "/files/a/b/c", {"path": "a/b/c"}),
        ("ANY /files/{path+}", "PUT", "/files", None),
        ("GET /", "GET", "/", {}),
        ("$default", "DELETE", "/anything", {}),
    ],
)
def test_route_matching(route_key, method, path, expected):
    from scripts.http_api_front import match_route

    assert match_route(route_key, method, path) == expected


def test_the_most_specific_route_wins():
    from scripts.http_api_front import route_precedence

    routes = ["$default", "ANY /hooks/{id}", "POST /{proxy+}", "POST /hooks/{id}", "POST /hooks/stripe"]
    assert sorted(routes, key=route_precedence) == [
        "POST /hooks/stripe", "POST /hooks/{id}", "ANY /hooks/{id}", "POST /{proxy+}", "$default",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (None, set()),
        ({}, set()),
        ({"batchItemFailures": []}, set()),
        ({"batchItemFailures": None}, set()),
        ({"batchItemFailures": [{"itemIdentifier": "m2"}]}, {"m2"}),
        ({"batchItemFailures": [{"itemIdentifier": ""}]}, None),
        ({"batchItemFailures": [{"itemIdentifier": "not-in-batch"}]}, None),
        ({"batchItemFailures": [{"id": "m1"}]}, None),
    ],
)
def test_partial_batch_responses_are_read_as_lambda_reads_them(answer, expected):
    from scripts.sqs_esm_poller import failed_message_ids

    assert failed_message_ids(answer, {"m1", "m2"}) == expected
