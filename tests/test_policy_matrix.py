"""The policy evaluation matrix against examples/multi-source and examples/push as applied to the local AWS.

moto evaluates no IAM policy: these tests are what proves the policies on AWS's terms. The policies are
read back from the local AWS (what the real provider rendered and sent), each request of
tests/policy/matrix.toml is evaluated offline with an IAM simulator, and a deliberately broken policy
must make the matrix fail.
"""

from __future__ import annotations

import copy
import fnmatch
from collections.abc import Callable
from typing import Any

import pytest
from scripts import local_aws
from scripts.policy_matrix import (
    MATRIX_DOC,
    MATRIX_SUBJECT,
    Deployment,
    describe,
    evaluate,
    load_cases,
    read_deployment,
    readme_section,
    readme_table,
    with_statement,
)

pytestmark = [pytest.mark.terraform, pytest.mark.slow]


@pytest.fixture(scope="module")
def deployment(multi_source) -> Deployment:
    out = multi_source["outputs"]
    return read_deployment(multi_source["endpoint"], out["lake"], out["sources"])


@pytest.fixture(scope="module")
def report(deployment):
    return evaluate(deployment)


def failing_titles(report) -> set[str]:
    return {o.case.title for o in report.failures}


def test_every_request_reaches_the_decision_aws_must_reach(report, deployment):
    assert not report.failures, describe(report)
    cases = load_cases()
    # every case for every source, except what a source cannot have (a schedule, state machines)
    sources = deployment.sources.values()
    scheduled = [s for s in sources if s.scheduler_policy is not None]
    assert len(report.outcomes) + report.left_out == len(cases) * len(deployment.sources)
    assert len(scheduled) == 3 and sorted(deployment.sources["events"].machine_policies) == [
        "backfill",
        "run",
    ]
    assert report.left_out == sum(1 for s in sources for c in cases if not all(s.has(n) for n in c.needs))
    # the orchestrated OAuth2 source takes every case but those for sources without a run state machine
    # or without a rotating refresh token; the others none of the refresh token's
    events = [o for o in report.outcomes if o.subject == "events"]
    assert deployment.sources["events"].auth_type == "oauth2_refresh_token"
    not_for_events = {"unorchestrated", "not_rotating", "push", "replay"}
    assert len(events) == len(cases) - sum(1 for c in cases if not_for_events & set(c.needs))
    assert not [o for o in report.outcomes if o.subject != "events" and "rotates" in o.case.needs]
    # no push source here: the push cases are left out, every pull case (its secret) is evaluated
    assert not [o for o in report.outcomes if o.case.group == "push" or "push" in o.case.needs]
    assert {o.case.number for o in report.outcomes if "pull" in o.case.needs} == {
        c.number for c in cases if "pull" in c.needs
    }
    decisions = {o.decision for o in report.outcomes}
    assert decisions == {"Allowed", "ImplicitlyDenied", "ExplicitlyDenied"}
    # the lake's reader policy: evaluated for each of its reader_sources, against invoices' data (not one)
    assert deployment.unread == "invoices" and not deployment.sources["invoices"].reader
    assert {o.subject for o in report.outcomes if o.case.who == "reader"} == {"orders", "customers", "events"}


ROLE_KINDS = {
    "source": "function",
    "scheduler": "scheduler",
    "run_machine": "run",
    "backfill_machine": "backfill",
}


def test_every_role_is_evaluated_with_its_permissions_boundary(report, deployment):
    """The boundary is read back from each role as the local AWS holds it (not from the configuration):
    a module that did not apply role_permissions_boundary would leave these empty."""
    kinds = {sid: sorted(s.boundaries) for sid, s in deployment.sources.items()}
    assert kinds == {
        "orders": ["function", "scheduler"],
        "customers": ["function", "scheduler"],
        "invoices": ["function"],
        "events": ["backfill", "function", "run", "scheduler"],
    }
    names = {p.name for s in deployment.sources.values() for p in s.boundaries.values()}
    assert names == {"boundary:acme-lake-ingest-boundary"}
    role_requests = [o for o in report.outcomes if o.case.who.removesuffix("+admin") in ROLE_KINDS]
    # every request made as one of the module's roles passed through that role's boundary
    assert role_requests and all(
        any(m.startswith("boundary:") for m in o.matched) or o.decision != "Allowed" for o in role_requests
    )
    allowed_through = [o for o in role_requests if o.decision == "Allowed"]
    assert len(allowed_through) >= 40 and all(
        "boundary:acme-lake-ingest-boundary#ServicesLakeIngestUses" in o.matched for o in allowed_through
    )


def with_boundary(deployment: Deployment, change: Callable[[dict[str, Any]], None]) -> Deployment:
    """A copy of the deployment whose roles' boundary documents are changed in place by `change`."""
    changed = copy.deepcopy(deployment)
    for source in changed.sources.values():
        for policy in source.boundaries.values():
            change(policy.document)
    return changed


def deny(action: str) -> Callable[[dict[str, Any]], None]:
    def change(document: dict[str, Any]) -> None:
        document["Statement"].append({"Sid": "Tighter", "Effect": "Deny", "Action": action, "Resource": "*"})

    return change


def without(service: str) -> Callable[[dict[str, Any]], None]:
    def change(document: dict[str, Any]) -> None:
        for statement in document["Statement"]:
            if statement["Effect"] == "Allow":
                statement["Action"] = [a for a in statement["Action"] if not a.startswith(f"{service}:")]

    return change


@pytest.mark.parametrize(
    ("change", "action", "decision"),
    [
        (deny("s3:PutObject"), "s3:PutObject", "ExplicitlyDenied"),
        (without("secretsmanager"), "secretsmanager:", "ImplicitlyDenied"),
        (without("kms"), "kms:", "ImplicitlyDenied"),
        (without("states"), "states:", "ImplicitlyDenied"),
    ],
    ids=["deny-s3-put", "no-secretsmanager", "no-kms", "no-states"],
)
def test_a_boundary_that_denies_what_the_roles_need_fails_their_allow_cases(
    report, deployment, change, action, decision
):
    """Proof the boundary is applied and evaluated: take from it what the handler (or the scheduler, or a
    state machine) needs, and exactly the module roles' allow cases for that action fail."""
    broken = evaluate(with_boundary(deployment, change))
    needed = {
        (o.subject, o.case.number)
        for o in report.outcomes
        if o.case.who in ROLE_KINDS and o.case.expect == "Allowed" and o.case.action.startswith(action)
    }
    assert needed, action
    failed = {(o.subject, o.case.number) for o in broken.failures}
    assert failed == needed, describe(broken)
    assert {o.decision for o in broken.failures} == {decision}


def test_every_statement_of_every_policy_is_exercised(report, deployment):
    assert not report.uncovered, describe(report)
    # lake (bucket, key, topic, and its reader policy); per source; per scheduled source; the run and
    # backfill machines' roles (policy and trust); the backfill operator's policy (the module's output)
    assert len(deployment.policies()) == 4 + 4 * 4 + 3 * 3 + 2 * 2 + 1


def test_the_security_page_shows_this_matrix(report, push_report):
    table = readme_table({"multi-source": report, "push": push_report}, MATRIX_SUBJECT)
    assert readme_section(MATRIX_DOC.read_text()) == table, (
        "the policy matrix in docs/security.md is stale: run `make policy-matrix`"
    )


def test_the_bucket_shim_skips_only_statements_the_matrix_decides(report, deployment):
    exercised = {m for o in report.outcomes for m in o.matched}
    skipped = [
        s for s in deployment.bucket_policy.document["Statement"] if local_aws.skipped_by_bucket_shim(s)
    ]
    assert {s["Sid"] for s in skipped} == {
        s["Sid"] for s in deployment.bucket_policy.document["Statement"] if s.get("Condition")
    }
    for statement in skipped:
        assert f"bucket#{statement['Sid']}" in exercised
    for pattern in local_aws.SKIPPED_BUCKET_STATEMENTS:
        assert any(fnmatch.fnmatchcase(s["Sid"], pattern) for s in skipped), pattern


def without_null_test(statement: dict[str, Any]) -> dict[str, Any]:
    """The bucket's encryption deny as it was before issue 11: no presence test."""
    statement = dict(statement)
    statement["Condition"] = {k: v for k, v in statement["Condition"].items() if k != "Null"}
    return statement


def test_the_original_encryption_deny_breaks_multipart_pages(deployment):
    broken = evaluate(with_statement(deployment, "bucket", "DenyPutsWith*", without_null_test))
    assert {
        "upload a part (UploadPart: no SSE headers)",
        "complete a multipart page (CompleteMultipartUpload: no SSE headers)",
    } <= failing_titles(broken)
    assert all(o.decision == "ExplicitlyDenied" for o in broken.failures)


@pytest.mark.parametrize(
    ("policy", "sid", "must_fail"),
    [
        (
            "bucket",
            "UnregisteredSourcesNoAccess",
            "a source role this lake does not know (with s3:*) reads an object",
        ),
        (
            "secret:customers",
            "NoOtherSourceTouchesThisSecret",
            "with secretsmanager:* granted elsewhere: read another source's secret",
        ),
        ("bucket", "DenyInsecureTransport", "put a page without TLS"),
        (
            "bucket",
            "DenyKmsPutsWithoutKeyId",
            "put a page with aws:kms and no key id (S3 would use the AWS managed aws/s3 key)",
        ),
        (
            "key",
            "CloudWatchLogsForTheSourcesLogGroupsOnly",
            "CloudWatch Logs encrypts the function's log group",
        ),
        (
            "key",
            "LogDeliveryForStateMachineLogsOnly",
            "log delivery decrypts a state machine's encrypted execution logs",
        ),
        (
            "backfill-machine-role:events",
            "DenyS3OutsideOwnBackfills",
            "with s3:* granted elsewhere, the backfill machine reads the source's own data",
        ),
        (
            "role:events",
            "RotateOwnRefreshTokenOnly",
            "oauth2_refresh_token: write the rotated refresh token to its own secret",
        ),
        (
            "backfill-machine-role:events",
            "RunOwnMapChildrenOnly",
            "the Distributed Map starts its children (executions of its own machine)",
        ),
        ("backfill-operator:events", "ListOwnBackfillsOnly", "the operator lists a backfill's item lists"),
        ("reader", "RunQueriesInTheLakeWorkgroupOnly", "the reader starts a query in the lake's workgroup"),
        (
            "reader",
            "ReadTheChosenSourcesTablesOnly",
            "the reader gets the source's records table (on the table)",
        ),
        ("reader", "WriteAndReadQueryResultsOnly", "the reader reads the query results back"),
        (
            "reader",
            "UseKeyViaS3ForTheChosenDataOnly",
            "the reader decrypts a records object through S3 (object context)",
        ),
    ],
)
def test_a_broken_policy_fails_the_matrix(deployment, policy, sid, must_fail):
    broken = evaluate(with_statement(deployment, policy, sid, remove))
    assert must_fail in failing_titles(broken), describe(broken)


def remove(statement: dict[str, Any]) -> None:
    return None


def test_each_prefix_guard_holds_alone_and_both_gone_fail(deployment):
    lake_attacks = {
        "with s3:* granted elsewhere: read another source's object",
        "with s3:* granted elsewhere: list the bucket's versions",
        "with s3:* granted elsewhere: delete another source's object",
    }
    # the lake's guard alone (the role's deny gone): only S3 outside the lake opens up
    without_role_deny = with_statement(deployment, "role:orders", "DenyS3OutsideOwnPrefix", remove)
    assert failing_titles(evaluate(without_role_deny)) == {
        "with s3:* granted elsewhere: read another bucket of the account"
    }
    # the role's deny alone (the lake's guard gone): still nothing opens up
    without_bucket_guard = with_statement(deployment, "bucket", "OnlyOwnPrefixorders", remove)
    assert not evaluate(without_bucket_guard).failures
    # both gone: the other sources' data is open to a role that some policy grants s3:*
    both = with_statement(without_bucket_guard, "role:orders", "DenyS3OutsideOwnPrefix", remove)
    assert lake_attacks <= failing_titles(evaluate(both))


def test_a_wider_grant_fails_the_matrix(deployment):
    def anywhere(statement: dict[str, Any]) -> dict[str, Any]:
        return {**statement, "Resource": "*", "Condition": {}}

    broken = evaluate(with_statement(deployment, "trust:orders", "*", anywhere))
    assert "Lambda assumes the execution role for another account" in failing_titles(broken)


def test_a_machine_trust_without_its_source_arn_fails_the_matrix(deployment):
    def any_machine(statement: dict[str, Any]) -> dict[str, Any]:
        condition = {k: v for k, v in statement["Condition"].items() if k != "ArnEquals"}
        return {**statement, "Condition": condition}

    broken = evaluate(with_statement(deployment, "run-machine-trust:events", "*", any_machine))
    assert failing_titles(broken) == {"another state machine of this account assumes the run machine's role"}


def test_the_backfill_trust_needs_both_exact_forms_and_no_wildcard(deployment):
    def machine_only(statement: dict[str, Any]) -> dict[str, Any]:
        condition = dict(statement["Condition"])
        condition["ArnEquals"] = {
            "aws:SourceArn": [a for a in _as_list(condition["ArnEquals"]["aws:SourceArn"]) if "/" not in a]
        }
        return {**statement, "Condition": condition}

    def prefixed(statement: dict[str, Any]) -> dict[str, Any]:
        condition = {k: v for k, v in statement["Condition"].items() if k != "ArnEquals"}
        machine = [a for a in _as_list(statement["Condition"]["ArnEquals"]["aws:SourceArn"]) if "/" not in a]
        return {**statement, "Condition": {**condition, "ArnLike": {"aws:SourceArn": [f"{machine[0]}*"]}}}

    # only the machine's own ARN: the labelled children (should Step Functions present them so) fail
    only = evaluate(with_statement(deployment, "backfill-machine-trust:events", "*", machine_only))
    assert failing_titles(only) == {
        "Step Functions assumes the backfill machine's role for its Distributed Map children (labelled ARN)"
    }
    # a prefix wildcard instead: look-alike machines get in
    wide = evaluate(with_statement(deployment, "backfill-machine-trust:events", "*", prefixed))
    assert failing_titles(wide) == {
        "a state machine whose name starts with the backfill machine's assumes its role",
        "the labelled children of a look-alike machine assume the backfill machine's role",
    }


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def test_a_wider_reader_policy_fails_the_matrix(deployment):
    """The reader's grants, each widened the way a hand-written policy often is: the matrix notices."""

    def whole_prefixes(statement: dict[str, Any]) -> dict[str, Any]:
        return {
            **statement,
            "Resource": [
                r.split("/records/")[0].split("/published/")[0] + "/*"
                for r in _as_list(statement["Resource"])
            ],
        }

    def any_listing(statement: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in statement.items() if k != "Condition"}

    def key_directly(statement: dict[str, Any]) -> dict[str, Any]:
        return {
            **statement,
            "Condition": {k: v for k, v in statement["Condition"].items() if k != "StringEquals"},
        }

    wide = evaluate(with_statement(deployment, "reader", "ReadTheChosenSourcesRecordsOnly", whole_prefixes))
    assert {
        "the reader reads a raw page",
        "the reader reads a run manifest",
        "the reader reads the cursor state",
        "the reader reads a backfill's item list",
    } <= failing_titles(wide)
    listing = evaluate(
        with_statement(deployment, "reader", "ListTheChosenRecordsAndResultsOnly", any_listing)
    )
    assert {
        "the reader lists the bucket without a prefix",
        "the reader lists the source's raw prefix",
        "the reader lists the records of a source it was not given",
    } <= failing_titles(listing)
    direct = evaluate(with_statement(deployment, "reader", "UseKeyViaS3ForTheChosenDataOnly", key_directly))
    assert "the reader decrypts with the key directly (not through S3)" in failing_titles(direct)


# -- push sources (examples/push: two push sources sharing one lake) --------------------------------

PUSH_SOURCES = {"stripe-events", "github-events"}


@pytest.fixture(scope="module")
def push_deployment(push_sources) -> Deployment:
    out = push_sources["outputs"]
    return read_deployment(push_sources["endpoint"], out["lake"], out["sources"])


@pytest.fixture(scope="module")
def push_report(push_deployment):
    return evaluate(push_deployment)


def test_every_push_deployment_request_reaches_its_decision(push_report, push_deployment):
    """The same matrix over two push sources: every push case for each (the other one as "other"), every
    pull case a push source can have (its writer's S3, dead letters, logs; the lake's guards), and none
    of what its writer legitimately lacks (its secret)."""
    assert not push_report.failures, describe(push_report)
    cases = load_cases()
    sources = push_deployment.sources
    assert set(sources) == PUSH_SOURCES and all(s.push is not None for s in sources.values())
    assert len(push_report.outcomes) + push_report.left_out == len(cases) * len(sources)
    push_cases = {c.number for c in cases if c.group == "push"}
    assert len(push_cases) >= 50 and all("push" in c.needs for c in cases if c.group == "push")
    evaluated = {(o.subject, o.case.number) for o in push_report.outcomes}
    assert {(s, n) for s in PUSH_SOURCES for n in push_cases} <= evaluated
    assert not [o for o in push_report.outcomes if "pull" in o.case.needs]
    assert {o.decision for o in push_report.outcomes} == {"Allowed", "ImplicitlyDenied", "ExplicitlyDenied"}
    # the ingress is a principal of its own: what it may do, its own role grants; and it carries its
    # source's tag (the other source's secret policy refuses it by that tag)
    ingress = [o for o in push_report.outcomes if o.case.who.startswith("ingress")]
    for o in ingress:
        if o.decision == "Allowed":
            assert any(m.startswith(f"ingress-role:{o.subject}#") for m in o.matched), o.case.title
    refused_by_tag = {
        o.subject for o in ingress if any(m.endswith("#NoOtherSourceTouchesThisSecret") for m in o.matched)
    }
    assert refused_by_tag == PUSH_SOURCES


def test_every_statement_of_the_push_policies_is_exercised(push_report, push_deployment):
    assert not push_report.uncovered, describe(push_report)
    # the lake (bucket, key, topic); per source: the writer's role, trust, secret and dead-letter queue,
    # and the ingress role, its trust, the ingress function's resource policy, the buffer and the push DLQ
    assert len(push_deployment.policies()) == 3 + 2 * (4 + 5)


def test_the_ingress_permission_is_read_back_as_lambda_holds_it(push_deployment):
    """Lambda turns a permission's source_arn and source_account into conditions on the statement; the
    matrix evaluates that statement, so check its shape is the one AWS documents."""
    for source_id, source in push_deployment.sources.items():
        assert source.push is not None
        (statement,) = source.push.invoke_policy.document["Statement"]
        assert statement["Sid"] == "ApiGatewayInvokesFromOwnRouteOnly"
        assert statement["Principal"] == {"Service": "apigateway.amazonaws.com"}
        assert statement["Resource"] == source.names["ingress_function_arn"]
        assert statement["Condition"] == {
            "ArnLike": {"AWS:SourceArn": f"{source.names['api_arn']}/*/POST/hooks/{source_id}"},
            "StringEquals": {"AWS:SourceAccount": push_deployment.account},
        }
        assert source.names["route_arn"] == f"{source.names['api_arn']}/$default/POST/hooks/{source_id}"


def without_condition(key: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def change(statement: dict[str, Any]) -> dict[str, Any]:
        return {**statement, "Condition": {k: v for k, v in statement["Condition"].items() if k != key}}

    return change


def anywhere(statement: dict[str, Any]) -> dict[str, Any]:
    return {**statement, "Resource": "*"}


@pytest.mark.parametrize(
    ("policy", "sid", "change", "must_fail"),
    [
        (
            "ingress-role:stripe-events",
            "DenyAllS3",
            remove,
            {
                "the ingress writes into its source's prefix",
                "with s3:* granted elsewhere, the ingress writes into its source's prefix",
                "with s3:* granted elsewhere, the ingress reads its source's data",
            },
        ),
        (
            "ingress-invoke:stripe-events",
            "ApiGatewayInvokesFromOwnRouteOnly",
            without_condition("ArnLike"),
            {
                "API Gateway invokes the ingress for another source's API",
                "API Gateway invokes the ingress for another route of the same API",
                "API Gateway invokes the ingress for another method on the route",
            },
        ),
        (
            "ingress-invoke:stripe-events",
            "ApiGatewayInvokesFromOwnRouteOnly",
            lambda statement: {**statement, "Principal": "*", "Condition": {}},
            {
                "API Gateway invokes the ingress for another source's API",
                "API Gateway invokes the ingress for another route of the same API",
                "API Gateway invokes the ingress for another method on the route",
                "API Gateway invokes the ingress for another account's API (same id and route)",
                "another account invokes the ingress function",
                "a role of this account without grants invokes the ingress function (no public permission)",
            },
        ),
        (
            "ingress-trust:stripe-events",
            "LambdaOfThisAccountOnly",
            without_condition("StringEquals"),
            {"Lambda assumes the ingress role for another account"},
        ),
        (
            "ingress-role:stripe-events",
            "SendToOwnBufferOnly",
            anywhere,
            {
                "the ingress sends to another source's buffer",
                "the ingress sends straight to the push dead-letter queue",
            },
        ),
        (
            "ingress-role:stripe-events",
            "ClaimOwnReplayKeysOnly",
            lambda statement: {**anywhere(statement), "Action": "dynamodb:*"},
            {
                "the ingress claims a key in another source's replay table",
                "the ingress reads its replay table (the claim's condition decides; no read)",
            },
        ),
        (
            "role:stripe-events",
            "ReceiveFromOwnBufferOnly",
            lambda statement: {**statement, "Action": "sqs:*"},
            {"the writer sends to its buffer"},
        ),
        (
            "push-buffer:stripe-events",
            "DenyInsecureTransport",
            remove,
            {"the ingress queues an event without TLS"},
        ),
    ],
    ids=[
        "ingress-without-DenyAllS3",
        "permission-without-source-arn",
        "public-permission",
        "ingress-trust-without-source-account",
        "ingress-sends-anywhere",
        "ingress-reads-and-claims-anywhere",
        "writer-sends-to-its-buffer",
        "buffer-without-tls-deny",
    ],
)
def test_a_broken_push_policy_fails_the_matrix(push_deployment, policy, sid, change, must_fail):
    """Exactly the cases the statement stands for fail, for the source whose policy broke."""
    broken = evaluate(with_statement(push_deployment, policy, sid, change))
    assert {o.subject for o in broken.failures} == {"stripe-events"}, describe(broken)
    assert failing_titles(broken) == must_fail, describe(broken)


def test_a_writer_that_keeps_the_pull_sources_secret_grants_fails_the_matrix(push_deployment):
    """The writer role as a pull source has it: its secret and the key through Secrets Manager for it
    (the ingress role's statements of the same source are exactly those)."""
    broken = copy.deepcopy(push_deployment)
    source = broken.sources["stripe-events"]
    assert source.push is not None
    kept = [
        s
        for s in source.push.ingress_policy.document["Statement"]
        if s["Sid"] in ("ReadOwnSecretOnly", "UseKeyViaSecretsManager")
    ]
    assert len(kept) == 2
    source.role_policy.document["Statement"] += kept
    assert failing_titles(evaluate(broken)) == {
        "the writer reads its signing secrets",
        "the writer decrypts its secret through Secrets Manager",
    }
