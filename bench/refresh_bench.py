"""Secret versions written by an oauth2_refresh_token source: how fast the secret's versions grow.

Secrets Manager removes a secret's versions beyond about 100, but never one younger than 24 hours, so
a source that writes more than about one version per 10 minutes, sustained, eventually runs into the
version quota and cannot save its next rotated refresh token (README, "Rotating refresh tokens").

Two scenarios against a local AWS and a token endpoint on loopback that rotates refresh tokens and
revokes the family on reuse:

  concurrency   5 workers, each running `RUNS_PER_WORKER` invocations one after the other, every
                invocation in a fresh process (a cold execution environment), tokens living 1 hour:
                an hour of 5-minute runs at concurrency 5 (a backfill, or overlapping schedules)
  403 pages     one run of 5 pages, each refused once with 403 and Retry-After (GitHub's rate limit;
                no invalid_token in WWW-Authenticate) before it is served

Usage: `python -m bench.refresh_bench` (part of `make bench`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from scripts.harness import ROOT, Server, local_client
from scripts.oauth2_server import TOKEN_PATH, TokenEndpoint
from scripts.upstream import Reply, ScriptedUpstream, SeenRequest

WORKERS = 5
RUNS_PER_WORKER = int(os.environ.get("BENCH_REFRESH_RUNS", "12"))
PAGES = 5
CLIENT_ID, CLIENT_SECRET = "bench-client", "bench-client-secret"
PROGRAM = (
    "import json, sys; from lake_ingest import handler; from tests.conftest import LambdaContext; "
    "print(json.dumps(handler.lambda_handler({'run_id': sys.argv[1]}, LambdaContext(120))))"
)


class Api:
    """A token endpoint and a paged API; `refuse_first` refuses every page once with 403 (a rate limit)."""

    def __init__(self, expires_in: float, refuse_first: bool = False) -> None:
        self.endpoint = TokenEndpoint(
            CLIENT_ID, CLIENT_SECRET, expires_in=expires_in, reuse_revokes_family=True
        )
        self.refuse_first = refuse_first
        self._refused: set[str] = set()
        self._lock = threading.Lock()
        self.server = ScriptedUpstream(responder=self.respond).start()

    def respond(self, seen: SeenRequest) -> Reply:
        if seen.path == TOKEN_PATH:
            return self.endpoint.respond(seen)
        if not self.endpoint.accepts(seen.headers.get("authorization")):
            return Reply(
                401, b'{"error": "invalid_token"}', {"WWW-Authenticate": 'Bearer error="invalid_token"'}
            )
        page = seen.query.get("page", ["1"])[0]
        key = f"{seen.query.get('run', [''])[0]}#{page}"
        with self._lock:
            first = self.refuse_first and key not in self._refused
            self._refused.add(key)
        if first:
            return Reply(
                403,
                b'{"message": "API rate limit exceeded"}',
                {"Content-Type": "application/json", "Retry-After": "0"},
            )
        body = {"data": [{"id": int(page) * 10 + i} for i in range(2)], "pages": PAGES}
        return Reply(200, json.dumps(body).encode())


def deploy(endpoint: str, api: Api) -> dict[str, str]:
    """A bucket, key and secret on the local AWS; the function's environment for them."""
    suffix = str(time.monotonic_ns())[-8:]
    bucket = f"bench-refresh-{suffix}"
    local_client("s3", endpoint).create_bucket(Bucket=bucket)
    key_arn = local_client("kms", endpoint).create_key()["KeyMetadata"]["Arn"]
    secret = {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "refresh_token": api.endpoint.issue_refresh_token(),
    }
    secret_arn = local_client("secretsmanager", endpoint).create_secret(
        Name=f"bench/{suffix}", SecretString=json.dumps(secret)
    )["ARN"]
    api_config = {
        "endpoint": f"{api.server.url}/v1/tickets",
        "auth": {"type": "oauth2_refresh_token", "token_url": f"{api.server.url}{TOKEN_PATH}"},
        "records_path": "data",
        "pagination": {"type": "page_number", "total_pages_path": "pages"},
        "timeout_seconds": 10,
        "max_retries": 2,
    }
    return {
        "SOURCE_ID": "bench",
        "RAW_BUCKET": bucket,
        "SECRET_ARN": secret_arn,
        "KMS_KEY_ARN": key_arn,
        "API_CONFIG": json.dumps(api_config),
        "ALLOW_HTTP_LOOPBACK": "true",
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_METRICS_NAMESPACE": "LakeIngestBench",
        "PYTHONPATH": f"{ROOT / 'lambda_src'}{os.pathsep}{ROOT}",
    }


def invoke(env: dict[str, str], run_id: str) -> str:
    """One invocation in a fresh process (a cold execution environment); its status."""
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM, run_id],
        env={**os.environ, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0:
        return "FAILED: " + (done.stderr.strip().splitlines() or ["?"])[-1][:200]
    return str(json.loads(done.stdout.strip().splitlines()[-1])["status"])


def versions(endpoint: str, env: dict[str, str]) -> int:
    listed = local_client("secretsmanager", endpoint).list_secret_version_ids(SecretId=env["SECRET_ARN"])
    return len(listed["Versions"]) - 1  # the first version is the operator's


def scenario(endpoint: str, name: str, api: Api, workers: int, runs_per_worker: int) -> dict[str, Any]:
    env = deploy(endpoint, api)
    started = time.monotonic()

    def worker(index: int) -> list[str]:
        return [invoke(env, f"{name}-{index}-{run}") for run in range(runs_per_worker)]

    with ThreadPoolExecutor(workers) as pool:
        statuses = [s for found in pool.map(worker, range(workers)) for s in found]
    live = api.endpoint.live_refresh_tokens()
    secret = json.loads(
        local_client("secretsmanager", endpoint).get_secret_value(SecretId=env["SECRET_ARN"])["SecretString"]
    )
    return {
        "scenario": name,
        "invocations": len(statuses),
        "succeeded": statuses.count("SUCCESS"),
        "token requests": len(api.endpoint.seen),
        "secret versions written": versions(endpoint, env),
        "secret holds the live token": live == {secret["refresh_token"]},
        "seconds": round(time.monotonic() - started, 1),
        "failures": sorted({s for s in statuses if s != "SUCCESS"})[:3],
    }


def main() -> None:
    with tempfile.TemporaryDirectory() as workdir:
        local_aws = Server("local-aws", ["scripts.local_aws"], Path(workdir))
        apis: list[Api] = []
        try:
            apis.append(Api(expires_in=3600))
            rows = [scenario(local_aws.url, "concurrency", apis[-1], WORKERS, RUNS_PER_WORKER)]
            apis.append(Api(expires_in=3600, refuse_first=True))
            rows.append(scenario(local_aws.url, "403-pages", apis[-1], 1, 1))
        finally:
            for api in apis:
                api.server.stop()
            local_aws.stop()
    print(
        f"\n## Refresh-token rotations (1-hour tokens; {WORKERS} workers x {RUNS_PER_WORKER} cold "
        "invocations)\n"
    )
    columns = [k for k in rows[0] if k != "failures"]
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    for row in rows:
        print("| " + " | ".join(str(row[c]) for c in columns) + " |")
    for row in rows:
        if row["failures"]:
            print(f"{row['scenario']}: failures: {row['failures']}")


if __name__ == "__main__":
    main()
