"""Cold-start cost: a fresh process importing the handler and creating its AWS clients.

lake-ingest (`import lake_ingest.handler`, its S3 client and its Secrets Manager provider, as the
first invocation creates them) against
the naive handler's init (`import boto3, requests` and two clients), median of several fresh
processes each; plus the deployed package's size. Interpreter start-up is the same for both and is
left out. Usage: `python -m bench.cold_start` (part of `make bench`); BENCH_RUNS sets the count.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys

from scripts.harness import ROOT

RUNS = int(os.environ.get("BENCH_RUNS", "15"))
INIT = {
    "naive": ("import boto3, requests\nboto3.client('secretsmanager'); boto3.client('s3')\n"),
    "lake-ingest": (
        "import lake_ingest.handler as handler\n"
        "from lake_ingest.secrets import secrets_provider\n"
        "handler._s3_client(); secrets_provider()\n"
    ),
}
TIMED = "import time\nstarted = time.perf_counter()\n{init}print(time.perf_counter() - started)\n"


def init_seconds(code: str) -> float:
    env = {
        **os.environ,
        "PYTHONPATH": f"{ROOT / 'lambda_src'}{os.pathsep}{ROOT}",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
    }
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return float(done.stdout.strip().splitlines()[-1])


def main() -> None:
    samples: dict[str, list[float]] = {name: [] for name in INIT}
    for _ in range(RUNS):  # interleaved, so drift on a noisy machine hits both alike
        for name, init in INIT.items():
            samples[name].append(init_seconds(TIMED.format(init=init)))
    median = {name: statistics.median(values) * 1000 for name, values in samples.items()}
    print(f"\n| handler init ({RUNS} fresh processes each) | median (ms) | min (ms) | max (ms) |")
    print("|---|---:|---:|---:|")
    for name, values in samples.items():
        print(f"| {name} | {median[name]:.0f} | {min(values) * 1000:.0f} | {max(values) * 1000:.0f} |")
    ratio = median["lake-ingest"] / median["naive"]
    print(f"\nlake-ingest init is {ratio:.2f}x the naive handler's (target <= 1.2x)")
    package = ROOT / "dist" / "lake-ingest.zip"
    if package.exists():
        print(
            f"package zip: {package.stat().st_size / 1e6:.2f} MB (target < 3 MB): {package.relative_to(ROOT)}"
        )
    else:
        print("package zip: not built (run `make package`)")


if __name__ == "__main__":
    main()
