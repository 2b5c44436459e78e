"""The module applied for real: terraform + hashicorp/aws against the local AWS, then read back.

One apply of examples/local (about 70 s, mostly the provider's own polling) serves every test here.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from scripts.harness import local_client
from scripts.policy_matrix import describe, evaluate, load_cases, read_deployment
from scripts.run_deployed import invoke

from lake_ingest.__main__ import main
from lake_ingest.query_cli import LocalCatalog
from tests.conftest import applied_example

pytestmark = [pytest.mark.terraform, pytest.mark.slow]


@pytest.fixture(scope="module")
def deployed(tmp_path_factory):
    with applied_example(
        "local",
        tmp_path_factory.mktemp("e2e"),
        lambda aws, api: [f"-var=aws_endpoint={aws}", f"-var=api_endpoint={api}"],
    ) as deployment:
        yield deployment


def role_policy(deployed) -> dict:
    iam = local_client("iam", deployed["endpoint"])
    role = deployed["outputs"]["role_name"]
    names = iam.list_role_policies(RoleName=role)["PolicyNames"]
    assert names == ["ingest"]
    document = iam.get_role_policy(RoleName=role, PolicyName="ingest")["PolicyDocument"]
    return json.loads(document) if isinstance(document, str) else document


def as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def test_role_policy_read_back_is_least_privilege(deployed):
    out = deployed["outputs"]
    everything = role_policy(deployed)["Statement"]
    by_sid = {s["Sid"]: s for s in everything}
    # the one deny: S3 outside the own prefix, whatever another policy grants
    (deny,) = [s for s in everything if s["Effect"] == "Deny"]
    assert deny["Sid"] == "DenyS3OutsideOwnPrefix" and deny["Action"] == "s3:*"
    assert deny["NotResource"] == f"{out['bucket_arn']}/{out['raw_prefix']}/*"
    statements = [s for s in everything if s["Effect"] == "Allow"]
    actions = [a for s in statements for a in as_list(s["Action"])]
    assert not [a for a in actions if "*" in a], "no wildcard actions"
    assert "logs:CreateLogGroup" not in actions
    assert [s["Sid"] for s in statements if "*" in as_list(s["Resource"])] == ["XRayTraces"]
    for sid in ("WriteOwnPrefixOnly", "ReadOwnManifestsAndStateOnly"):
        assert by_sid[sid]["Condition"] == {"StringEquals": {"aws:ResourceAccount": "123456789012"}}
    assert sorted(as_list(by_sid["WriteOwnPrefixOnly"]["Action"])) == [
        "s3:AbortMultipartUpload",
        "s3:PutObject",
    ]
    assert as_list(by_sid["WriteOwnPrefixOnly"]["Resource"]) == [f"{out['bucket_arn']}/{out['raw_prefix']}/*"]
    assert by_sid["ReadOwnManifestsAndStateOnly"]["Action"] == "s3:GetObject"
    assert sorted(as_list(by_sid["ReadOwnManifestsAndStateOnly"]["Resource"])) == [
        f"{out['bucket_arn']}/{out['raw_prefix']}/_state/cursor.json",
        f"{out['bucket_arn']}/{out['raw_prefix']}/_state/schema.json",
        f"{out['bucket_arn']}/{out['raw_prefix']}/ingest_date=*/run_id=*/_manifest.json",
    ]
    assert by_sid["ReadOwnSecretOnly"]["Resource"] == out["secret_arn"]
    assert by_sid["DeadLetterOwnQueueOnly"]["Resource"] == out["dlq_arn"]
    kms = [s for s in statements if any(a.startswith("kms:") for a in as_list(s["Action"]))]
    assert {s["Sid"] for s in kms} == {
        "UseKeyViaS3",
        "UseKeyViaSecretsManager",
        "UseKeyViaSQS",
        "UseKeyViaLambdaEnvironment",
    }
    for statement in kms:
        assert statement["Resource"] == out["kms_key_arn"]
        assert set(as_list(statement["Action"])) <= {"kms:GenerateDataKey", "kms:Decrypt"}
        via = statement["Condition"]["StringEquals"]["kms:ViaService"]
        assert via.endswith(".us-east-1.amazonaws.com")
        contexts = [
            k for op in statement["Condition"].values() for k in op if k.startswith("kms:EncryptionContext:")
        ]
        # S3 and Secrets Manager document their encryption contexts; SQS and Lambda document none
        assert contexts == {
            "UseKeyViaS3": ["kms:EncryptionContext:aws:s3:arn"],
            "UseKeyViaSecretsManager": ["kms:EncryptionContext:SecretARN"],
        }.get(statement["Sid"], [])


def test_no_managed_policies_and_trust_requires_source_account(deployed):
    iam = local_client("iam", deployed["endpoint"])
    role = deployed["outputs"]["role_name"]
    assert iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"] == []
    trust = iam.get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"]
    trust = json.loads(trust) if isinstance(trust, str) else trust
    (statement,) = trust["Statement"]
    assert statement["Sid"] == "LambdaOfThisAccountOnly"
    assert statement["Principal"] == {"Service": "lambda.amazonaws.com"}
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}
    # no role_permissions_boundary and no role_path given: no boundary, the root path
    for name in (role, f"{role}-scheduler"):  # the function's role and the scheduler's (rate(1 hour))
        held = iam.get_role(RoleName=name)["Role"]
        assert held["Path"] == "/" and "PermissionsBoundary" not in held, held


def test_key_bucket_and_function_read_back(deployed):
    out, endpoint = deployed["outputs"], deployed["endpoint"]
    kms = local_client("kms", endpoint)
    assert kms.get_key_rotation_status(KeyId=out["kms_key_arn"])["KeyRotationEnabled"] is True
    key_policy = json.loads(kms.get_key_policy(KeyId=out["kms_key_arn"], PolicyName="default")["Policy"])
    principals = [s["Principal"] for s in key_policy["Statement"]]
    # The role is granted through IAM (its policy's ViaService conditions), never in the key policy.
    assert {"AWS": out["role_arn"]} not in principals
    assert {"AWS": "arn:aws:iam::123456789012:root"} in principals
    assert {"Service": "logs.us-east-1.amazonaws.com"} in principals

    s3 = local_client("s3", endpoint)
    bucket = out["bucket_name"]
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    (rule,) = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rule["ApplyServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "aws:kms",
        "KMSMasterKeyID": out["kms_key_arn"],
    }
    assert rule["BucketKeyEnabled"] is True
    assert all(s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"].values())
    policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    assert any(
        s["Condition"].get("Bool", {}).get("aws:SecureTransport") == "false" for s in policy["Statement"]
    )

    function = local_client("lambda", endpoint).get_function_configuration(FunctionName=out["function_name"])
    assert function["Architectures"] == ["arm64"] and function["Runtime"] == "python3.12"
    assert function["TracingConfig"] == {"Mode": "Active"}
    assert function["LoggingConfig"]["LogGroup"] == out["log_group_name"]
    variables = function["Environment"]["Variables"]
    assert variables["SECRET_ARN"] == out["secret_arn"]
    assert variables["RAW_BUCKET_OWNER"] == "123456789012"
    assert variables["ALLOW_HTTP_LOOPBACK"] == "true"  # examples/local opts in: its sample API is http


def test_the_applied_policies_pass_the_evaluation_matrix(deployed):
    """The same matrix as tests/test_policy_matrix.py, on a source with its own lake: one scheduled
    bearer-token source without `orchestration`, read by its own reader policy (the source's
    reader_policy_json), so the cases that need a second source, a state machine, a rotating refresh token,
    a source the reader was not given or a push source are left out, and so is the check that every
    statement is exercised."""
    out = deployed["outputs"]
    lake = {k: out[k] for k in ("bucket_name", "kms_key_arn")} | {"alarm_topic_arn": out["sns_topic_arn"]}
    ((source_id, source),) = out["sources"].items()
    lake |= {
        "glue_database": source["glue_database"],
        "athena_workgroup": out["function_name"],  # an own lake is named as the function
        "readers": [source_id],
        "reader_policy_json": out["reader_policy_json"],
    }
    deployment = read_deployment(deployed["endpoint"], lake, out["sources"])
    assert deployment.reader_policy is not None and deployment.unread is None
    report = evaluate(deployment)
    assert not report.failures, describe(report)
    assert len(report.outcomes) == len(load_cases()) - report.left_out
    absent = {"other", "orchestration", "backfill", "rotates", "unread", "push"}  # bearer, pull
    assert report.left_out == sum(1 for c in load_cases() if absent & set(c.needs))
    assert any(o.case.who == "reader" for o in report.outcomes)


def test_deployed_code_ingests_and_state_holds_no_secret(deployed):
    out, endpoint, token = deployed["outputs"], deployed["endpoint"], deployed["token"]
    local_client("secretsmanager", endpoint).put_secret_value(
        SecretId=out["secret_arn"], SecretString=json.dumps({"api_key": token})
    )
    run = invoke(
        out["function_name"], endpoint, {"run_id": "e2e-1", "scheduled_time": "2026-11-23T06:00:00Z"}
    )
    assert run.error is None, run.logs
    assert run.result["status"] == "SUCCESS" and run.result["records_ingested"] == 150
    assert run.result["pages"] == 3 and run.result["complete"] is True
    assert "lake-ingest-run-" in run.module_file  # the deployed zip's code ran, not this checkout's
    assert token not in run.logs
    s3 = local_client("s3", endpoint)
    for key in [*run.result["objects"], run.result["manifest"]]:
        assert key.startswith(f"{out['raw_prefix']}/ingest_date=2026-11-23/run_id=e2e-1/")
        head = s3.head_object(Bucket=out["bucket_name"], Key=key)
        assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == out["kms_key_arn"]
    state = Path(deployed["state"]).read_text()
    assert out["secret_arn"] in state  # the state is the real one...
    assert token not in state  # ...and it never saw the value


def test_the_deployed_runs_records_are_queried_with_the_modules_source_file(
    deployed, tmp_path, capsys, monkeypatch
):
    """RECORDS_CONFIG as the module sets it, the records the deployed code wrote, the query command
    reading them with the source file the module outputs: every record of the run, once."""
    out, endpoint = deployed["outputs"], deployed["endpoint"]
    for name, value in (
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_DEFAULT_REGION", "us-east-1"),
    ):
        monkeypatch.setenv(name, value)
    config = tmp_path / "source.json"
    config.write_text(out["source_json"])
    local_client("secretsmanager", endpoint).put_secret_value(
        SecretId=out["secret_arn"], SecretString=json.dumps({"api_key": deployed["token"]})
    )
    # a cursor source: start it over, so that this run reads every record again
    assert main(["state", "reset", "--config", str(config), "--endpoint-url", endpoint]) == 0, (
        capsys.readouterr()
    )
    run = invoke(
        out["function_name"], endpoint, {"run_id": "e2e-q", "scheduled_time": "2026-11-24T06:00:00Z"}
    )
    assert run.error is None and run.result["published"]["pages"] == 3, run.logs
    capsys.readouterr()
    args = ["query", "--config", str(config), "--endpoint-url", endpoint, "--json", "--named", "complete"]
    assert main([*args, "--where", "ingest_date = '2026-11-24'"]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    assert len(rows) == run.result["records_ingested"] == 150
    assert_projection_finds(deployed, run.result, "2026-11-24")
    assert main([*args[:-1], "latest", "--where", "ingest_date = '2026-11-24'"]) == 0
    latest = json.loads(capsys.readouterr().out)["rows"]
    assert sorted(r["id"] for r in latest) == sorted({r["id"] for r in latest}) and len(latest) == 150
    assert main([*args[:-1], "runs"]) == 0
    runs = {r["run_id"]: r for r in json.loads(capsys.readouterr().out)["rows"]}
    assert (runs["e2e-q"]["pages"], runs["e2e-q"]["records"]) == (3, 150)
    assert len({(r["page"], r["record_index"]) for r in rows}) == 150 and {r["run_id"] for r in rows} == {
        "e2e-q"
    }
    look = ["--config", str(config), "--endpoint-url", endpoint]
    assert main(["runs", *look, "--json"]) == 0
    listed = {r["run_id"]: r for r in json.loads(capsys.readouterr().out)["runs"]}
    assert (listed["e2e-q"]["pages"], listed["e2e-q"]["records"]) == (3, 150)
    assert main(["records", *look, "--run-id", "e2e-q"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 150 and len({json.loads(line)["id"] for line in lines}) == 150
    assert main(["alarms", *look, "--json"]) == 0
    alarms = json.loads(capsys.readouterr().out)
    names = {a["alarm"] for a in alarms["alarms"]}
    assert (
        names == set(json.loads(out["source_json"])["alarm_names"])
        and len(names) >= 9
        and not alarms["missing"]
    )


def assert_projection_finds(deployed, result, day: str) -> None:
    """Evaluate each table's partition projection, as read back from the catalog, for `day`: the
    partition's location must hold exactly the objects the run listed (records) or wrote (published)."""
    out, endpoint = deployed["outputs"], deployed["endpoint"]
    glue, s3 = local_client("glue", endpoint), local_client("s3", endpoint)
    manifest = json.loads(s3.get_object(Bucket=out["bucket_name"], Key=result["manifest"])["Body"].read())
    expected = {
        "records": sorted(p["records_object"]["key"] for p in manifest["pages"] if "records_object" in p),
        "published": [result["published"]["key"]],
    }
    for kind, name in out["glue_tables"].items():
        parameters = glue.get_table(DatabaseName=out["glue_database"], Name=name)["Table"]["Parameters"]
        assert parameters["projection.ingest_date.format"] == "yyyy-MM-dd" and len(day) == 10
        low, high = parameters["projection.ingest_date.range"].split(",")
        assert low.strip().startswith("NOW-") and high.strip().startswith("NOW+")  # 2026-11-24 lies within
        location = parameters["storage.location.template"].replace("${ingest_date}", day)
        bucket, prefix = location.removeprefix("s3://").split("/", 1)
        assert bucket == out["bucket_name"] and prefix.endswith("/")
        listed = s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
        keys = sorted(o["Key"] for o in listed if "/run_id=e2e-q" in o["Key"])
        assert keys == expected[kind], kind
        # what Athena would read: no hidden names, gzip by its extension
        assert all(not k.rsplit("/", 1)[1].startswith(("_", ".")) for k in keys)
        assert all(k.endswith(".ndjson.gz") for k in keys) if kind == "records" else True


def test_the_named_queries_are_the_ones_the_query_command_runs(deployed, tmp_path):
    """Terraform's templatefile() and the query command's string.Template fill the same files alike."""
    out = deployed["outputs"]
    catalog = LocalCatalog(json.loads(out["source_json"]), tmp_path)
    athena = local_client("athena", deployed["endpoint"])
    for name, query_id in out["named_queries"].items():
        stored = athena.get_named_query(NamedQueryId=query_id)["NamedQuery"]["QueryString"]
        assert stored == catalog.documented(name.rsplit("-", 1)[1]), name
    # docs/querying.md prints the demo's latest query (examples/local is the demo's source)
    page = (Path(__file__).resolve().parent.parent / "docs" / "querying.md").read_text()
    shown = page.split("`latest`, as the module renders it for the demo's source:")[1]
    assert shown.split("```sql\n", 1)[1].split("```", 1)[0] == catalog.documented("latest")


def test_second_plan_shows_no_changes(deployed):
    plan = deployed["terraform"](
        "plan", "-detailed-exitcode", "-no-color", *deployed["variables"], check=False
    )
    assert plan.returncode == 0, plan.stdout[-4000:] + plan.stderr[-2000:]


def test_the_catalog_of_the_own_lake_reads_back(deployed):
    out, endpoint = deployed["outputs"], deployed["endpoint"]
    glue, athena = local_client("glue", endpoint), local_client("athena", endpoint)
    database = out["glue_database"]
    assert database == out["function_name"].replace("-", "_")
    assert glue.get_database(Name=database)["Database"]["Name"] == database
    assert sorted(t["Name"] for t in glue.get_tables(DatabaseName=database)["TableList"]) == sorted(
        out["glue_tables"].values()
    )
    columns = glue.get_table(DatabaseName=database, Name=out["glue_tables"]["records"])["Table"][
        "StorageDescriptor"
    ]["Columns"]
    # examples/local is a timestamp-cursor source: cursor_value is a timestamp column
    assert [(c["Name"], c["Type"]) for c in columns][-6:] == [
        ("record", "string"),
        ("cursor_value", "timestamp"),
        ("amount_cents", "bigint"),  # examples/local's table.columns (a map: in key order)
        ("currency", "string"),
        ("id", "bigint"),
        ("updated_at", "timestamp"),
    ]
    workgroup = athena.get_work_group(WorkGroup=out["function_name"])["WorkGroup"]["Configuration"]
    assert workgroup["ResultConfiguration"]["OutputLocation"] == f"s3://{out['bucket_name']}/_athena/"
    assert set(out["named_queries"]) == {
        f"{out['function_name'].removeprefix('lake-ingest-')}-{q}" for q in ("complete", "latest", "runs")
    }
    for query_id in out["named_queries"].values():
        assert (
            athena.get_named_query(NamedQueryId=query_id)["NamedQuery"]["WorkGroup"] == out["function_name"]
        )
