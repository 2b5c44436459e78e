"""Shared fixtures: a moto server and a scripted upstream API, both real servers on 127.0.0.1."""

from __future__ import annotations

import io
import json
import os
import secrets
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from scripts.harness import Server, Terraform, copy_example, local_client, local_push_url
from scripts.local_aws import free_port, shim_s3_conditional_writes_atomic, shim_secrets_current_follows_label
from scripts.upstream import ScriptedUpstream

from lake_ingest import handler
from lake_ingest.__main__ import LocalContext

REGION = "us-east-1"


@pytest.hookimpl(optionalhook=True)  # a hook of pytest-xdist: unknown without it
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """`--dist loadfile`, the files sharing an applied session fixture as one unit (tests/xdist_units.py)."""
    if config.getoption("dist") != "loadfile":
        return None
    from tests.xdist_units import FilesSharingAnApplyRunTogether

    return FilesSharingAnApplyRunTogether(config, log)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """On a pytest-xdist worker, the longest units first (tests/xdist_units.py); alone, file order."""
    if os.environ.get("PYTEST_XDIST_WORKER") is not None:
        from tests.xdist_units import longest_first

        items.sort(key=longest_first)


@pytest.fixture(scope="session")
def aws_endpoint() -> Iterator[str]:
    """A moto server (S3, Secrets Manager, KMS, ...) for the whole session."""
    from moto.server import ThreadedMotoServer

    shim_s3_conditional_writes_atomic()  # scripts/local_aws.py gap 5: S3 lets one conditional write win
    shim_secrets_current_follows_label()  # gap 10: a plain read answers AWSCURRENT, wherever it moved
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    saved = {
        k: os.environ.get(k)
        for k in (
            "AWS_ENDPOINT_URL",
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_DEFAULT_REGION",
            "AWS_REGION",
        )
    }
    os.environ.update(
        AWS_ENDPOINT_URL=endpoint,
        AWS_ACCESS_KEY_ID="test",
        AWS_SECRET_ACCESS_KEY="test",
        AWS_DEFAULT_REGION=REGION,
        AWS_REGION=REGION,
    )
    yield endpoint
    server.stop()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture
def upstream() -> Iterator[ScriptedUpstream]:
    server = ScriptedUpstream().start()
    yield server
    server.stop()


@pytest.fixture
def other_upstream() -> Iterator[ScriptedUpstream]:
    """A second API on another port: another origin than `upstream`."""
    server = ScriptedUpstream().start()
    yield server
    server.stop()


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    """What the handler's Powertools logger writes, exactly as Lambda would ship it."""
    stream = io.StringIO()
    previous = handler.logger.registered_handler.setStream(stream)
    yield stream
    handler.logger.registered_handler.setStream(previous)


def LambdaContext(
    timeout_seconds: float = 60.0,
    aws_request_id: str = "00000000-0000-4000-8000-000000000000",
    function_name: str = "lake-ingest-test",
) -> LocalContext:
    """The context object Lambda passes, as the local runner builds it."""
    arn = f"arn:aws:lambda:{REGION}:123456789012:function:{function_name}"
    return LocalContext(function_name, timeout_seconds, aws_request_id, 256, arn)


@dataclass
class Source:
    """One configured data source backed by real (moto) AWS resources."""

    bucket: str
    key_arn: str
    secret_arn: str
    secret_value: dict[str, str]
    env: dict[str, str]
    s3: Any

    def keys(self) -> list[str]:
        """The raw zone and the state a run leaves: every object but the failure records
        (`_failure.json`), the records zone (`records/`, `published/`) and the schema state, which
        their own tests look at (all_keys)."""
        return [
            k
            for k in self.all_keys()
            if not k.endswith(("/_failure.json", "/_state/schema.json"))
            and "/records/" not in k
            and "/published/" not in k
        ]

    def all_keys(self) -> list[str]:
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket)
        return sorted(o["Key"] for page in pages for o in page.get("Contents", []))


@pytest.fixture
def make_source(aws_endpoint: str, monkeypatch: pytest.MonkeyPatch):
    """Create bucket, key and secret, and set the handler's environment for one source."""

    def make(
        api_config: dict[str, Any],
        secret_value: dict[str, str] | None = None,
        source_id: str = "orders-api",
        **env: str,
    ) -> Source:
        suffix = uuid.uuid4().hex[:10]
        s3 = boto3.client("s3", region_name=REGION)
        bucket = f"raw-{suffix}"
        s3.create_bucket(Bucket=bucket)
        key_arn = boto3.client("kms", region_name=REGION).create_key()["KeyMetadata"]["Arn"]
        secret_value = {"api_key": f"sk-live-{uuid.uuid4().hex}"} if secret_value is None else secret_value
        secret_arn = boto3.client("secretsmanager", region_name=REGION).create_secret(
            Name=f"lake-ingest/{source_id}-{suffix}", SecretString=json.dumps(secret_value)
        )["ARN"]
        variables = {
            "SOURCE_ID": source_id,
            "RAW_BUCKET": bucket,
            "SECRET_ARN": secret_arn,
            "KMS_KEY_ARN": key_arn,
            "API_CONFIG": json.dumps(api_config),
            "POWERTOOLS_METRICS_NAMESPACE": "LakeIngestTest",
            # The tests' upstreams are plain-http servers on loopback: opt in, as a local test must.
            "ALLOW_HTTP_LOOPBACK": "true",
            **env,
        }
        for name in ("RAW_PREFIX", "SECRET_CACHE_SECONDS", "RAW_BUCKET_OWNER", "AWS_LAMBDA_RUNTIME_API"):
            monkeypatch.delenv(name, raising=False)
        for name, value in variables.items():
            monkeypatch.setenv(name, value)
        return Source(bucket, key_arn, secret_arn, secret_value, variables, s3)

    return make


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep retry sleeps short; tests that check waiting use Retry-After, which is honoured as sent."""
    from lake_ingest import http_client

    monkeypatch.setattr(http_client, "BACKOFF_BASE_SECONDS", 0.02)


def multi_source_variables(aws_endpoint: str, api_url: str) -> list[str]:
    """The -var arguments that point examples/multi-source at a local AWS and the sample API."""
    return [f"-var=aws_endpoint={aws_endpoint}", f"-var=api_base_url={api_url}", "-var=region=us-east-1"]


@pytest.fixture(scope="session")
def multi_source(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """examples/multi-source applied once per session (one shared lake, three sources)."""
    with applied_example(
        "multi-source", tmp_path_factory.mktemp("multi"), multi_source_variables
    ) as deployment:
        yield deployment


STRIPE_SECRET = "whsec_e2e_" + uuid.uuid4().hex
GITHUB_SECRET = "gh_e2e_" + uuid.uuid4().hex
WINDOW_SECONDS = 1


def push_variables(aws_endpoint: str, api_url: str) -> list[str]:
    return [
        f"-var=aws_endpoint={aws_endpoint}",
        "-var=region=us-east-1",
        f"-var=batch_window_seconds={WINDOW_SECONDS}",
    ]


@pytest.fixture(scope="session")
def push_sources(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """examples/push applied once per session (two push sources in one lake), the signing secrets set;
    adds `urls` (each source's local push URL) and `source_files` (its source.json)."""
    with applied_example("push", tmp_path_factory.mktemp("push"), push_variables) as deployment:
        secrets_manager = local_client("secretsmanager", deployment["endpoint"])
        arns = deployment["outputs"]["secret_arns"]
        for source, value in (("stripe-events", STRIPE_SECRET), ("github-events", GITHUB_SECRET)):
            secrets_manager.put_secret_value(
                SecretId=arns[source], SecretString=json.dumps({"signing_secrets": [{"value": value}]})
            )
        deployment["urls"] = {
            source: local_push_url(url, deployment["http_api"])
            for source, url in deployment["outputs"]["push_urls"].items()
        }
        for source, out in deployment["outputs"]["sources"].items():
            path = deployment["workdir"] / f"{source}.json"
            path.write_text(out["source_json"])
            deployment.setdefault("source_files", {})[source] = path
        yield deployment


@contextmanager
def applied_example(
    example: str, workdir: Path, variables: Callable[[str, str], list[str]]
) -> Iterator[dict]:
    """examples/<example> applied with the real terraform to a fresh local AWS, with the sample API up.

    `variables(aws_endpoint, api_url)` gives the -var arguments. Yields endpoint, outputs, api (the
    sample API's URL), token (its bearer token), terraform, variables, state and workdir; stops both
    servers after.
    """
    if shutil.which("terraform") is None:
        pytest.fail("terraform is not on PATH: the module tests need the real binary")
    config = copy_example(example, workdir)
    token = "tok-" + secrets.token_urlsafe(24)
    servers = [
        Server("local-aws", ["scripts.local_aws"], workdir),
        Server("sample-api", ["scripts.upstream", "--token", token], workdir),
    ]
    try:
        endpoint = servers[0].url
        terraform = Terraform(config, workdir)
        arguments = variables(endpoint, servers[1].url)
        terraform.init()
        terraform("apply", "-auto-approve", "-no-color", *arguments)
        outputs = {k: v["value"] for k, v in json.loads(terraform("output", "-json").stdout).items()}
        yield {
            "endpoint": endpoint,
            "http_api": servers[0].http_api_url,  # the local HTTP API front (scripts/local_aws.py gap 12)
            "outputs": outputs,
            "api": servers[1].url,
            "token": token,
            "terraform": terraform,
            "variables": arguments,
            "state": config / "terraform.tfstate",
            "workdir": workdir,
        }
    finally:
        for server in servers:
            server.stop()
