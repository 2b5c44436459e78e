"""A local AWS for the demo and the tests: moto in server mode on 127.0.0.1, with small shims.

moto 5.2.5 gaps (measured in ../shared/notes/local-aws.md) and what each shim does:

1. lambda_config_roundtrip: Lambda drops DeadLetterConfig and LoggingConfig, so every second plan
   would show a change. The shim stores what CreateFunction/UpdateFunctionConfiguration were given
   and returns it, as AWS does. (Hiding the diff with ignore_changes would hide real drift on AWS.)
2. bucket_policy_conditions: moto has no request context for bucket policies, and it applies a
   conditional statement as if its condition held, so a deny-insecure-transport policy denies
   everything. The shim skips the lake bucket policy's conditional statements named in
   SKIPPED_BUCKET_STATEMENTS, and only those: DenyInsecureTransport (moto serves plain http),
   DenyPutsWithOtherEncryption, DenyPutsWithOtherKey and DenyKmsPutsWithoutKeyId (SSE headers),
   OnlyOwnPrefix<source> and
   UnregisteredSourcesNoAccess (principal tags, which moto does not put in a request). Each of them is
   decided by the policy evaluation matrix instead (scripts/policy_matrix.py, tests/policy/matrix.toml:
   its test fails when a listed statement matches no request there). Any other conditional statement
   is left to moto, which applies it as if its condition held: a new deny fails closed locally until
   it is listed here and covered by the matrix.
3. lambda_code_location: GetFunction's Code.Location names an amazonaws.com host. The shim copies
   the deployed zip into a local bucket and returns a URL on this server, like AWS's presigned URL.
4. lambda_invoke_subprocess: moto runs a function in Docker, and there is no Docker here. The shim
   replaces that one step (LambdaFunction._invoke_lambda) with what `scripts/run_deployed.py` does:
   unpack the deployed zip and call its handler in a fresh Python process, with the function's
   environment, handler and timeout. So the real Lambda Invoke API works (boto3 `invoke`, `make demo`),
   and so do Step Functions' Lambda tasks. A handler's exception comes back as Lambda reports it
   (X-Amz-Function-Error: Unhandled, a payload with errorType and errorMessage); its output goes
   to the function's log group.
5. s3_conditional_writes_atomic: PutObject checks If-Match / If-None-Match and then writes, with no
   lock between the two (moto/s3/responses.py S3Response.put_object), while the server answers each
   request on its own thread. Two racing conditional writes can both see the condition hold and both
   succeed (10 threads on one key: 2 winners, or a 500 for a key replaced mid-response, in about 1
   race in 15 with a short thread switch interval; every one of 10 with a 50 ms pause in the gap),
   where S3 lets exactly one win and answers the others 412. The shim holds one lock across the
   check and the write of conditional PutObjects, so the cursor state's lease (lake_ingest/state.py)
   is tested under the guarantee it relies on. Unconditional PutObjects are not serialized against
   them (nothing in lake-ingest writes the state key unconditionally).
6. sfn_execute_state_machines: moto only stores state machines unless its `execute_state_machine`
   setting is on before the first one is created (it keeps the two kinds in separate stores), and its
   interpreter calls Lambda at localhost:$MOTO_PORT (default 5000). The shim turns the setting on and
   points MOTO_PORT at this server, so executions run, and their Lambda tasks reach the
   lambda_invoke_subprocess shim.
7. sfn_validate_definition: the provider validates every definition at plan time with
   ValidateStateMachineDefinition, which moto lacks (HTTP 500; the apply retries and hangs). The shim
   answers it with moto's own ASL parser, plus the check moto's parser skips (every StartAt, Next and
   Default names a state): OK, or FAIL with the diagnostics, as AWS does.
8. sfn_list_versions: the provider reads ListStateMachineVersions after every create and refresh; moto
   lacks it (HTTP 500). The shim lists the versions moto keeps for the machine, newest first.
9. sfn_execution_names: moto's executing store names an execution started without a name "None"
   (AWS makes up a UUID), so a second unnamed start of the same machine fails as a duplicate. The
   shim gives it a UUID.
10. secrets_current_follows_label: GetSecretValue without VersionStage answers AWSCURRENT on AWS;
   moto answers the version it remembers as its default, which UpdateSecretVersionStage does not move
   (moto/secretsmanager/models.py), so after a run moves AWSCURRENT to a rotated refresh token (the
   compare-and-swap in lake_ingest/refresh_tokens.py) a plain read still returns the old token. The
   shim moves the default with the label, as AWS's AWSCURRENT moves.
11. athena_untagged_resources: ListTagsForResource on an Athena workgroup (or data catalog, or capacity
   reservation) that has no tags answers 400 "Athena Resource, <arn> Does Not Exist"
   (moto/athena/responses.py), where AWS answers an empty tag list; the provider reads the tags after
   every create and refresh, so an untagged aws_athena_workgroup fails its apply. The shim answers an
   empty list for a resource that exists, and still the error for one that does not.
12. http_api_front: moto stores API Gateway HTTP APIs and serves none of them. The local AWS runs a
   second server on 127.0.0.1 (scripts/http_api_front.py) and writes its base URL to
   "<port-file>.http-api" before the port file. A request's "<METHOD> <path>" is matched against the
   routes of every HTTP API that has a $default stage (the Host "<api_id>.execute-api...." picks one
   API; the most specific route wins, then the lowest API id); the route's AWS_PROXY integration
   (payload format 2.0, a function ARN or invocation ARN) names the function; the stage's route or
   default ThrottlingRateLimit/BurstLimit is a token bucket per route (429); the function gets the
   payload 2.0 event and its answer becomes the response as API Gateway maps it (an error: 500; no
   route: 404). The function runs in a warm worker (scripts/warm_lambda.py): its zip unpacked and its
   handler imported once, events over a pipe, at most 2 per function, a fresh one when the code or
   configuration changes; its output goes to the function's log group. Cannot prove: IAM
   (lambda:InvokeFunction permissions are not checked), AWS's best-effort throttling and account
   quotas, other stages than $default, authorizers, CORS, payload format 1.0 (answered 500),
   chunked request bodies, TLS, the 6 MB Lambda cut-off, cold starts and Lambda's scaling.
13. sqs_esm_poller: moto runs an SQS event source mapping inside SendMessage (the sender waits for the
   function), one message per invocation, with no batching window and no partial batch responses.
   The shim makes moto's queues forget their mappings (the Lambda API still lists them) and the local
   AWS runs scripts/sqs_esm_poller.py: every 0.5 s it starts a poller for each enabled SQS mapping,
   which batches by BatchSize, MaximumBatchingWindowInSeconds and 6 MB, invokes the function through
   the Invoke API (gap 4) with Lambda's SQS event, and deletes every message but the
   batchItemFailures (ReportBatchItemFailures) or, on a function error, none. Cannot prove: Lambda's
   poller scaling and backoff (one batch in flight per mapping: MaximumConcurrency is never reached,
   which is within its meaning of a ceiling), the exact window and 6 MB accounting, SQS's own
   duplicate deliveries, FIFO ordering by group, filter criteria, queue encryption (moto encrypts
   nothing).
14. sqs_redrive_policy_compact: GetQueueAttributes answers RedrivePolicy as `json.dumps` spells it
   (with spaces); SQS answers compact JSON, which is what the provider compares, so every second plan
   showed a whitespace change. The shim answers it (and RedriveAllowPolicy) compact.
Known moto gaps the project works around rather than shims (tests/test_orchestration_e2e.py says so
where it matters): a Distributed Map ignores ToleratedFailurePercentage (a failed child leaves null in
the output and the execution SUCCEEDS; AWS fails it with States.ExceedToleratedFailureThreshold), its
child executions cannot be listed, and its ResultWriter writes only manifest.json. `backfill status`
therefore reads which windows are done from the lake (their manifests), on AWS and locally alike.

Run: python -m scripts.local_aws --port-file FILE [--port N] [--http-api-port N]; prints nothing until
stopped (SIGTERM or Ctrl-C stops the HTTP API front, the pollers and the warm workers too).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import re
import signal
import socket
import threading
import uuid
from pathlib import Path
from typing import Any, NoReturn

from scripts.http_api_front import (
    Answer,
    HttpApiFront,
    Invoker,
    Target,
    Throttle,
    match_route,
    route_precedence,
)
from scripts.run_deployed import Runtime
from scripts.sqs_esm_poller import SqsEsmPoller, SqsMapping
from scripts.warm_lambda import WarmPool

CODE_BUCKET = "local-aws-lambda-code"
# Conditional bucket-policy statements the shim skips (fnmatch patterns of their Sid): see gap 2.
SKIPPED_BUCKET_STATEMENTS = (
    "DenyInsecureTransport",
    "DenyPutsWithOtherEncryption",
    "DenyPutsWithOtherKey",
    "DenyKmsPutsWithoutKeyId",
    "OnlyOwnPrefix*",
    "UnregisteredSourcesNoAccess",
    "TokenStateOnlyForItsSource",
)


def skipped_by_bucket_shim(statement: dict[str, Any]) -> bool:
    """Whether the bucket_policy_conditions shim leaves this statement out of moto's evaluation."""
    import fnmatch

    sid = statement.get("Sid", "")
    return bool(statement.get("Condition")) and any(
        fnmatch.fnmatchcase(sid, pattern) for pattern in SKIPPED_BUCKET_STATEMENTS
    )


def shim_lambda_config_roundtrip() -> None:
    from moto.awslambda.models import LambdaFunction

    create, update, configuration = (
        LambdaFunction.__init__,
        LambdaFunction.update_configuration,
        LambdaFunction.get_configuration,
    )

    def __init__(self: Any, account_id: str, spec: dict[str, Any], *args: Any, **kwargs: Any) -> None:
        create(self, account_id, spec, *args, **kwargs)
        self._shim_kept = {k: spec[k] for k in ("DeadLetterConfig", "LoggingConfig") if spec.get(k)}

    def update_configuration(self: Any, config_updates: dict[str, Any]) -> dict[str, Any]:
        for key in ("DeadLetterConfig", "LoggingConfig"):
            if key in config_updates:
                self._shim_kept[key] = config_updates[key]
        return update(self, config_updates)

    def get_configuration(self: Any, on_create: bool = False) -> dict[str, Any]:
        config = configuration(self, on_create)
        kept = dict(getattr(self, "_shim_kept", {}))
        if "LoggingConfig" in kept:
            # AWS fills in the defaults it applied.
            kept["LoggingConfig"] = {
                "LogFormat": "Text",
                "LogGroup": f"/aws/lambda/{self.function_name}",
                **kept["LoggingConfig"],
            }
        config.update(kept)
        return config

    LambdaFunction.__init__ = __init__
    LambdaFunction.update_configuration = update_configuration
    LambdaFunction.get_configuration = get_configuration


def shim_bucket_policy_conditions() -> None:
    from moto.iam.access_control import IAMPolicy, PermissionResult
    from moto.s3.models import FakeBucket

    def get_permission(self: Any, action: str, resource: str) -> Any:
        if self.policy is None:
            return PermissionResult.NEUTRAL
        document = json.loads(self.policy.decode())
        statements = document["Statement"]
        statements = statements if isinstance(statements, list) else [statements]
        evaluated = [s for s in statements if not skipped_by_bucket_shim(s)]
        if not evaluated:
            return PermissionResult.NEUTRAL
        return IAMPolicy(json.dumps({**document, "Statement": evaluated})).is_action_permitted(
            action, resource
        )

    FakeBucket.get_permission = get_permission


def shim_lambda_code_location(endpoint: str) -> None:
    import boto3
    from moto.awslambda.models import LambdaFunction
    from moto.s3.models import s3_backends

    get_code = LambdaFunction.get_code
    presigner = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",  # noqa: S106 - the local AWS's dummy credentials
    )

    def get_code_with_local_location(self: Any) -> dict[str, Any]:
        response = get_code(self)
        code_bytes = getattr(self, "code_bytes", None)
        if "Code" in response and code_bytes:
            backend = s3_backends[self.account_id][self.partition]
            if CODE_BUCKET not in backend.buckets:
                backend.create_bucket(CODE_BUCKET, self.region)
            key = f"{self.function_name}/{self.code_sha_256.replace('/', '_')}.zip"
            backend.put_object(CODE_BUCKET, key, code_bytes)
            # A presigned URL, as AWS returns (signed with the local AWS's dummy credentials).
            response["Code"]["Location"] = presigner.generate_presigned_url(
                "get_object", Params={"Bucket": CODE_BUCKET, "Key": key}, ExpiresIn=600
            )
        return response

    LambdaFunction.get_code = get_code_with_local_location


def shim_s3_conditional_writes_atomic() -> None:
    """Make a conditional PutObject's check and write one step, as S3 does (gap 5). Idempotent."""
    from moto.s3.responses import S3Response

    if hasattr(S3Response.put_object, "conditional_lock"):
        return
    put_object = S3Response.put_object
    lock = threading.Lock()

    @functools.wraps(put_object)
    def put_object_atomically(self: Any) -> Any:
        if self.headers.get("If-Match") or self.headers.get("If-None-Match"):
            with lock:
                return put_object(self)
        return put_object(self)

    put_object_atomically.conditional_lock = lock  # type: ignore[attr-defined]
    S3Response.put_object = put_object_atomically


def runtime_of(function: Any) -> Runtime:
    """What the Lambda service knows of a moto LambdaFunction when it runs it."""
    return Runtime(
        handler=function.handler,
        timeout=int(function.timeout),
        function_name=function.function_name,
        function_arn=function.function_arn,
        memory_size=int(function.memory_size),
        environment=dict(function.environment_vars or {}),
        code_sha256=function.code_sha_256,
    )


def save_function_logs(function: Any, logs: str) -> None:
    """An invocation's output to the function's log group, like Lambda's (best effort)."""
    with contextlib.suppress(Exception):
        function.logs_backend.ensure_log_group(function.logs_group_name)
        function.save_logs(logs)


def shim_lambda_invoke_subprocess(endpoint: str) -> None:
    """Run an invoked function's deployed zip in a subprocess instead of Docker (gap 4)."""
    from moto.awslambda.models import LambdaFunction

    from scripts.run_deployed import run_zip

    invoke = LambdaFunction.invoke

    def _invoke_lambda(self: Any, event: Any = None) -> tuple[str, bool, str]:
        invocation = run_zip(self.code_bytes, runtime_of(self), event or {}, endpoint, self.region)
        save_function_logs(self, invocation.logs)
        if invocation.error is not None:
            return json.dumps(invocation.error), True, invocation.logs
        return json.dumps(invocation.result), False, invocation.logs

    def invoke_reporting_unhandled(self: Any, body: str, request_headers: Any, response_headers: Any) -> Any:
        payload = invoke(self, body, request_headers, response_headers)
        if response_headers.get("x-amz-function-error"):
            response_headers["x-amz-function-error"] = "Unhandled"  # an exception the handler raised
        return payload

    LambdaFunction._invoke_lambda = _invoke_lambda
    LambdaFunction.invoke = invoke_reporting_unhandled


def shim_sfn_execute_state_machines(endpoint: str) -> None:
    """Executions run (gap 6); their Lambda tasks call this server."""
    from moto.core.config import default_user_config

    default_user_config["stepfunctions"]["execute_state_machine"] = True
    os.environ["MOTO_PORT"] = endpoint.rsplit(":", 1)[1]


def definition_problems(definition: dict[str, Any], where: str = "") -> list[str]:
    """States that StartAt, Next, Default or Catch name but the machine (or its Map) does not have."""
    states = definition.get("States") or {}
    found = [] if definition.get("StartAt") in states else [f"{where}/StartAt: {definition.get('StartAt')!r}"]
    for name, state in states.items():
        targets = [state.get("Next"), state.get("Default")]
        targets += [rule.get("Next") for rule in state.get("Choices", []) + state.get("Catch", [])]
        found += [f"{where}/States/{name}: {t!r}" for t in targets if t is not None and t not in states]
        if "ItemProcessor" in state:
            found += definition_problems(state["ItemProcessor"], f"{where}/States/{name}/ItemProcessor")
    return found


def shim_sfn_validate_definition() -> None:
    """Answer ValidateStateMachineDefinition (gap 7)."""
    from moto.core.responses import ActionResult
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
    from moto.stepfunctions.responses import StepFunctionResponse

    def validate_state_machine_definition(self: Any) -> Any:
        definition = self._get_param("definition")
        try:
            AmazonStateLanguageParser.parse(definition)
            problems = [
                ("MISSING_TRANSITION_TARGET", f"no such state at {p}")
                for p in definition_problems(json.loads(definition))
            ]
        except Exception as error:  # noqa: BLE001 - the parser raises several kinds; all mean invalid
            problems = [("SCHEMA_VALIDATION_FAILED", f"{type(error).__name__}: {error}"[:1000])]
        diagnostics = [{"severity": "ERROR", "code": code, "message": text} for code, text in problems]
        return ActionResult(
            {"result": "FAIL" if problems else "OK", "diagnostics": diagnostics, "truncated": False}
        )

    StepFunctionResponse.validate_state_machine_definition = validate_state_machine_definition


def shim_sfn_list_versions() -> None:
    """Answer ListStateMachineVersions (gap 8)."""
    from moto.core.responses import ActionResult
    from moto.stepfunctions.responses import StepFunctionResponse

    def list_state_machine_versions(self: Any) -> Any:
        machine = self.stepfunction_backend.describe_state_machine(self._get_param("stateMachineArn"))
        versions = sorted(getattr(machine, "versions", {}).values(), key=lambda v: v.version, reverse=True)
        return ActionResult(
            {
                "stateMachineVersions": [
                    {"stateMachineVersionArn": v.arn, "creationDate": v.creation_date} for v in versions
                ]
            }
        )

    StepFunctionResponse.list_state_machine_versions = list_state_machine_versions


def shim_sfn_execution_names() -> None:
    """An execution started without a name gets a UUID, as on AWS (gap 9). Idempotent."""
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    start = StepFunctionsParserBackend.start_execution
    if getattr(start, "names_executions", False):
        return

    @functools.wraps(start)
    def start_execution(
        self: Any, state_machine_arn: str, name: Any = None, *args: Any, **kwargs: Any
    ) -> Any:
        return start(self, state_machine_arn, name or str(uuid.uuid4()), *args, **kwargs)

    start_execution.names_executions = True  # type: ignore[attr-defined]
    StepFunctionsParserBackend.start_execution = start_execution


def shim_secrets_current_follows_label() -> None:
    """A plain GetSecretValue answers the version AWSCURRENT is on, after UpdateSecretVersionStage too
    (gap 10). Idempotent."""
    from moto.secretsmanager.models import SecretsManagerBackend

    update = SecretsManagerBackend.update_secret_version_stage
    if getattr(update, "moves_default", False):
        return

    @functools.wraps(update)
    def update_secret_version_stage(
        self: Any, secret_id: str, version_stage: str, remove_from_version_id: str, move_to_version_id: str
    ) -> Any:
        answer = update(self, secret_id, version_stage, remove_from_version_id, move_to_version_id)
        if version_stage == "AWSCURRENT" and move_to_version_id:
            self.secrets[secret_id].default_version_id = move_to_version_id
        return answer

    update_secret_version_stage.moves_default = True  # type: ignore[attr-defined]
    SecretsManagerBackend.update_secret_version_stage = update_secret_version_stage


def shim_athena_untagged_resources() -> None:
    """ListTagsForResource on an existing untagged Athena resource answers no tags (gap 11). Idempotent."""
    from moto.athena.models import AthenaBackend

    list_tags = AthenaBackend.list_tags_for_resource
    if getattr(list_tags, "answers_untagged", False):
        return

    @functools.wraps(list_tags)
    def list_tags_for_resource(self: Any, resource_arn: str) -> Any:
        tags = list_tags(self, resource_arn)
        if tags:
            return tags
        resources = [
            *self.work_groups.values(),
            *self.data_catalogs.values(),
            *self.capacity_reservations.values(),
        ]
        return {"Tags": []} if any(r.arn == resource_arn for r in resources) else tags

    list_tags_for_resource.answers_untagged = True  # type: ignore[attr-defined]
    AthenaBackend.list_tags_for_resource = list_tags_for_resource


def lambda_function(function_arn: str) -> Any:
    """moto's LambdaFunction for an ARN (with or without a qualifier)."""
    from moto.awslambda.models import lambda_backends

    region, account_id = function_arn.split(":")[3:5]
    return lambda_backends[account_id][region].get_function(function_arn)


def integration_function_arn(integration: Any) -> str | None:
    """The function an AWS_PROXY payload 2.0 integration calls: its URI is the function's ARN or its
    invocation ARN (arn:aws:apigateway:<region>:lambda:path/2015-03-31/functions/<arn>/invocations)."""
    if integration.integration_type != "AWS_PROXY" or integration.payload_format_version != "2.0":
        return None
    uri = integration.integration_uri or ""
    invocation = re.search(r"/functions/(arn:[^/]+)/invocations$", uri)
    if invocation:
        return invocation.group(1)
    return uri if re.match(r"^arn:[^:]+:lambda:", uri) else None


def stage_throttle(stage: Any, route_key: str) -> Throttle | None:
    """The route's throttling: its own settings over the stage's defaults; AWS's account-level
    defaults (10,000 per second, burst 5,000) for a limit that is not set."""
    settings = {**(stage.default_route_settings or {}), **(stage.route_settings or {}).get(route_key, {})}
    rate, burst = settings.get("throttlingRateLimit"), settings.get("throttlingBurstLimit")
    if rate is None and burst is None:
        return None
    return Throttle(rate=float(10000 if rate is None else rate), burst=int(5000 if burst is None else burst))


def resolve_http_api(host_api_id: str | None, method: str, path: str) -> Target | None:
    """The route of a served HTTP API (one with a $default stage) that a request reaches (gap 12)."""
    from moto.apigatewayv2.models import apigatewayv2_backends

    candidates = []
    for account_id, regions in list(apigatewayv2_backends.items()):
        for backend in list(regions.values()):
            for api in list(backend.apis.values()):
                if api.protocol_type != "HTTP" or "$default" not in api.stages:
                    continue
                if host_api_id is not None and api.api_id != host_api_id:
                    continue
                for route in list(api.routes.values()):
                    parameters = match_route(route.route_key, method, path)
                    if parameters is not None:
                        rank = (route_precedence(route.route_key), api.api_id)
                        candidates.append((rank, account_id, api, route, parameters))
    if not candidates:
        return None
    _, account_id, api, route, parameters = min(candidates, key=lambda candidate: candidate[0])
    stage = api.stages["$default"]
    integration = api.integrations.get((route.target or "").removeprefix("integrations/"))
    return Target(
        api_id=api.api_id,
        account_id=account_id,
        route_key=route.route_key,
        function_arn=integration_function_arn(integration) if integration else None,
        path_parameters=parameters,
        stage_variables=dict(stage.stage_variables or {}),
        throttle=stage_throttle(stage, route.route_key),
    )


def warm_invoker(pool: WarmPool) -> Invoker:
    """Invoke a function (by ARN) in the pool's warm workers, its output to its log group (gap 12)."""

    def invoke(function_arn: str, event: dict[str, Any]) -> Answer:
        try:
            function = lambda_function(function_arn)
        except Exception as error:  # noqa: BLE001 - no such function: API Gateway answers 500
            return Answer(None, {"errorType": type(error).__name__, "errorMessage": str(error)})
        invocation = pool.invoke(function.code_bytes, runtime_of(function), function.region, event)
        save_function_logs(function, invocation.logs)
        return Answer(invocation.result, invocation.error)

    return invoke


def shim_sqs_esm_not_inline() -> None:
    """SendMessage no longer invokes the queue's mappings (gap 13): a queue forgets them; the Lambda
    API still lists them, and the pollers take it from there. Idempotent."""
    from moto.sqs.models import Queue

    if isinstance(Queue.__dict__.get("lambda_event_source_mappings"), property):
        return
    forgotten = property(lambda self: {}, lambda self, value: None)  # reads empty, drops what is set
    Queue.lambda_event_source_mappings = forgotten  # type: ignore[assignment]


def sqs_mappings() -> list[SqsMapping]:
    """Every enabled event source mapping from an SQS queue, in every account and region (gap 13)."""
    from moto.awslambda.models import lambda_backends

    return [
        SqsMapping(
            uuid=esm.uuid,
            function_arn=esm.function_arn,
            queue_arn=esm.event_source_arn,
            batch_size=int(esm.batch_size),
            window_seconds=float(esm.max_batch_window or 0),
            report_batch_item_failures="ReportBatchItemFailures" in (esm.function_response_types or []),
        )
        for regions in list(lambda_backends.values())
        for backend in list(regions.values())
        for esm in backend.list_event_source_mappings("", "")
        if esm.enabled and esm.event_source_arn.split(":")[2] == "sqs"
    ]


def shim_sqs_redrive_policy_compact() -> None:
    """RedrivePolicy and RedriveAllowPolicy as compact JSON, as SQS answers them (gap 14). Idempotent."""
    from moto.sqs.models import Queue

    attributes = Queue.attributes.fget  # type: ignore[attr-defined]
    if getattr(attributes, "compacts_policies", False):
        return

    @functools.wraps(attributes)
    def compact_attributes(self: Any) -> dict[str, Any]:
        result: dict[str, Any] = attributes(self)
        for name in ("RedrivePolicy", "RedriveAllowPolicy"):
            if isinstance(result.get(name), str):
                result[name] = json.dumps(json.loads(result[name]), separators=(",", ":"))
        return result

    compact_attributes.compacts_policies = True  # type: ignore[attr-defined]
    Queue.attributes = property(compact_attributes)  # type: ignore[method-assign,assignment]


def apply_shims(endpoint: str) -> None:
    shim_lambda_config_roundtrip()
    shim_bucket_policy_conditions()
    shim_lambda_code_location(endpoint)
    shim_s3_conditional_writes_atomic()
    shim_lambda_invoke_subprocess(endpoint)
    shim_sfn_execute_state_machines(endpoint)
    shim_sfn_validate_definition()
    shim_sfn_list_versions()
    shim_sfn_execution_names()
    shim_secrets_current_follows_label()
    shim_athena_untagged_resources()
    shim_sqs_esm_not_inline()
    shim_sqs_redrive_policy_compact()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_atomically(path: str, text: str) -> None:
    Path(path + ".tmp").write_text(text)
    os.replace(path + ".tmp", path)


def stop_on_sigterm(signum: int, frame: Any) -> NoReturn:
    raise SystemExit(0)


def main() -> None:
    parser = argparse.ArgumentParser(description="moto server with lake-ingest's documented shims")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--http-api-port", type=int, default=0, help="the HTTP API front's; 0 picks one")
    parser.add_argument("--port-file", required=True, help="the endpoint URL is written here once listening")
    args = parser.parse_args()
    port = args.port or free_port()
    endpoint = f"http://127.0.0.1:{port}"
    os.environ.setdefault("MOTO_ALLOW_NONEXISTENT_REGION", "true")
    apply_shims(endpoint)

    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    pool = WarmPool(endpoint)
    front = HttpApiFront(resolve_http_api, warm_invoker(pool), args.http_api_port).start()  # gap 12
    poller = SqsEsmPoller(endpoint, sqs_mappings).start()  # gap 13
    signal.signal(signal.SIGTERM, stop_on_sigterm)
    try:
        # The front's URL first: whoever waits for the port file finds both.
        write_atomically(args.port_file + ".http-api", front.base_url)
        write_atomically(args.port_file, endpoint)
        server._thread.join()  # type: ignore[attr-defined]
    except KeyboardInterrupt:
        pass
    finally:
        poller.stop()
        front.stop()
        pool.close()
        server.stop()


if __name__ == "__main__":
    main()
