"""Push sources: events per second one endpoint accepted on this machine, and the objects that land.

examples/push is applied to a local AWS (moto + the shims: the HTTP API front runs the deployed
ingress in warm workers, the SQS poller hands the buffer to the deployed writer in batches), the
route throttle raised so that it does not decide the figure. Signed Stripe-style events of about
`EVENT_BYTES` bytes are posted at client concurrency 1 and 4; every one must be answered 200. Then the
records objects the writer landed are listed: events per object, raw and gzip bytes.

These are local figures (Python + moto on this machine's cores), not AWS's: on AWS the HTTP API and
Lambda scale out, and the route throttle (default 20 requests/s, burst 40) is what a sender meets.
`verify` is the signature check alone (HMAC-SHA256 over the body), per event.

Usage: `python -m bench.push_bench` (part of `make bench`); BENCH_PUSH_EVENTS sets events per run.
"""

from __future__ import annotations

import gzip
import json
import os
import random
import secrets
import statistics
import tempfile
import time
import timeit
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from scripts.harness import Server, Terraform, copy_example, local_client, local_push_url
from scripts.webhooks import post, signed_headers

EVENTS = int(os.environ.get("BENCH_PUSH_EVENTS", "400"))
EVENT_BYTES = 2000
SECRET = "whsec_bench"
WINDOW_SECONDS = 5


def event(number: int, run: str) -> bytes:
    """A Stripe-like event of about EVENT_BYTES bytes: invoice lines with random ids and amounts, so
    that it compresses like real JSON does (not like a run of one character)."""
    lines: list[dict[str, Any]] = []
    body = {
        "id": f"evt_{run}_{number}",
        "object": "event",
        "type": "invoice.paid",
        "created": int(time.time()),
    }
    body["data"] = {"object": {"lines": lines}}
    while len(json.dumps(body)) < EVENT_BYTES:
        lines.append(
            {
                "id": "il_" + secrets.token_hex(8),
                "amount": random.randint(1, 10**6),
                "price": "price_" + secrets.token_hex(6),
                "description": f"Plan {random.choice('ABCDEFGH')} x {random.randint(1, 50)}",
            }
        )
    return json.dumps(body).encode()


def send(url: str, count: int, concurrency: int, run: str) -> dict[str, Any]:
    """Post `count` signed events with `concurrency` clients: throughput, latencies, statuses."""

    def one(number: int) -> tuple[int, float]:
        body = event(number, run)
        started = time.perf_counter()
        answer = post(url, body, signed_headers("stripe", SECRET, body))
        return answer.status, (time.perf_counter() - started) * 1000

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        results = list(pool.map(one, range(count)))
    elapsed = time.perf_counter() - started
    latencies = sorted(ms for _, ms in results)
    statuses = {status for status, _ in results}
    return {
        "clients": concurrency,
        "events": count,
        "accepted/s": f"{count / elapsed:.0f}",
        "p50 ms": f"{statistics.median(latencies):.1f}",
        "p99 ms": f"{latencies[int(len(latencies) * 0.99) - 1]:.1f}",
        "statuses": ",".join(map(str, sorted(statuses))),
    }


def verify_microseconds() -> float:
    from lake_ingest.push import verify
    from lake_ingest.push.config import parse_push_config
    from lake_ingest.push.verify import SigningSecret

    body = event(0, "verify")
    headers = signed_headers("stripe", SECRET, body)
    config = parse_push_config(json.dumps({"signature": "stripe"}))
    secrets = [SigningSecret(SECRET)]
    from datetime import UTC, datetime

    now = datetime.now(UTC)

    def check() -> None:
        assert verify.matches(verify.presented(config, headers), body, secrets, now)

    return min(timeit.repeat(check, number=2000, repeat=3)) / 2000 * 1e6


def objects(endpoint: str, bucket: str, prefix: str, deadline: float) -> list[dict[str, int]]:
    """The records objects under prefix once the buffer is drained: events, raw and gzip bytes each."""
    s3 = local_client("s3", endpoint)
    found: list[dict[str, int]] = []
    while time.monotonic() < deadline:
        keys = [
            o["Key"]
            for page in s3.get_paginator("list_objects_v2").paginate(
                Bucket=bucket, Prefix=f"{prefix}/records/"
            )
            for o in page.get("Contents", [])
        ]
        found = []
        for key in keys:
            packed = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            raw = gzip.decompress(packed)
            found.append({"events": raw.count(b"\n"), "raw": len(raw), "gzip": len(packed)})
        if sum(o["events"] for o in found) >= 2 * EVENTS:
            break
        time.sleep(2)
    return found


def sizes(landed: list[dict[str, int]]) -> dict[str, Any]:
    counts = [o["events"] for o in landed]
    return {
        "objects": len(landed),
        "events": sum(counts),
        "events/object (min/median/max)": f"{min(counts)}/{int(statistics.median(counts))}/{max(counts)}",
        "raw KiB/object (median)": f"{statistics.median(o['raw'] for o in landed) / 1024:.0f}",
        "gzip KiB/object (median)": f"{statistics.median(o['gzip'] for o in landed) / 1024:.0f}",
    }


def table(rows: list[dict[str, Any]]) -> None:
    columns = list(rows[0])
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    for row in rows:
        print("| " + " | ".join(str(row[c]) for c in columns) + " |")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        server = Server("local-aws", ["scripts.local_aws"], work)
        try:
            config = copy_example("push", work)
            # Only the stripe source: the bench measures one endpoint, its throttle out of the way.
            main_tf = config / "main.tf"
            text = main_tf.read_text().replace(
                '    event_time = "$.created"\n',
                '    event_time = "$.created"\n    throttle   = { rate = 5000, burst = 5000 }\n',
            )
            main_tf.write_text(text)
            terraform = Terraform(config, work)
            terraform.init()
            variables = [
                f"-var=aws_endpoint={server.url}",
                "-var=region=us-east-1",
                f"-var=batch_window_seconds={WINDOW_SECONDS}",
            ]
            started = time.monotonic()
            terraform("apply", "-auto-approve", "-no-color", *variables)
            print(f"examples/push applied in {time.monotonic() - started:.0f}s")
            outputs = {k: v["value"] for k, v in json.loads(terraform("output", "-json").stdout).items()}
            local_client("secretsmanager", server.url).put_secret_value(
                SecretId=outputs["secret_arns"]["stripe-events"],
                SecretString=json.dumps({"signing_secrets": [{"value": SECRET}]}),
            )
            url = local_push_url(outputs["push_urls"]["stripe-events"], str(server.http_api_url))
            send(url, 20, 2, "warm")  # warm workers up (not counted)
            rows = [send(url, EVENTS, clients, f"c{clients}") for clients in (1, 4)]
            print("\nOne local endpoint (Python + moto, 2 cores; not AWS figures):\n")
            table(rows)
            micros = verify_microseconds()
            print(f"\nverify (signature check alone): {micros:.1f} µs per {EVENT_BYTES}-byte event")
            landed = objects(
                server.url, outputs["lake"]["bucket_name"], "stripe-events", time.monotonic() + 120
            )
            landed = [o for o in landed if o["events"]]
            print(f"\nRecords objects the writer landed (window {WINDOW_SECONDS}s, batch size 1000):\n")
            table([sizes(landed)])
        finally:
            server.stop()


if __name__ == "__main__":
    main()
