"""`make demo`: deploy one source to a local AWS and ingest from a local sample API. No AWS account.

1. start the local AWS (moto + shims, scripts/local_aws.py) and the sample API on 127.0.0.1
2. terraform init + apply examples/local (the real terraform binary and hashicorp/aws provider)
3. set the secret's value out of band (it never passes through Terraform)
4. invoke the deployed function through the Lambda Invoke API (the local AWS runs the deployed zip
   in a subprocess: scripts/local_aws.py gap 4)
5. print what landed in S3; run a second, incremental run; query the records zone with the documented
   queries (locally, DuckDB); check the state holds no secret; check a second plan shows no changes
6. stop what it started (KEEP=1 leaves both servers running, records them in .demo/servers.json
   for `make stop`), then print what to do next

`python -m scripts.demo --stop` (`make stop`) stops what a KEEP=1 demo left running. It needs only
the standard library, so it works before and after .venv exists.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from scripts.harness import (
    ROOT,
    HarnessError,
    Server,
    Terraform,
    local_client,
    record_servers,
    stop_recorded_servers,
)

EXAMPLE = ROOT / "examples" / "local"
WORK = ROOT / ".demo"
SERVERS_FILE = WORK / "servers.json"
TRY_TEMPLATE = "examples/try/source.json"


def step(message: str) -> None:
    print(f"\n==> {message}", flush=True)


def invoke(endpoint: str, function_name: str, event: dict[str, Any]) -> dict[str, Any]:
    """One synchronous Invoke through the Lambda API; the handler's result, or HarnessError."""
    response = local_client("lambda", endpoint).invoke(
        FunctionName=function_name, Payload=json.dumps(event).encode(), LogType="Tail"
    )
    payload = json.loads(response["Payload"].read())
    if response.get("FunctionError"):
        raise HarnessError(f"the function failed ({response['FunctionError']}): {payload}")
    result: dict[str, Any] = payload
    return result


def query(source_file: Path, endpoint: str, named: str, as_json: bool = False, rows: int = 5) -> list[str]:
    """The query command's output for a documented query: a table's first `rows` rows (or the JSON)."""
    command = [sys.executable, "-m", "lake_ingest", "query", "--config", str(source_file)]
    command += ["--endpoint-url", endpoint, "--named", named] + (["--json"] if as_json else [])
    env = {**os.environ, "PYTHONPATH": str(ROOT / "lambda_src")}
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise HarnessError(f"query --named {named} failed: {done.stdout[-2000:]}{done.stderr[-2000:]}")
    if as_json:
        return [done.stdout]
    lines = done.stdout.splitlines()
    more = len(lines) - 2 - rows
    return lines[: 2 + rows] + ([f"... {more} more rows"] if more > 0 else []) + done.stderr.splitlines()[-1:]


def next_steps(kept: dict[str, str] | None) -> str:
    """What a person who has just watched the demo can do next; `kept`: the servers KEEP=1 left up."""
    lines = [
        f"try your own source (no AWS account needed): copy {TRY_TEMPLATE}, edit it, then",
        "    make try SOURCE=my-source.json    (the result as JSON on stdout; exit 0, 2, 3 or 1)",
        "    make try SOURCE=my-source.json LAKE=lake    (keeps the local lake: a cursor source's next try",
        "        fetches only what is new; then runs, records, cursor --config my-source.json --lake lake)",
        "run every test and policy check CI runs: make test",
        "deploy a source to your AWS account: examples/basic (see its README); the docs: docs/README.md",
    ]
    if not kept:
        lines.append(
            "keep the local AWS and the sample API up to look around (query, runs, records): make demo KEEP=1"
        )
    if kept:
        aws = kept["local-aws"]
        lines += [
            f"KEEP=1 left these running: local AWS {aws}, sample API {kept['sample-api']}",
            f"    AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test aws --endpoint-url {aws} s3 ls",
            "    export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1",
            f"    .venv/bin/python -m lake_ingest runs --config .demo/source.json --endpoint-url {aws}",
            "stop them: make stop",
        ]
    return "\n==> next steps\n" + "\n".join("    " + line for line in lines)


def stop(servers_file: Path) -> int:
    """`make stop`: end what `make demo KEEP=1` (or `make demo-push KEEP=1`, recorded beside it) left
    running, so the next demo starts from a clean state."""
    push_file = servers_file.with_name("push-servers.json")
    for line in (
        stop_recorded_servers(servers_file) if servers_file.exists() or not push_file.exists() else []
    ):
        print(line)
    for line in stop_recorded_servers(push_file) if push_file.exists() else []:
        print(line)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--stop", action="store_true", help="stop what `make demo KEEP=1` left running")
    parser.add_argument("--servers-file", type=Path, default=SERVERS_FILE, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.stop:
        return stop(args.servers_file)
    import boto3  # after the --stop path, which runs without .venv

    keep = os.environ.get("KEEP", "") not in ("", "0")
    WORK.mkdir(exist_ok=True)
    if SERVERS_FILE.exists():
        step("stopping what the last `make demo KEEP=1` left running")
        for line in stop_recorded_servers(SERVERS_FILE):
            print(f"    {line}")
    (WORK / "terraform.log").unlink(missing_ok=True)
    terraform = Terraform(EXAMPLE, WORK)
    terraform.remove_state()  # the previous demo's local AWS is gone, and so is everything in that state
    started = time.monotonic()
    timings: dict[str, float] = {}
    servers: list[Server] = []
    token = "demo-" + secrets.token_urlsafe(24)
    try:
        step("starting the local AWS and the sample API on 127.0.0.1")
        servers.append(Server("local-aws", ["scripts.local_aws"], WORK))
        servers.append(Server("sample-api", ["scripts.upstream", "--token", token], WORK))
        aws_endpoint, api_endpoint = servers[0].url, servers[1].url
        print(f"    local AWS  {aws_endpoint}\n    sample API {api_endpoint}")
        os.environ.update(
            AWS_ENDPOINT_URL=aws_endpoint,
            AWS_ACCESS_KEY_ID="test",
            AWS_SECRET_ACCESS_KEY="test",  # noqa: S106 - the local AWS's dummy credentials
            AWS_DEFAULT_REGION="us-east-1",
        )

        variables = [f"-var=aws_endpoint={aws_endpoint}", f"-var=api_endpoint={api_endpoint}"]
        step("terraform init" + (f" (providers from {terraform.plugin_dir})" if terraform.plugin_dir else ""))
        t0 = time.monotonic()
        terraform.init()
        timings["init"] = time.monotonic() - t0

        step("terraform apply examples/local (packages lambda_src, then creates every resource)")
        t0 = time.monotonic()
        applied = terraform("apply", "-auto-approve", "-no-color", *variables)
        timings["apply"] = time.monotonic() - t0
        summary = [line for line in applied.stdout.splitlines() if line.startswith("Apply complete")]
        print(f"    {summary[0] if summary else 'applied'} in {timings['apply']:.0f}s")
        outputs = {k: v["value"] for k, v in json.loads(terraform("output", "-json").stdout).items()}

        step("setting the secret's value out of band (never through Terraform)")
        boto3.client("secretsmanager").put_secret_value(
            SecretId=outputs["secret_arn"], SecretString=json.dumps({"api_key": token})
        )
        print(f"    {outputs['secret_arn']}")

        step(f"invoking the deployed function {outputs['function_name']} through the Lambda Invoke API")
        scheduled = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        t0 = time.monotonic()
        result = invoke(aws_endpoint, outputs["function_name"], {"scheduled_time": scheduled.isoformat()})
        timings["run"] = time.monotonic() - t0
        configuration = local_client("lambda", aws_endpoint).get_function_configuration(
            FunctionName=outputs["function_name"]
        )
        print(
            f"    handler {configuration['Handler']}, timeout {configuration['Timeout']}s, "
            f"code sha256 {configuration['CodeSha256']}"
        )
        print(f"    result: {json.dumps(result)}")

        step("what landed in S3")
        s3 = boto3.client("s3")
        bucket = outputs["bucket_name"]
        for key in [*result["objects"], result["manifest"]]:
            head = s3.head_object(Bucket=bucket, Key=key)
            print(
                f"    s3://{bucket}/{key}\n        {head['ContentLength']} bytes, "
                f"{head.get('ServerSideEncryption')} key {head.get('SSEKMSKeyId')}, "
                f"bucket key {head.get('BucketKeyEnabled')}, version {head.get('VersionId')}"
            )
            if (
                head.get("ServerSideEncryption") != "aws:kms"
                or head.get("SSEKMSKeyId") != outputs["kms_key_arn"]
            ):
                raise HarnessError(f"{key} is not encrypted with the source's key")
        manifest = json.loads(s3.get_object(Bucket=bucket, Key=result["manifest"])["Body"].read())
        print(
            f"    records ingested: {manifest['records_ingested']}, pages: {len(manifest['pages'])}, "
            f"raw bytes: {manifest['bytes']}, complete: {manifest['complete']}"
        )
        print(
            "    manifest page 1: "
            + json.dumps(
                {k: manifest["pages"][0][k] for k in ("http_status", "content_type", "sha256", "records")}
            )
        )

        step("an incremental second run: the sample API gets 20 new orders, the next slot fetches only them")
        added = urllib.request.Request(
            f"{api_endpoint}/admin/orders?count=20",
            method="POST",
            headers={"Authorization": f"Bearer {token}"},
        )
        with urllib.request.urlopen(added, timeout=10) as response:  # loopback sample API
            print(f"    the sample API now holds {json.loads(response.read())['orders']} orders")
        again = invoke(
            aws_endpoint,
            outputs["function_name"],
            {"scheduled_time": (scheduled + timedelta(hours=1)).isoformat()},
        )
        cursor = again.get("cursor") or {}
        print(
            f"    sent updated_since={again['incremental']['sent']} (the stored cursor); "
            f"records ingested: {again['records_ingested']} in {again['pages']} page(s)"
        )
        print(f"    cursor moved from {cursor.get('from')} to {cursor.get('to')}")
        if again["records_ingested"] != 20:
            raise HarnessError(
                f"the second run fetched {again['records_ingested']} records, not the 20 new ones"
            )
        stored = json.loads(
            s3.get_object(Bucket=bucket, Key=f"{outputs['raw_prefix']}/_state/cursor.json")["Body"].read()
        )
        print(
            f"    state: cursor {stored['cursor']}, history: "
            + "; ".join(f"{h['run_id']} {h['from']} -> {h['to']}" for h in stored["history"])
        )

        step("querying the records zone (what Athena's named queries return, run locally with DuckDB)")
        source_file = WORK / "source.json"
        source_file.write_text(outputs["source_json"])
        for named in ("runs", "latest"):
            shown = query(source_file, aws_endpoint, named)
            print(f"    python -m lake_ingest query --config {source_file.relative_to(ROOT)} --named {named}")
            print("\n".join("        " + line for line in shown))
        latest = query(source_file, aws_endpoint, "latest", as_json=True)
        if len(json.loads(latest[0])["rows"]) != manifest["records_ingested"] + again["records_ingested"]:
            raise HarnessError("the latest query does not return one row per order")

        step("checking the state holds no secret value")
        state = (EXAMPLE / "terraform.tfstate").read_text()
        if token in state:
            raise HarnessError("the secret's value is in the Terraform state")
        print("    the API token appears nowhere in terraform.tfstate")

        step("second plan: must show no changes")
        t0 = time.monotonic()
        plan = terraform("plan", "-detailed-exitcode", "-no-color", *variables, check=False)
        timings["second plan"] = time.monotonic() - t0
        if plan.returncode != 0:
            raise HarnessError(
                f"the second plan is not empty (exit {plan.returncode}):\n"
                f"{plan.stdout[-4000:]}{plan.stderr[-2000:]}"
            )
        print(f"    No changes ({timings['second plan']:.0f}s)")

        timings["total"] = time.monotonic() - started
        step("demo succeeded: " + ", ".join(f"{k} {v:.0f}s" for k, v in timings.items()))
        if keep:
            record_servers(servers, SERVERS_FILE)
            servers.clear()
        print(next_steps({"local-aws": aws_endpoint, "sample-api": api_endpoint} if keep else None))
        return 0
    except HarnessError as error:
        print(f"\nDEMO FAILED: {error}", file=sys.stderr)
        return 1
    finally:
        for server in servers:
            server.stop()
        if not keep:
            terraform.remove_state()


if __name__ == "__main__":
    sys.exit(main())
