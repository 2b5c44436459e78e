"""A local AWS for the demo and the tests: moto in server mode on 127.0.0.1, with small shims.

moto 5.2.5 gaps (measured in ../shared/notes/local-aws.md) and what each shim does:

1. lambda_config_roundtrip: Lambda drops DeadLetterConfig and LoggingConfig, so every second plan
   would show a change. The shim stores what CreateFunction/UpdateFunctionConfiguration were given
   and returns it, as AWS does. (Hiding the diff with ignore_changes would hide real drift on AWS.)
2. bucket_policy_conditions: moto has no request context for bucket policies, and it applies a
   conditional statement as if its condition held, so a deny-insecure-transport policy denies
   everything. The shim skips the lake bucket policy's conditional statements named in
   SKIPPED_BUCKET_STATEMENTS, and only those: DenyInsecureTransport (moto serves plain http),
   DenyPutsWithOtherEncryption and DenyPutsWithOtherKey (SSE headers), OnlyOwnPrefix<source> and
   UnregisteredSourcesNoAccess (principal tags, which moto does not put in a request). Each of them is
   decided by the policy evaluation matrix instead (scripts/policy_matrix.py, tests/policy/matrix.toml:
   its test fails when a listed statement matches no request there). Any other conditional statement
   is left to moto, which applies it as if its condition held: a new deny fails closed locally until
   it is listed here and covered by the matrix.
3. lambda_code_location: GetFunction's Code.Location names an amazonaws.com host. The shim copies
   the deployed zip into a local bucket and returns a URL on this server, like AWS's presigned URL.
4. No Docker here, so moto cannot run a function. `scripts/run_deployed.py` runs the deployed code
   in its own process instead (deployed zip, handler, environment and timeout).
5. s3_conditional_writes_atomic: PutObject checks If-Match / If-None-Match and then writes, with no
   lock between the two (moto/s3/responses.py S3Response.put_object), while the server answers each
   request on its own thread. Two racing conditional writes can both see the condition hold and both
   succeed (10 threads on one key: 2 winners, or a 500 for a key replaced mid-response, in about 1
   race in 15 with a short thread switch interval; every one of 10 with a 50 ms pause in the gap),
   where S3 lets exactly one win and answers the others 412. The shim holds one lock across the
   check and the write of conditional PutObjects, so the cursor state's lease (lake_ingest/state.py)
   is tested under the guarantee it relies on. Unconditional PutObjects are not serialized against
   them (nothing in lake-ingest writes the state key unconditionally).

Run: python -m scripts.local_aws --port-file FILE [--port N]; prints nothing else until stopped.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import socket
import threading
from typing import Any

CODE_BUCKET = "local-aws-lambda-code"
# Conditional bucket-policy statements the shim skips (fnmatch patterns of their Sid): see gap 2.
SKIPPED_BUCKET_STATEMENTS = (
    "DenyInsecureTransport",
    "DenyPutsWithOtherEncryption",
    "DenyPutsWithOtherKey",
    "OnlyOwnPrefix*",
    "UnregisteredSourcesNoAccess",
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


def apply_shims(endpoint: str) -> None:
    shim_lambda_config_roundtrip()
    shim_bucket_policy_conditions()
    shim_lambda_code_location(endpoint)
    shim_s3_conditional_writes_atomic()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description="moto server with lake-ingest's documented shims")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--port-file", required=True, help="the endpoint URL is written here once listening")
    args = parser.parse_args()
    port = args.port or free_port()
    endpoint = f"http://127.0.0.1:{port}"
    os.environ.setdefault("MOTO_ALLOW_NONEXISTENT_REGION", "true")
    apply_shims(endpoint)

    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    with open(args.port_file + ".tmp", "w") as handle:
        handle.write(endpoint)
    os.replace(args.port_file + ".tmp", args.port_file)
    try:
        server._thread.join()  # type: ignore[attr-defined]
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
