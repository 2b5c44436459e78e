"""Naive handler vs lake-ingest's, side by side: wall time, peak RSS and bytes stored per body size.

lake-ingest runs twice per size: raw zone only (`table.enabled = false`) and raw plus records zone
(the default: every record again as gzip NDJSON). Each runs in a fresh process against the same
loopback API (bench.payload_server) and the same local AWS (moto server), one invocation per cell.
Usage: `python -m bench.ingest_bench` (`make bench`); BENCH_SIZES=10M,200M,1G picks the sizes. The
naive handler is skipped at a size whose estimated footprint (9x the body) does not fit in the memory
available.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from scripts.harness import ROOT, Server, local_client

from bench.payload_server import body_size_and_records

MIB = 1024 * 1024
UNITS = {"K": 1024, "M": MIB, "G": 1024 * MIB}
# (row label, bench.run_handler's handler, records zone on)
VARIANTS = (
    ("naive", "naive", False),
    ("raw only", "lake-ingest", False),
    ("raw+records", "lake-ingest", True),
)
NAIVE_FOOTPRINT = 9  # body bytes + text + encoded copy + parsed objects, measured at 200 MB


def parse_size(text: str) -> int:
    text = text.strip().upper()
    return int(float(text[:-1]) * UNITS[text[-1]]) if text[-1] in UNITS else int(text)


def available_bytes() -> int:
    with open("/proc/meminfo") as handle:
        for line in handle:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return 0


def run_child(impl: str, env: dict[str, str], workdir: Path) -> dict:
    """Run one invocation; return its handler time, peak RSS and result."""
    result_file = workdir / f"{impl}.json"
    result_file.unlink(missing_ok=True)
    with open(workdir / f"{impl}.log", "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "bench.run_handler", impl, str(result_file)],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        _, status, usage = os.wait4(process.pid, 0)
    if status != 0 or not result_file.exists():
        raise RuntimeError(f"{impl} failed (status {status}); see {workdir / f'{impl}.log'}")
    outcome = json.loads(result_file.read_text())
    outcome["peak_rss"] = usage.ru_maxrss * 1024  # Linux reports KiB
    outcome["cpu"] = usage.ru_utime + usage.ru_stime  # the process's CPU time, all threads (not moto's)
    return outcome


def stored_bytes(s3, bucket: str, prefix: str) -> int:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    objects = [o for page in pages for o in page.get("Contents", [])]
    for o in objects:
        s3.delete_object(Bucket=bucket, Key=o["Key"])
    return sum(o["Size"] for o in objects)


def main() -> None:
    sizes = [parse_size(s) for s in os.environ.get("BENCH_SIZES", "10M,200M,1G").split(",")]
    workdir = Path(tempfile.mkdtemp(prefix="lake-ingest-bench-"))
    aws = Server("local-aws", ["scripts.local_aws"], workdir)
    api = Server("payload", ["bench.payload_server"], workdir)
    rows = []
    try:
        s3 = local_client("s3", aws.url)
        bucket = "bench-raw"
        s3.create_bucket(Bucket=bucket)
        key_arn = local_client("kms", aws.url).create_key()["KeyMetadata"]["Arn"]
        secret_arn = local_client("secretsmanager", aws.url).create_secret(
            Name="bench/api", SecretString=json.dumps({"api_key": "bench-token-0123456789"})
        )["ARN"]
        base_env = {
            **os.environ,
            "PYTHONPATH": f"{ROOT / 'lambda_src'}{os.pathsep}{ROOT}",
            "AWS_ENDPOINT_URL": aws.url,
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
            "SOURCE_ID": "bench",
            "RAW_BUCKET": bucket,
            "KMS_KEY_ARN": key_arn,
            "SECRET_ARN": secret_arn,
            "POWERTOOLS_METRICS_NAMESPACE": "LakeIngestBench",
            "ALLOW_HTTP_LOOPBACK": "true",  # the payload server is plain http on 127.0.0.1
        }
        for size in sizes:
            body_bytes, records = body_size_and_records(size)
            url = f"{api.url}/orders?bytes={size}"
            for label, impl, records_zone in VARIANTS:
                prefix = f"{label.replace(' ', '-').replace('+', '-')}-{size}"
                env = {
                    **base_env,
                    "RECORDS_CONFIG": json.dumps({"enabled": records_zone}),
                    "RAW_PREFIX": prefix,
                    "API_URL": url,
                    "API_CONFIG": json.dumps(
                        {
                            "endpoint": url,
                            "auth": {"type": "bearer", "secret_field": "api_key"},
                            "timeout_seconds": 60,
                        }
                    ),
                }
                if impl == "naive" and body_bytes * NAIVE_FOOTPRINT > available_bytes() * 0.8:
                    skipped = "skipped: would not fit in memory"
                    rows.append({"size": size, "label": label, "note": skipped})
                    continue
                outcome = run_child(impl, env, workdir)
                counted = outcome["result"].get("records", outcome["result"].get("records_ingested"))
                note = "" if counted == records else f"records {counted} != {records}"
                records_bytes = stored_bytes(s3, bucket, f"{prefix}/records/")
                rows.append(
                    {
                        "size": size,
                        "label": label,
                        "seconds": outcome["seconds"],
                        "cpu": outcome["cpu"],
                        "rss": outcome["peak_rss"],
                        "body": body_bytes,
                        "stored": stored_bytes(s3, bucket, prefix) + records_bytes,
                        "records_zone": records_bytes,
                        "note": note,
                    }
                )
                print(
                    f"  {label:>11} {size / MIB:>6.0f} MiB: {outcome['seconds']:.2f} s",
                    file=sys.stderr,
                    flush=True,
                )
    finally:
        api.stop()
        aws.stop()
    print_table(rows)


def print_table(rows: list[dict]) -> None:
    print(
        "\n| body | handler | wall time (s) | page MB/s | CPU (s) | peak RSS (MiB) | bytes stored "
        "| of which records zone | note |"
    )
    print("|---:|---|---:|---:|---:|---:|---:|---:|---|")
    for row in rows:
        cells = [f"{row['size'] / MIB:.0f} MiB", row["label"]]
        if "seconds" in row:
            cells += [
                f"{row['seconds']:.2f}",
                f"{row['body'] / row['seconds'] / 1e6:.0f}",
                f"{row['cpu']:.1f}",
                f"{row['rss'] / MIB:.0f}",
                f"{row['stored']:,}",
                f"{row['records_zone']:,}",
            ]
        else:
            cells += ["-"] * 6
        print("| " + " | ".join([*cells, row["note"]]) + " |")
    print()
    measured = {(r["size"], r["label"]): r for r in rows if "seconds" in r}
    for size in sorted({r["size"] for r in rows}):
        naive, raw, both = (measured.get((size, v[0])) for v in VARIANTS)
        if raw and both:
            wall, cpu = both["seconds"] / raw["seconds"], both["cpu"] / raw["cpu"]
            print(
                f"{size / MIB:.0f} MiB: raw+records takes {wall:.2f}x the wall time and {cpu:.2f}x the CPU "
                "time of raw only",
                end="",
            )
            print(f", {both['seconds'] / naive['seconds']:.2f}x the naive handler's time" if naive else "")


if __name__ == "__main__":
    main()
