"""examples/multi-source applied to the local AWS: one shared lake, four sources, policies read back.

Each source's role must be confined to its own prefix and its own secret, the shared bucket must
confine every tagged source role again, one source's deployed code must land data in the shared
lake, every identity policy the module rendered must pass parliament and cloudsplaining, the lake's
Glue database, each source's two tables, the Athena workgroup and the named queries must read back as
configured, and a second plan must show no changes.
"""

from __future__ import annotations

import json
import subprocess

import pytest
from scripts.harness import ROOT, local_client
from scripts.run_deployed import invoke

pytestmark = [pytest.mark.terraform, pytest.mark.slow]

IAMLINT_PYTHON = ROOT / ".venv-iamlint" / "bin" / "python"


@pytest.fixture(scope="module")
def lake(multi_source):
    return multi_source


def inline_policy(iam, role: str) -> dict:
    (name,) = iam.list_role_policies(RoleName=role)["PolicyNames"]
    document = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
    return json.loads(document) if isinstance(document, str) else document


def resources_of(policy: dict, action: str) -> set[str]:
    found: set[str] = set()
    for statement in policy["Statement"]:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        if action in actions:
            resource = statement["Resource"]
            found.update(resource if isinstance(resource, list) else [resource])
    return found


def test_four_sources_share_one_bucket_and_key(lake):
    out = lake["outputs"]
    assert set(out["sources"]) == {"orders", "customers", "invoices", "events"}
    functions = local_client("lambda", lake["endpoint"])
    for source in out["sources"].values():
        variables = functions.get_function_configuration(FunctionName=source["function_name"])["Environment"][
            "Variables"
        ]
        assert variables["RAW_BUCKET"] == out["lake"]["bucket_name"]
        assert variables["KMS_KEY_ARN"] == out["lake"]["kms_key_arn"]
    assert out["sources"]["invoices"]["raw_prefix"] == "billing/invoices"


def test_every_role_has_the_platforms_path_and_permissions_boundary(lake):
    """role_permissions_boundary and role_path, as the local AWS holds every role of every source."""
    out, iam = lake["outputs"], local_client("iam", lake["endpoint"])
    arns = [
        arn
        for source in out["sources"].values()
        for arn in [
            source["role_arn"],
            source["scheduler_role_arn"],
            *(source.get("state_machine_role_arns") or {}).values(),
        ]
        if arn
    ]
    # four function roles, three scheduler roles (invoices has no schedule), events' two machine roles
    assert len(arns) == 4 + 3 + 2
    (boundary,) = [
        p["Arn"]
        for p in iam.list_policies(Scope="Local")["Policies"]
        if p["PolicyName"] == "acme-lake-ingest-boundary"
    ]
    assert boundary.endswith(":policy/platform/acme-lake-ingest-boundary")
    for arn in arns:
        held = iam.get_role(RoleName=arn.rsplit("/", 1)[1])["Role"]
        assert held["Path"] == "/platform/lake-ingest/", arn
        assert ":role/platform/lake-ingest/" in held["Arn"] and held["Arn"] == arn
        assert held["PermissionsBoundary"] == {
            "PermissionsBoundaryType": "PermissionsBoundaryPolicy",
            "PermissionsBoundaryArn": boundary,
        }, arn


def test_each_role_is_confined_to_its_own_prefix_and_secret(lake):
    out, iam = lake["outputs"], local_client("iam", lake["endpoint"])
    bucket_arn = out["lake"]["bucket_arn"]
    secrets_by_source = {sid: s["secret_arn"] for sid, s in out["sources"].items()}
    for source_id, source in out["sources"].items():
        policy = inline_policy(iam, source["role_name"])
        policy = {"Statement": [s for s in policy["Statement"] if s["Effect"] == "Allow"]}
        prefix = source["raw_prefix"]
        assert resources_of(policy, "s3:PutObject") == {f"{bucket_arn}/{prefix}/*"}
        assert resources_of(policy, "s3:GetObject") == {
            f"{bucket_arn}/{prefix}/ingest_date=*/run_id=*/_manifest.json",
            f"{bucket_arn}/{prefix}/_state/cursor.json",
            f"{bucket_arn}/{prefix}/_state/schema.json",  # the records zone's schema drift state
            # events signs in with a rotating OAuth2 refresh token: it reads back its refresh lease
            *(
                [
                    f"{bucket_arn}/{prefix}/_state/oauth2-refresh.lock",
                    f"{bucket_arn}/{prefix}/_state/oauth2-tokens.json",
                ]
                if source_id == "events"
                else []
            ),
        }
        assert resources_of(policy, "secretsmanager:GetSecretValue") == {secrets_by_source[source_id]}
        # ...and only events may write a new version of its secret (its rotated refresh token)
        writes = resources_of(policy, "secretsmanager:PutSecretValue")
        assert writes == ({secrets_by_source[source_id]} if source_id == "events" else set())
        others = [p for sid, p in out["sources"].items() if sid != source_id]
        rendered = json.dumps(policy)
        for other in others:
            assert other["secret_arn"] not in rendered
            assert f"{bucket_arn}/{other['raw_prefix']}/" not in rendered
        tags = {t["Key"]: t["Value"] for t in iam.list_role_tags(RoleName=source["role_name"])["Tags"]}
        assert tags["lake-ingest:raw-prefix"] == prefix and tags["lake-ingest:source-id"] == source_id
        # ...and the secret itself turns away every other source's role.
        secret_policy = json.loads(
            local_client("secretsmanager", lake["endpoint"]).get_resource_policy(
                SecretId=source["secret_arn"]
            )["ResourcePolicy"]
        )
        (deny,) = secret_policy["Statement"]
        assert deny["Effect"] == "Deny" and deny["Action"] == "secretsmanager:*"
        assert deny["Condition"]["StringNotEquals"] == {"aws:PrincipalTag/lake-ingest:source-id": source_id}


def test_the_shared_bucket_confines_every_registered_source(lake):
    out = lake["outputs"]
    s3 = local_client("s3", lake["endpoint"])
    policy = json.loads(s3.get_bucket_policy(Bucket=out["lake"]["bucket_name"])["Policy"])
    by_sid = {s["Sid"]: s for s in policy["Statement"]}
    for source_id, source in out["sources"].items():
        guard = by_sid[f"OnlyOwnPrefix{source_id}"]
        assert guard["Effect"] == "Deny" and guard["Action"] == "s3:*"
        assert guard["NotResource"] == f"{out['lake']['bucket_arn']}/{source['raw_prefix']}/*"
        assert guard["Condition"] == {"StringEquals": {"aws:PrincipalTag/lake-ingest:source-id": source_id}}
    stranger = by_sid["UnregisteredSourcesNoAccess"]
    assert stranger["Condition"]["StringNotEquals"] == {
        "aws:PrincipalTag/lake-ingest:source-id": sorted(out["sources"])
    }
    assert "${" not in json.dumps(policy), (
        "no policy variables: IAM documents them only in Resource/Condition"
    )
    key_policy = json.loads(
        local_client("kms", lake["endpoint"]).get_key_policy(
            KeyId=out["lake"]["kms_key_arn"], PolicyName="default"
        )["Policy"]
    )
    assert not [s for s in key_policy["Statement"] if "role/" in json.dumps(s.get("Principal"))]


def test_one_source_lands_data_in_the_shared_lake(lake):
    out, endpoint = lake["outputs"], lake["endpoint"]
    orders = out["sources"]["orders"]
    local_client("secretsmanager", endpoint).put_secret_value(
        SecretId=orders["secret_arn"], SecretString=json.dumps({"api_key": lake["token"]})
    )
    run = invoke(orders["function_name"], endpoint, {"run_id": "shared-1", "partition_date": "2026-11-23"})
    assert run.error is None, run.logs
    assert run.result["status"] == "SUCCESS" and run.result["records_ingested"] == 150
    s3 = local_client("s3", endpoint)
    for key in [*run.result["objects"], run.result["manifest"]]:
        assert key.startswith("orders/ingest_date=2026-11-23/run_id=shared-1/")
        head = s3.head_object(Bucket=out["lake"]["bucket_name"], Key=key)
        assert head["SSEKMSKeyId"] == out["lake"]["kms_key_arn"]


def test_every_rendered_identity_policy_passes_parliament_and_cloudsplaining(lake):
    if not IAMLINT_PYTHON.exists():
        pytest.fail(
            "the IAM linters' virtual environment is missing: run `make py-test` (it builds .venv-iamlint)"
        )
    identity = {
        f"{source_id}.{name}": document
        for source_id, source in lake["outputs"]["sources"].items()
        for name, document in source["policies"]["identity"].items()
    }
    # four function roles, three scheduler roles (invoices has no schedule), events' two machine roles,
    # its backfill operator's policy and each source's reader policy; and the lake's reader policy
    identity["lake.reader"] = lake["outputs"]["lake"]["reader_policy_json"]
    assert len(identity) == 15
    policies_file = lake["workdir"] / "identity-policies.json"
    policies_file.write_text(json.dumps(identity))
    lint = subprocess.run(
        [str(IAMLINT_PYTHON), str(ROOT / "scripts" / "iam_lint.py"), str(policies_file)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr
    assert "15 identity policies linted" in lint.stdout and "0 finding(s)" in lint.stdout


def test_the_iam_gate_fails_on_a_broad_policy(tmp_path):
    if not IAMLINT_PYTHON.exists():
        pytest.fail(
            "the IAM linters' virtual environment is missing: run `make py-test` (it builds .venv-iamlint)"
        )
    broad = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}],
    }
    policies_file = tmp_path / "broad.json"
    policies_file.write_text(json.dumps({"broad": broad}))
    lint = subprocess.run(
        [str(IAMLINT_PYTHON), str(ROOT / "scripts" / "iam_lint.py"), str(policies_file)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert lint.returncode == 1
    assert "RESOURCE_STAR" in lint.stdout and "allows_data_exfiltration_actions" in lint.stdout


def test_the_catalog_reads_back_as_configured(lake):
    out, endpoint = lake["outputs"], lake["endpoint"]
    glue, athena = local_client("glue", endpoint), local_client("athena", endpoint)
    database = out["lake"]["glue_database"]
    assert database == "acme_raw" and glue.get_database(Name=database)["Database"]["Name"] == database
    bucket = out["lake"]["bucket_name"]
    for source_id, source in out["sources"].items():
        name = source_id.replace("-", "_")
        assert source["glue_database"] == database
        assert source["glue_tables"] == {"records": name, "published": f"{name}_published"}
        for zone, table_name in (("records", name), ("published", f"{name}_published")):
            table = glue.get_table(DatabaseName=database, Name=table_name)["Table"]
            location = f"s3://{bucket}/{source['raw_prefix']}/{zone}/"
            assert table["TableType"] == "EXTERNAL_TABLE"
            assert table["StorageDescriptor"]["Location"] == location
            serde = table["StorageDescriptor"]["SerdeInfo"]["SerializationLibrary"]
            assert serde == "org.apache.hive.hcatalog.data.JsonSerDe"
            assert [(k["Name"], k["Type"]) for k in table["PartitionKeys"]] == [("ingest_date", "string")]
            assert (
                table["Parameters"]["storage.location.template"] == location + "ingest_date=${ingest_date}/"
            )
            assert table["Parameters"]["projection.ingest_date.range"] == "NOW-10YEARS,NOW+1DAYS"
        columns = glue.get_table(DatabaseName=database, Name=name)["Table"]["StorageDescriptor"]["Columns"]
        # no source of the example keeps a cursor: the fixed columns only
        assert [c["Name"] for c in columns] == [
            "run_id",
            "attempt",
            "page",
            "record_index",
            "ingested_at",
            "record",
        ]
    workgroup = athena.get_work_group(WorkGroup=out["lake"]["athena_workgroup"])["WorkGroup"]
    assert workgroup["Name"] == "acme-raw" and workgroup["State"] == "ENABLED"
    configuration = workgroup["Configuration"]
    assert configuration["EnforceWorkGroupConfiguration"] is True
    assert configuration["PublishCloudWatchMetricsEnabled"] is True
    assert configuration["BytesScannedCutoffPerQuery"] == 10737418240
    results = configuration["ResultConfiguration"]
    assert results["OutputLocation"] == f"s3://{bucket}/_athena/" == out["lake"]["athena_results"]
    assert results["EncryptionConfiguration"] == {
        "EncryptionOption": "SSE_KMS",
        "KmsKey": out["lake"]["kms_key_arn"],
    }
    ids = athena.list_named_queries(WorkGroup="acme-raw")["NamedQueryIds"]
    # (moto has no BatchGetNamedQuery; the provider uses GetNamedQuery too)
    queries = {q["Name"]: q for q in (athena.get_named_query(NamedQueryId=i)["NamedQuery"] for i in ids)}
    # no source declares a primary key: complete and runs for each, no latest
    assert set(queries) == {f"{s}-{q}" for s in out["sources"] for q in ("complete", "runs")}
    for source_id, source in out["sources"].items():
        assert source["named_queries"] == {
            f"{source_id}-{q}": queries[f"{source_id}-{q}"]["NamedQueryId"] for q in ("complete", "runs")
        }
        complete = queries[f"{source_id}-complete"]
        assert complete["Database"] == database and complete["WorkGroup"] == "acme-raw"
        assert f'FROM "acme_raw"."{source_id}" AS r' in complete["QueryString"]


def test_the_lake_reader_policy_covers_the_readers_only(lake):
    out = lake["outputs"]
    policy = json.loads(out["lake"]["reader_policy_json"])
    assert out["lake"]["readers"] == ["orders", "customers", "events"]
    rendered = json.dumps(policy)
    assert "billing/invoices" not in rendered and "acme_raw/invoices" not in rendered
    for source_id in out["lake"]["readers"]:
        assert f"table/acme_raw/{source_id}_published" in rendered
        assert f"{out['lake']['bucket_arn']}/{out['sources'][source_id]['raw_prefix']}/records/*" in rendered
    functions = local_client("lambda", lake["endpoint"])
    for source in out["sources"].values():
        variables = functions.get_function_configuration(FunctionName=source["function_name"])["Environment"][
            "Variables"
        ]
        assert json.loads(variables["RECORDS_CONFIG"]) == {
            "enabled": True,
            "columns": {},
            "primary_key": [],
            "on_schema_change": "alarm",
        }


def test_a_second_plan_shows_no_changes(lake):
    plan = lake["terraform"]("plan", "-detailed-exitcode", "-no-color", *lake["variables"], check=False)
    assert plan.returncode == 0, plan.stdout[-4000:] + plan.stderr[-2000:]
