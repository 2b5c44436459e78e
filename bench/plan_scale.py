"""Terraform at scale: plan one shared lake with 5 and 50 sources; time and resources per source.

Plans with the real terraform binary and provider against the local AWS (moto server; plan only
reads the account and region). Usage: `python -m bench.plan_scale` (part of `make bench`);
BENCH_SOURCES=5,50 picks the counts.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

from scripts.harness import ROOT, Server, Terraform

CONFIG = """
terraform {{
  required_providers {{
    aws = {{ source = "hashicorp/aws", version = ">= 5.100.0, < 7.0.0" }}
  }}
}}

provider "aws" {{
  region                      = "us-east-1"
  access_key                  = "test"
  secret_key                  = "test"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  s3_use_path_style           = true
  endpoints {{
    iam = "{endpoint}"
    sts = "{endpoint}"
  }}
}}

module "lake" {{
  source  = "{root}/modules/lake"
  name    = "bench-lake"
  sources = {{ for i in range({count}) : format("source-%03d", i) => format("source-%03d", i) }}
}}

module "source" {{
  source   = "{root}"
  for_each = toset([for i in range({count}) : format("source-%03d", i)])

  source_id           = each.key
  lake                = module.lake.for_sources
  api_config = {{
    endpoint   = "https://api.example.com/v1/${{each.key}}"
    pagination = {{ type = "cursor", cursor_path = "next" }}
  }}
  schedule_expression = "rate(1 hour)"
}}
"""


def plan(count: int, endpoint: str, workdir: Path) -> tuple[float, int]:
    config = workdir / f"sources-{count}"
    config.mkdir()
    root = os.path.relpath(ROOT, config)
    (config / "main.tf").write_text(CONFIG.format(endpoint=endpoint, root=root, count=count))
    terraform = Terraform(config, workdir)
    terraform.init()
    started = time.perf_counter()
    terraform("plan", "-input=false", "-no-color", "-out=plan.bin")
    seconds = time.perf_counter() - started
    planned = json.loads(terraform("show", "-json", "plan.bin").stdout)
    creates = [c for c in planned["resource_changes"] if "create" in c["change"]["actions"]]
    return seconds, len(creates)


def main() -> None:
    counts = [int(c) for c in os.environ.get("BENCH_SOURCES", "5,50").split(",")]
    workdir = Path(tempfile.mkdtemp(prefix="lake-ingest-plan-"))
    aws = Server("local-aws", ["scripts.local_aws"], workdir)
    rows = []
    try:
        for count in counts:
            seconds, resources = plan(count, aws.url, workdir)
            rows.append((count, seconds, resources))
    finally:
        aws.stop()
    print("\n| sources (shared lake) | plan (s) | resources planned | per source | plan s per source |")
    print("|---:|---:|---:|---:|---:|")
    for count, seconds, resources in rows:
        per_source = (resources - 11) / count  # the lake itself is 11
        print(f"| {count} | {seconds:.1f} | {resources} | {per_source:.0f} | {seconds / count:.2f} |")


if __name__ == "__main__":
    main()
