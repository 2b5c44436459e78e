"""Backfill wall time at max_concurrency 1 and 5, side by side in one run.

Applies examples/multi-source to a fresh local AWS (its `events` source: a window source with
orchestration on), then backfills the same 30 daily windows twice under two backfill ids, once with at
most 1 window at a time and once with 5, through the backfill command's own code (lake_ingest.backfill)
and the backfill state machine: a Distributed Map whose children invoke the deployed function (the
local AWS runs its zip in a subprocess per invocation, as Lambda runs a fresh environment). Prints a
table; the ratio is what carries over to AWS, not the absolute times. Usage: `python -m bench.backfill_bench`
(`make bench`); BENCH_BACKFILL_DAYS=30 picks the number of windows.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

from scripts.harness import Server, Terraform, copy_example, local_client
from scripts.upstream import sample_oauth2_secret

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lambda_src"))

from lake_ingest.backfill import Backfills, BackfillTarget, plan_windows
from lake_ingest.incremental import Duration

CONCURRENCIES = (1, 5)
LATENCIES = (0.0, 0.5)  # seconds the sample API takes per page: at once, and a slow API


def wait(backfills: Backfills, execution_arn: str) -> None:
    while backfills.progress(execution_arn)["status"] == "RUNNING":
        time.sleep(0.25)


def main() -> None:
    days = int(os.environ.get("BENCH_BACKFILL_DAYS", "30"))
    token = "bench-" + secrets.token_urlsafe(16)
    with tempfile.TemporaryDirectory(prefix="backfill-bench-") as tmp:
        workdir = Path(tmp)
        servers = [
            Server("local-aws", ["scripts.local_aws"], workdir),
            Server("sample-api", ["scripts.upstream", "--token", token], workdir),
        ]
        try:
            endpoint, api = servers[0].url, servers[1].url
            terraform = Terraform(copy_example("multi-source", workdir), workdir)
            terraform.init()
            print(f"applying examples/multi-source to the local AWS ({endpoint}) ...", flush=True)
            terraform(
                "apply", "-auto-approve", "-no-color",
                f"-var=aws_endpoint={endpoint}", f"-var=api_base_url={api}", "-var=region=us-east-1",
            )  # fmt: skip
            outputs = json.loads(terraform("output", "-json").stdout)
            events = outputs["sources"]["value"]["events"]
            local_client("secretsmanager", endpoint).put_secret_value(
                SecretId=events["secret_arn"], SecretString=json.dumps(sample_oauth2_secret(token))
            )
            target = BackfillTarget.from_source(json.loads(events["source_json"]))
            backfills = Backfills(
                target, local_client("s3", endpoint), local_client("stepfunctions", endpoint)
            )
            start = datetime(2026, 1, 1, tzinfo=UTC)
            windows = plan_windows(start, start + timedelta(days=days), Duration(1, "d"), "UTC")
            rows = []
            for latency in LATENCIES:
                admin(api, token, f"/admin/latency?seconds={latency}")
                for concurrency in CONCURRENCIES:
                    backfill_id = f"bench-l{int(latency * 1000)}-c{concurrency}"
                    began = time.monotonic()
                    started = backfills.start(backfill_id, windows, {"windows": len(windows)}, concurrency)
                    wait(backfills, started["execution_arn"])
                    elapsed = time.monotonic() - began
                    status = backfills.status(backfill_id).as_dict()
                    rows.append((latency, concurrency, status, elapsed))
                    print(
                        f"API latency {latency} s, max_concurrency {concurrency}: {elapsed:.1f} s", flush=True
                    )
        finally:
            for server in servers:
                server.stop()
    print_table(rows)


def admin(api: str, token: str, path: str) -> None:
    request = urllib.request.Request(api + path, method="POST", headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=10):  # the loopback sample API
        pass


def print_table(rows: list[tuple[float, int, dict, float]]) -> None:
    print(
        "\n| API latency per page | max_concurrency | windows done | records | wall time (s) | windows/s |",
        end="",
    )
    print(" time vs 1 |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    baseline: dict[float, float] = {}
    for latency, concurrency, status, elapsed in rows:
        baseline.setdefault(latency, elapsed)
        done = status["windows"]["done"]
        print(
            f"| {latency:.1f} s | {concurrency} | {done}/{status['windows']['total']} | "
            f"{status['records_ingested']} | {elapsed:.1f} | {done / elapsed:.2f} | "
            f"{elapsed / baseline[latency]:.2f}x |"
        )
    print()


if __name__ == "__main__":
    main()
