"""The policy evaluation matrix: the applied policies, evaluated offline the way AWS evaluates them.

moto evaluates no IAM policy, so a policy that passes every local test can still break or leak on AWS.
This module reads every policy of an applied deployment back from the (local) AWS that holds it, builds
each request of tests/policy/matrix.toml with the context keys AWS sends, and has an offline IAM
simulator (@cloud-copilot/iam-simulate, tests/policy/simulate.cjs, installed by the Makefile into
.iamsim/) decide it. Every case must reach its expected decision, and every statement of every policy
must match at least one request (a statement nothing exercises is either dead or untested).

`python -m scripts.policy_matrix --update-docs` applies examples/multi-source and examples/push (two
push sources, scripts/policy_matrix_push.py) to fresh local AWSes and rewrites the matrix table of
docs/security.md (the docs test fails when it drifts).
"""

from __future__ import annotations

import argparse
import copy
import fnmatch
import json
import re
import subprocess
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from scripts import policy_matrix_push
from scripts.harness import ROOT, local_client
from scripts.policy_documents import Policy, parse

MATRIX = ROOT / "tests" / "policy" / "matrix.toml"
SIMULATOR = ROOT / "tests" / "policy" / "simulate.cjs"
NODE_MODULES = ROOT / ".iamsim" / "node_modules"
MATRIX_DOC = ROOT / "docs" / "security.md"  # the page that holds the generated matrix table
MATRIX_BEGIN = "<!-- BEGIN_POLICY_MATRIX -->"
MATRIX_END = "<!-- END_POLICY_MATRIX -->"
MATRIX_SUBJECT = "events"  # the source of examples/multi-source that has every kind of policy
# The examples the docs table is evaluated on: every pull case has a source in the first, every push
# case (group "push") one in the second.
MATRIX_EXAMPLES = ("multi-source", "push")
OTHER_ACCOUNT = "210987654321"
SOURCE_ID_TAG = "lake-ingest:source-id"
DECISIONS = ("Allowed", "Denied", "ExplicitlyDenied")
# What "someone attached a broad policy later" grants: every action of the services the module uses.
BROAD_GRANT = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "GrantedElsewhere",
            "Effect": "Allow",
            "Action": ["s3:*", "kms:*", "secretsmanager:*", "sqs:*", "sns:*", "lambda:*", "logs:*"],
            "Resource": "*",
        }
    ],
}


class MatrixError(RuntimeError):
    pass


@dataclass(frozen=True)
class Case:
    """One request of the matrix and the decision AWS must reach."""

    number: int
    group: str
    title: str
    who: str
    action: str
    resource: str
    expect: str
    context: Mapping[str, str] = field(default_factory=dict)
    needs: tuple[str, ...] = ()


@dataclass(frozen=True)
class Source:
    """One source as deployed: the names the matrix refers to and the policies AWS holds for it."""

    source_id: str
    names: Mapping[str, str]  # prefix, secret_arn, dlq_arn, function_arn, role_arn, ... (see matrix.toml)
    role_policy: Policy
    role_tags: Mapping[str, str]
    trust: Policy
    secret_policy: Policy
    dlq_policy: Policy
    scheduler_policy: Policy | None = None
    scheduler_trust: Policy | None = None
    schedule_dlq_policy: Policy | None = None
    # With orchestration: "run" and (a window source) "backfill" -> the machine role's policy and trust.
    machine_policies: Mapping[str, Policy] = field(default_factory=dict)
    machine_trusts: Mapping[str, Policy] = field(default_factory=dict)
    machine_tags: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    # A window source with a backfill machine: the module's backfill_operator_policy_json output.
    operator_policy: Policy | None = None
    auth_type: str = "none"  # API_CONFIG.auth.type as the deployed function has it
    # Each role's permissions boundary as the (local) AWS holds it: "function", "scheduler", "run",
    # "backfill" -> the boundary policy's default version; a role without one is absent.
    boundaries: Mapping[str, Policy] = field(default_factory=dict)
    reader: bool = False  # one of the lake's reader_sources (its reader_policy_json covers it)
    # A push source: its ingress role, the ingress function's resource policy, its buffer's and push
    # dead-letter queue's policies (scripts/policy_matrix_push.py).
    push: policy_matrix_push.PushPolicies | None = None

    def has(self, need: str) -> bool:
        """Whether this source can have the requests of a case that `needs` this."""
        return {
            "push": self.push is not None,
            "pull": self.push is None,
            "replay": "replay_table_arn" in self.names,
            "rotates": self.auth_type == "oauth2_refresh_token",
            "not_rotating": self.auth_type != "oauth2_refresh_token",
            "schedule": self.scheduler_policy is not None,
            "orchestration": "run" in self.machine_policies,
            "backfill": "backfill" in self.machine_policies,
            "unorchestrated": "run" not in self.machine_policies,
            "reader": self.reader,
        }.get(need, True)

    def has_all(self, needs: Iterable[str]) -> bool:
        """Whether this source, as the other source of a case, has what the case names: a push case's
        other source must be a push source (with a replay store, if the case needs one)."""
        return all(self.has(n) for n in needs if n in ("push", "replay"))


@dataclass(frozen=True)
class Deployment:
    partition: str
    region: str
    dns_suffix: str
    account: str
    names: Mapping[str, str]  # bucket_arn, key_arn, topic_arn
    bucket_policy: Policy
    key_policy: Policy
    topic_policy: Policy
    sources: Mapping[str, Source]
    # The lake's reader_policy_json (modules/lake), and a registered source it does not cover.
    reader_policy: Policy | None = None
    unread: str | None = None

    def policies(self) -> list[Policy]:
        found = [self.bucket_policy, self.key_policy, self.topic_policy]
        found += [self.reader_policy] if self.reader_policy else []
        for s in self.sources.values():
            found += [s.role_policy, s.trust, s.secret_policy, s.dlq_policy]
            found += [p for p in (s.scheduler_policy, s.scheduler_trust, s.schedule_dlq_policy) if p]
            found += [*s.machine_policies.values(), *s.machine_trusts.values()]
            found += [s.operator_policy] if s.operator_policy else []
            found += s.push.policies() if s.push else []
        return found


@dataclass(frozen=True)
class Outcome:
    case: Case
    subject: str
    decision: str | None
    matched: tuple[str, ...]  # "policy#Sid" of every statement that matched the request
    errors: tuple[str, ...]
    deciders: tuple[str, ...] = ()  # policies whose matching statements carry the decision's effect

    @property
    def ok(self) -> bool:
        if self.errors or self.decision is None:
            return False
        if self.case.expect == "Denied":
            return self.decision in ("ImplicitlyDenied", "ExplicitlyDenied")
        return self.decision == self.case.expect


@dataclass(frozen=True)
class Report:
    outcomes: tuple[Outcome, ...]
    left_out: int  # cases a deployment cannot have (no second source, no schedule)
    uncovered: tuple[str, ...]  # statements no request matched

    @property
    def failures(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.ok]


def load_cases(path: Path = MATRIX) -> list[Case]:
    cases = []
    for number, raw in enumerate(tomllib.loads(path.read_text())["case"], start=1):
        if raw["expect"] not in DECISIONS:
            raise MatrixError(f"case {number} ({raw['title']}): expect must be one of {DECISIONS}")
        cases.append(
            Case(
                number=number,
                group=raw["group"],
                title=raw["title"],
                who=raw["who"],
                action=raw["action"],
                resource=raw["resource"],
                expect=raw["expect"],
                context=raw.get("context", {}),
                needs=tuple(raw.get("needs", ())),
            )
        )
    return cases


# -- reading a deployment back --------------------------------------------------------------------


def _arn_parts(arn: str) -> list[str]:
    return arn.split(":", 5)


def read_deployment(
    endpoint: str, lake: Mapping[str, Any], sources: Mapping[str, Mapping[str, Any]]
) -> Deployment:
    """Every policy of an applied deployment, as the local AWS holds it.

    `lake` has bucket_name, kms_key_arn and alarm_topic_arn, and optionally the query side: glue_database,
    athena_workgroup, readers (source ids) and reader_policy_json (the lake's, or a source's own); `sources`
    maps each source id to the root module's outputs for it.
    """
    s3, kms, sns = (local_client(s, endpoint) for s in ("s3", "kms", "sns"))
    iam, secrets, sqs = (local_client(s, endpoint) for s in ("iam", "secretsmanager", "sqs"))
    functions = local_client("lambda", endpoint)
    key_arn = lake["kms_key_arn"]
    _, partition, _, region, account, _ = _arn_parts(key_arn)
    bucket_arn = f"arn:{partition}:s3:::{lake['bucket_name']}"
    dns_suffix = "amazonaws.com.cn" if partition == "aws-cn" else "amazonaws.com"

    boundaries: dict[str, Policy] = {}

    def role(arn: str) -> tuple[dict[str, Any], dict[str, Any], dict[str, str]]:
        name = arn.rsplit("/", 1)[1]
        (policy_name,) = iam.list_role_policies(RoleName=name)["PolicyNames"]
        policy = parse(iam.get_role_policy(RoleName=name, PolicyName=policy_name)["PolicyDocument"])
        held = iam.get_role(RoleName=name)["Role"]
        trust = parse(held["AssumeRolePolicyDocument"])
        tags = {t["Key"]: t["Value"] for t in iam.list_role_tags(RoleName=name)["Tags"]}
        boundary = held.get("PermissionsBoundary", {}).get("PermissionsBoundaryArn")
        if boundary:
            boundaries[arn] = Policy(f"boundary:{boundary.rsplit('/', 1)[1]}", _managed_policy(iam, boundary))
        return policy, trust, tags

    def queue_policy(arn: str) -> dict[str, Any]:
        url = sqs.get_queue_url(QueueName=arn.rsplit(":", 1)[1])["QueueUrl"]
        return parse(
            sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])["Attributes"]["Policy"]
        )

    apis = local_client("apigatewayv2", endpoint)
    readers = policy_matrix_push.AwsReaders(role, queue_policy, functions, apis)
    read: dict[str, Source] = {}
    for source_id, out in sources.items():
        role_policy, trust, tags = role(out["role_arn"])
        names = {
            "prefix": out["raw_prefix"],
            "secret_arn": out["secret_arn"],
            "dlq_arn": out["dlq_arn"],
            "function_arn": out["function_arn"],
            "role_arn": out["role_arn"],
            "log_group_arn": f"arn:{partition}:logs:{region}:{account}:log-group:{out['log_group_name']}",
            "alarm_prefix": f"arn:{partition}:cloudwatch:{region}:{account}:alarm:{out['function_name']}",
        }
        scheduled: dict[str, Any] = {}
        if out.get("schedule_arn"):
            names.update(
                schedule_arn=out["schedule_arn"],
                schedule_group_arn=out["schedule_group_arn"],
                schedule_group_name=out["schedule_group_arn"].rsplit("/", 1)[1],
                scheduler_role_arn=out["scheduler_role_arn"],
                schedule_dlq_arn=out["schedule_dlq_arn"],
            )
            scheduler_policy, scheduler_trust, _ = role(out["scheduler_role_arn"])
            scheduled = {
                "scheduler_policy": Policy(f"scheduler-role:{source_id}", scheduler_policy),
                "scheduler_trust": Policy(f"scheduler-trust:{source_id}", scheduler_trust),
                "schedule_dlq_policy": Policy(
                    f"schedule-dlq:{source_id}", queue_policy(out["schedule_dlq_arn"])
                ),
            }
        machines = _machines(out, names, partition, region, account, role, source_id)
        pushed: dict[str, Any] = {}
        if policy_matrix_push.is_push(out):
            push_names, pushed["push"] = policy_matrix_push.read_push(
                out, source_id, (partition, region, account), readers
            )
            names.update(push_names)
        if out.get("glue_tables"):
            names.update(table=out["glue_tables"]["records"], published_table=out["glue_tables"]["published"])
        if out.get("backfill_operator_policy_json"):
            machines["operator_policy"] = Policy(
                f"backfill-operator:{source_id}", parse(out["backfill_operator_policy_json"])
            )
        secret_policy = parse(secrets.get_resource_policy(SecretId=out["secret_arn"])["ResourcePolicy"])
        environment = functions.get_function_configuration(FunctionName=out["function_arn"])["Environment"]
        # A push source's function has no API_CONFIG (it calls no API).
        api_config = json.loads(environment["Variables"].get("API_CONFIG") or "{}")
        auth_type = api_config.get("auth", {}).get("type", "none")
        kinds = {
            "function": out["role_arn"],
            "scheduler": out.get("scheduler_role_arn"),
            "ingress": out.get("ingress_role_arn"),
            **{kind: arn for kind, arn in (out.get("state_machine_role_arns") or {}).items()},
        }
        read[source_id] = Source(
            boundaries={kind: boundaries[arn] for kind, arn in kinds.items() if arn in boundaries},
            auth_type=auth_type,
            reader=source_id in (lake.get("readers") or []) and bool(lake.get("reader_policy_json")),
            source_id=source_id,
            names=names,
            role_policy=Policy(f"role:{source_id}", role_policy),
            role_tags=tags,
            trust=Policy(f"trust:{source_id}", trust),
            secret_policy=Policy(f"secret:{source_id}", secret_policy),
            dlq_policy=Policy(f"dlq:{source_id}", queue_policy(out["dlq_arn"])),
            **scheduled,
            **machines,
            **pushed,
        )
    topic = lake["alarm_topic_arn"]
    names = {"bucket_arn": bucket_arn, "key_arn": key_arn, "topic_arn": topic}
    reader_policy, unread = None, None
    if lake.get("reader_policy_json"):
        reader_policy = Policy("reader", parse(lake["reader_policy_json"]))
        workgroup = local_client("athena", endpoint).get_work_group(WorkGroup=lake["athena_workgroup"])
        results = workgroup["WorkGroup"]["Configuration"]["ResultConfiguration"]["OutputLocation"]
        names.update(
            glue_database=lake["glue_database"],
            workgroup_arn=f"arn:{partition}:athena:{region}:{account}:workgroup/{lake['athena_workgroup']}",
            results_prefix=results.removeprefix(f"s3://{lake['bucket_name']}/").rstrip("/"),
        )
        unread = next((s for s in read if not read[s].reader), None)
    return Deployment(
        partition=partition,
        region=region,
        dns_suffix=dns_suffix,
        account=account,
        names=names,
        reader_policy=reader_policy,
        unread=unread,
        bucket_policy=Policy("bucket", parse(s3.get_bucket_policy(Bucket=lake["bucket_name"])["Policy"])),
        key_policy=Policy("key", parse(kms.get_key_policy(KeyId=key_arn, PolicyName="default")["Policy"])),
        topic_policy=Policy("topic", parse(sns.get_topic_attributes(TopicArn=topic)["Attributes"]["Policy"])),
        sources=read,
    )


def _managed_policy(iam: Any, arn: str) -> dict[str, Any]:
    """The default version of a managed policy (a role's permissions boundary)."""
    version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
    return parse(iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]["Document"])


def _machines(
    out: Mapping[str, Any],
    names: dict[str, str],
    partition: str,
    region: str,
    account: str,
    role: Any,
    source_id: str,
) -> dict[str, Any]:
    """The state machines' names (added to `names`) and their roles' policies, with orchestration."""
    roles = out.get("state_machine_role_arns") or {}
    if not roles:
        return {}
    names["machines_log_group_arn"] = (
        f"arn:{partition}:logs:{region}:{account}:log-group:{out['state_machine_log_group_name']}"
    )
    policies, trusts, tags = {}, {}, {}
    for kind, role_arn in roles.items():
        names[f"{kind}_machine_arn"] = out[f"{kind}_state_machine_arn"]
        names[f"{kind}_machine_name"] = out[f"{kind}_state_machine_arn"].rsplit(":", 1)[1]
        names[f"{kind}_machine_role_arn"] = role_arn
        policy, trust, tags[kind] = role(role_arn)
        policies[kind] = Policy(f"{kind}-machine-role:{source_id}", policy)
        trusts[kind] = Policy(f"{kind}-machine-trust:{source_id}", trust)
    return {"machine_policies": policies, "machine_trusts": trusts, "machine_tags": tags}


# -- building requests -------------------------------------------------------------------------------

_PLACEHOLDER = re.compile(r"\{([a-z_]+(?:\.[a-z_]+)?)\}")


def _fill(text: str, values: Mapping[str, str]) -> str:
    def one(match: re.Match[str]) -> str:
        if match.group(1) not in values:
            raise MatrixError(f"unknown placeholder {{{match.group(1)}}} in {text!r}")
        return values[match.group(1)]

    return _PLACEHOLDER.sub(one, text)


def _values(deployment: Deployment, me: Source, other: Source | None) -> dict[str, str]:
    values = {
        **deployment.names,
        "account": deployment.account,
        "region": deployment.region,
        "partition": deployment.partition,
        "dns_suffix": deployment.dns_suffix,
        "other_account": OTHER_ACCOUNT,
    }
    unread = deployment.sources[deployment.unread] if deployment.unread else None
    for label, source in (("me", me), ("other", other), ("unread", unread)):
        if source is not None:
            values.update({f"{label}.{k}": v for k, v in source.names.items()})
    return values


def _resource_policy(deployment: Deployment, action: str, resource: str) -> tuple[Policy | None, str]:
    """The resource-based policy AWS consults for this request, and its kind (resource or trust)."""
    if action.startswith("sts:"):
        for s in deployment.sources.values():
            if resource == s.names["role_arn"]:
                return s.trust, "trust"
            if resource == s.names.get("scheduler_role_arn"):
                return s.scheduler_trust, "trust"
            for kind, trust in s.machine_trusts.items():
                if resource == s.names[f"{kind}_machine_role_arn"]:
                    return trust, "trust"
    for s in deployment.sources.values():
        found = policy_matrix_push.resource_policy(s.push, s.names, action, resource) if s.push else None
        if found:
            return found
    if resource == deployment.names["key_arn"]:
        return deployment.key_policy, "resource"
    if resource == deployment.names["topic_arn"]:
        return deployment.topic_policy, "resource"
    if resource.startswith(deployment.names["bucket_arn"]):
        return deployment.bucket_policy, "resource"
    for s in deployment.sources.values():
        by_resource = {
            s.names["secret_arn"]: s.secret_policy,
            s.names["dlq_arn"]: s.dlq_policy,
            s.names.get("schedule_dlq_arn", ""): s.schedule_dlq_policy,
        }
        if resource in by_resource:
            return by_resource[resource], "resource"
    return None, "resource"


def _resource_account(deployment: Deployment, resource: str) -> str:
    parts = resource.split(":")
    return parts[4] if len(parts) > 4 and parts[4] else deployment.account


def _boundaries(who: str, me: Source) -> list[Policy]:
    """The permissions boundary of the module's role that `who` is, if it has one. AWS allows a request
    only when both the identity policies and the boundary allow it; a boundary never grants
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html)."""
    kind = {"source": "function", "source+admin": "function", "scheduler": "scheduler"}.get(
        who, who.removesuffix("+admin").removesuffix("_machine")
    )
    return [me.boundaries[kind]] if kind in me.boundaries else []


def _principal(deployment: Deployment, who: str, me: Source) -> tuple[str, list[Policy], dict[str, str]]:
    """The principal ARN (or service name), its identity policies and the context keys it brings."""
    account = deployment.account
    if who.startswith("service:"):
        service = who.split(":", 1)[1]
        name = (
            f"logs.{deployment.region}.{deployment.dns_suffix}"
            if service == "logs"
            else f"{service}.amazonaws.com"
        )
        return name, [], {}
    if who in ("source", "source+admin"):
        arn, policies, tags = me.names["role_arn"], [me.role_policy], dict(me.role_tags)
        if who == "source+admin":
            policies = [*policies, Policy("granted-elsewhere", BROAD_GRANT)]
    elif who.removesuffix("+admin") == "ingress":
        if me.push is None:
            raise MatrixError(f"source {me.source_id} is not a push source")
        arn, policies, tags = policy_matrix_push.principal(me.push, me.names)
        if who.endswith("+admin"):
            policies = [*policies, Policy("granted-elsewhere", BROAD_GRANT)]
    elif who == "scheduler":
        if me.scheduler_policy is None:
            raise MatrixError(f"source {me.source_id} has no scheduler role")
        arn, policies, tags = me.names["scheduler_role_arn"], [me.scheduler_policy], {}
    elif who.removesuffix("+admin") in ("run_machine", "backfill_machine"):
        kind = who.removesuffix("+admin").removesuffix("_machine")
        if kind not in me.machine_policies:
            raise MatrixError(f"source {me.source_id} has no {kind} state machine")
        arn, tags = me.names[f"{kind}_machine_role_arn"], dict(me.machine_tags[kind])
        policies = [me.machine_policies[kind]]
        if who.endswith("+admin"):
            policies = [*policies, Policy("granted-elsewhere", BROAD_GRANT)]
    elif who.removesuffix("+admin") == "untagged":
        arn, tags = f"arn:{deployment.partition}:iam::{account}:role/operator", {}
        policies = [Policy("granted-elsewhere", BROAD_GRANT)] if who.endswith("+admin") else []
    elif who == "backfill_operator":
        if me.operator_policy is None:
            raise MatrixError(f"source {me.source_id} has no backfill operator policy")
        arn = f"arn:{deployment.partition}:iam::{account}:role/backfill-operator"
        policies, tags = [me.operator_policy], {}
    elif who == "reader":
        if deployment.reader_policy is None:
            raise MatrixError("the deployment has no reader policy")
        arn = f"arn:{deployment.partition}:iam::{account}:role/lake-reader"
        policies, tags = [deployment.reader_policy], {}
    elif who == "stranger":
        arn = f"arn:{deployment.partition}:iam::{account}:role/lake-ingest-stranger"
        policies, tags = [Policy("granted-elsewhere", BROAD_GRANT)], {SOURCE_ID_TAG: "stranger"}
    elif who == "foreign":
        account = OTHER_ACCOUNT
        arn = f"arn:{deployment.partition}:iam::{account}:role/attacker"
        policies, tags = [Policy("granted-elsewhere", BROAD_GRANT)], {}
    else:
        raise MatrixError(f"unknown principal {who!r}")
    context = {"aws:PrincipalArn": arn, "aws:PrincipalAccount": account}
    context.update({f"aws:PrincipalTag/{k}": v for k, v in tags.items()})
    return arn, policies, context


def simulations(
    deployment: Deployment, cases: Iterable[Case], subject: str
) -> tuple[list[dict[str, Any]], list[Case], int]:
    """The simulator's input for every case that applies to `subject`, and how many were left out."""
    ids = list(deployment.sources)
    me = deployment.sources[subject]
    other = deployment.sources[ids[(ids.index(subject) + 1) % len(ids)]] if len(ids) > 1 else None
    values = _values(deployment, me, other)
    built, used, left_out = [], [], 0
    for case in cases:
        # a push case's other source is a push source too (its buffer, its route, its replay table)
        absent = ("other" in case.needs and (other is None or not other.has_all(case.needs))) or (
            "unread" in case.needs and not deployment.unread
        )
        if absent or not all(me.has(n) for n in case.needs):
            left_out += 1
            continue
        principal, identity, context = _principal(deployment, case.who, me)
        resource = _fill(case.resource, values)
        policy, kind = _resource_policy(deployment, case.action, resource)
        context = {"aws:SecureTransport": "true", **context}
        if not case.who.startswith("service:"):
            context["aws:ResourceAccount"] = _resource_account(deployment, resource)
        context.update({k: _fill(v, values) for k, v in case.context.items()})
        built.append(
            {
                "id": f"{subject}#{case.number}",
                "principal": principal,
                "action": case.action,
                "resource": resource,
                "resourceAccount": _resource_account(deployment, resource),
                "context": context,
                "identityPolicies": [{"name": p.name, "policy": p.document} for p in identity],
                "permissionBoundaries": [
                    {"name": p.name, "policy": p.document} for p in _boundaries(case.who, me)
                ],
                "resourcePolicy": {"name": policy.name, "policy": policy.document, "kind": kind}
                if policy
                else None,
            }
        )
        used.append(replace(case, title=_fill(case.title, values)))
    return built, used, left_out


def run_simulator(sims: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    if not NODE_MODULES.exists():
        raise MatrixError(f"{NODE_MODULES} is missing: `make .iamsim/.installed` installs the simulator")
    process = subprocess.run(
        ["node", str(SIMULATOR), str(NODE_MODULES)],
        input=json.dumps({"simulations": sims}),
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    if process.returncode != 0:
        raise MatrixError(f"simulator failed: {process.stderr[-3000:]}")
    return {r["id"]: r for r in json.loads(process.stdout)["results"]}


def _statements(policy: Policy) -> list[str]:
    statements = policy.document["Statement"]
    statements = statements if isinstance(statements, list) else [statements]
    return [f"{policy.name}#{s.get('Sid') or '?'}" for s in statements]


def evaluate(deployment: Deployment, cases: list[Case] | None = None) -> Report:
    """Every case for every source of the deployment; which statements no request exercised."""
    cases = load_cases() if cases is None else cases
    sims, used, left_out = [], [], 0
    for subject in deployment.sources:
        built, applied, skipped = simulations(deployment, cases, subject)
        sims += built
        used += [(subject, c) for c in applied]
        left_out += skipped
    results = run_simulator(sims)
    outcomes = []
    for sim, (subject, case) in zip(sims, used, strict=True):
        result = results[sim["id"]]
        matched = tuple(f"{m['policy']}#{m['sid'] or '?'}" for m in result["matched"])
        effect = {"Allowed": "Allow", "ExplicitlyDenied": "Deny"}.get(result["decision"])
        # A boundary never grants, so its allows decide nothing (its denies do refuse).
        deciders = tuple(
            sorted(
                {
                    m["policy"]
                    for m in result["matched"]
                    if m["effect"] == effect
                    and not (effect == "Allow" and m["policy"].startswith("boundary:"))
                }
            )
        )
        outcomes.append(
            Outcome(case, subject, result["decision"], matched, tuple(result["errors"]), deciders)
        )
    exercised = {m for o in outcomes for m in o.matched}
    uncovered = tuple(s for p in deployment.policies() for s in _statements(p) if s not in exercised)
    return Report(tuple(outcomes), left_out, uncovered)


def describe(report: Report) -> str:
    """What went wrong, one line per failed case or unexercised statement."""
    lines = [
        f"{o.subject}: case {o.case.number} ({o.case.group}: {o.case.title}; {o.case.who} {o.case.action}): "
        f"expected {o.case.expect}, got {o.decision}" + (f" ({'; '.join(o.errors)})" if o.errors else "")
        for o in report.failures
    ]
    lines += [f"no request matched statement {s}" for s in report.uncovered]
    return "\n".join(lines)


# -- deliberately broken policies (the suite must notice) ------------------------------------------


def with_statement(deployment: Deployment, policy_name: str, sid: str, change: Any) -> Deployment:
    """A copy of the deployment whose statement `sid` of policy `policy_name` is changed in place
    by `change(statement)` (or removed when `change` returns None)."""
    changed = copy.deepcopy(deployment)
    for policy in changed.policies():
        if policy.name != policy_name:
            continue
        statements = policy.document["Statement"]
        kept = []
        for statement in statements:
            if fnmatch.fnmatchcase(statement.get("Sid", ""), sid):
                statement = change(statement)
            if statement is not None:
                kept.append(statement)
        policy.document["Statement"] = kept
    return changed


# -- the docs table --------------------------------------------------------------------------------


def readme_table(reports: Mapping[str, Report], subject: str) -> str:
    """Each case once: as evaluated for `subject`, or (a case `subject` cannot have) for the first other
    source that has it, the deployments (example name -> its report) in the order given."""
    outcomes = [o for report in reports.values() for o in report.outcomes]
    order = [subject]
    for report in reports.values():
        order += sorted({o.subject for o in report.outcomes} - {subject})
    rows: dict[int, Outcome] = {}
    for name in order:
        for o in outcomes:
            if o.subject == name:
                rows.setdefault(o.case.number, o)
    allowed = sum(1 for o in outcomes if o.decision == "Allowed")
    denied, failed = len(outcomes) - allowed, sum(len(r.failures) for r in reports.values())
    sources = " and ".join(
        f"the {len({o.subject for o in r.outcomes})} sources of `examples/{example}`"
        for example, r in reports.items()
    )
    header = (
        f"{len(outcomes)} requests evaluated (the {len(rows)} cases below, for each of {sources} that can "
        f"have them; {sum(r.left_out for r in reports.values())} left out): {allowed} allowed, {denied} "
        f"denied, {failed} not as expected; every statement of every policy matched by at least one "
        f"request. Each row is evaluated for `{subject}` (a window source with orchestration), or for the "
        "first other source that can have the case (a push case: a source of `examples/push`; the other "
        "source: the next one of the same deployment).\n\n"
        "| # | group | who | request | resource | expected | result | source |\n"
        "|---:|---|---|---|---|---|---|---|\n"
    )
    lines = []
    for number in sorted(rows):
        o = rows[number]
        result = f"{o.decision or 'error'} ({'ok' if o.ok else '**FAIL**'})"
        lines.append(
            f"| {o.case.number} | {o.case.group} | {o.case.who} | {o.case.title} (`{o.case.action}`) | "
            f"`{_short(o.case.resource)}` | {o.case.expect} | {result} | {o.subject} |"
        )
    return header + "\n".join(lines) + "\n\n" + _per_policy(outcomes)


def _per_policy(outcomes: list[Outcome]) -> str:
    """How many requests each kind of policy decided (its allow granted, or its deny refused)."""
    counts: dict[str, list[int]] = {}
    for o in outcomes:
        for name in o.deciders:
            kind = name.split(":", 1)[0]
            counts.setdefault(kind, [0, 0])[0 if o.decision == "Allowed" else 1] += 1
    implicit = sum(1 for o in outcomes if o.decision == "ImplicitlyDenied")
    rows = [f"| {kind} | {allowed} | {denied} |" for kind, (allowed, denied) in sorted(counts.items())]
    return (
        "Per policy, over all sources: the requests in which its allow statements granted access, or its "
        f"deny statements refused it ({implicit} more were refused because no policy grants them).\n\n"
        "| policy | allowed by it | denied by it |\n|---|---:|---:|\n" + "\n".join(rows) + "\n"
    )


def _short(resource: str) -> str:
    return (
        resource.replace("{bucket_arn}", "bucket").replace("{key_arn}", "key").replace("{topic_arn}", "topic")
    )


def replace_readme_section(text: str, table: str) -> str:
    start, end = text.index(MATRIX_BEGIN) + len(MATRIX_BEGIN), text.index(MATRIX_END)
    return text[:start] + "\n" + table + text[end:]


def readme_section(text: str) -> str:
    return text[text.index(MATRIX_BEGIN) + len(MATRIX_BEGIN) : text.index(MATRIX_END)].strip("\n") + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--update-docs", action="store_true", help="rewrite the matrix table of docs/security.md"
    )
    args = parser.parse_args()
    reports = {example: _applied_report(example) for example in MATRIX_EXAMPLES}
    for example, report in reports.items():
        summary = f"{len(report.outcomes)} requests as expected; every statement exercised"
        print(f"examples/{example}: {describe(report) or summary}")
    if args.update_docs:
        MATRIX_DOC.write_text(
            replace_readme_section(MATRIX_DOC.read_text(), readme_table(reports, MATRIX_SUBJECT))
        )
    raise SystemExit(1 if any(r.failures or r.uncovered for r in reports.values()) else 0)


def _applied_report(example: str) -> Report:
    """The matrix over examples/<example>, applied to a fresh local AWS (stopped after)."""
    import tempfile

    from tests.conftest import applied_example, multi_source_variables, push_variables

    variables = {"multi-source": multi_source_variables, "push": push_variables}[example]
    with (
        tempfile.TemporaryDirectory() as workdir,
        applied_example(example, Path(workdir), variables) as applied,
    ):
        out = applied["outputs"]
        return evaluate(read_deployment(applied["endpoint"], out["lake"], out["sources"]))


if __name__ == "__main__":
    main()
