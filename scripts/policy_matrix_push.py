"""The policy matrix's view of a push source (issue 23): what it reads back beyond a pull source's.

A push source has a second role (the ingress function's), a resource policy on the ingress function
(API Gateway may invoke it from its own route only) and two more queues (the buffer and its dead-letter
queue). scripts/policy_matrix.py reads them through `read_push` and consults `resource_policy` and
`principal` for the requests that name them; the matrix's cases for them are group "push" of
tests/policy/matrix.toml.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from scripts.policy_documents import Policy, parse

# A role's policy, trust and tags as policy_matrix's role reader returns them.
RoleReader = Callable[[str], tuple[dict[str, Any], dict[str, Any], dict[str, str]]]


@dataclass(frozen=True)
class PushPolicies:
    """A push source's own policies, as the (local) AWS holds them."""

    ingress_policy: Policy
    ingress_trust: Policy
    ingress_tags: Mapping[str, str]
    invoke_policy: Policy  # the ingress function's resource policy (Lambda GetPolicy)
    buffer_policy: Policy
    push_dlq_policy: Policy

    def policies(self) -> list[Policy]:
        return [
            self.ingress_policy,
            self.ingress_trust,
            self.invoke_policy,
            self.buffer_policy,
            self.push_dlq_policy,
        ]


@dataclass(frozen=True)
class AwsReaders:
    """The clients and readers `read_push` needs (one local AWS)."""

    role: RoleReader
    queue_policy: Callable[[str], dict[str, Any]]
    functions: Any  # a Lambda client
    apis: Any  # an API Gateway v2 client


def is_push(out: Mapping[str, Any]) -> bool:
    """Whether the module outputs `out` are a push source's (its buffer exists)."""
    return bool(out.get("push_buffer_arn"))


def read_push(
    out: Mapping[str, Any], source_id: str, where: tuple[str, str, str], aws: AwsReaders
) -> tuple[dict[str, str], PushPolicies]:
    """A push source's names for the matrix and its policies; `where` is the deployment's partition,
    region and account. Every name is read back from what AWS holds where an API returns it."""
    partition, region, account = where
    ingress = aws.functions.get_function_configuration(FunctionName=out["ingress_function_name"])
    names = {
        "ingress_role_arn": out["ingress_role_arn"],
        "ingress_function_arn": ingress["FunctionArn"],
        "ingress_log_group_arn": (
            f"arn:{partition}:logs:{region}:{account}:log-group:{ingress['LoggingConfig']['LogGroup']}"
        ),
        "buffer_arn": out["push_buffer_arn"],
        "push_dlq_arn": out["push_dlq_arn"],
        **_api_names(out["push_api_id"], partition, region, account, aws.apis),
    }
    if out.get("push_replay_table_arn"):
        names["replay_table_arn"] = out["push_replay_table_arn"]
    policy, trust, tags = aws.role(out["ingress_role_arn"])
    invoke = parse(aws.functions.get_policy(FunctionName=ingress["FunctionArn"])["Policy"])
    return names, PushPolicies(
        ingress_policy=Policy(f"ingress-role:{source_id}", policy),
        ingress_trust=Policy(f"ingress-trust:{source_id}", trust),
        ingress_tags=tags,
        invoke_policy=Policy(f"ingress-invoke:{source_id}", invoke),
        buffer_policy=Policy(f"push-buffer:{source_id}", aws.queue_policy(out["push_buffer_arn"])),
        push_dlq_policy=Policy(f"push-dlq:{source_id}", aws.queue_policy(out["push_dlq_arn"])),
    )


def _api_names(api_id: str, partition: str, region: str, account: str, apis: Any) -> dict[str, str]:
    """The API's id, its execute-api ARN, the ARN its one route presents as aws:SourceArn when API
    Gateway invokes the integration (<api-id>/<stage>/<METHOD>/<path>:
    https://docs.aws.amazon.com/apigateway/latest/developerguide/arn-format-reference.html), and its
    access log group, all read back from the API."""
    (route,) = apis.get_routes(ApiId=api_id)["Items"]
    method, path = route["RouteKey"].split(" ", 1)
    stage = apis.get_stage(ApiId=api_id, StageName="$default")
    execute_api = f"arn:{partition}:execute-api:{region}:{account}:{api_id}"
    return {
        "api_id": api_id,
        "api_arn": execute_api,
        "route_arn": f"{execute_api}/{stage['StageName']}/{method}{path}",
        "route_method": method,
        "route_path": path,
        "access_log_group_arn": stage["AccessLogSettings"]["DestinationArn"],
    }


def resource_policy(
    push: PushPolicies, names: Mapping[str, str], action: str, resource: str
) -> tuple[Policy, str] | None:
    """The push policy AWS consults for this request on one of the source's push resources, if any."""
    if action.startswith("sts:"):
        return (push.ingress_trust, "trust") if resource == names["ingress_role_arn"] else None
    function = names["ingress_function_arn"]
    if resource == function or resource.startswith(f"{function}:"):
        return push.invoke_policy, "resource"
    queues = {names["buffer_arn"]: push.buffer_policy, names["push_dlq_arn"]: push.push_dlq_policy}
    return (queues[resource], "resource") if resource in queues else None


def principal(push: PushPolicies, names: Mapping[str, str]) -> tuple[str, list[Policy], dict[str, str]]:
    """The ingress role as a principal: its ARN, its one identity policy and its tags."""
    return names["ingress_role_arn"], [push.ingress_policy], dict(push.ingress_tags)
