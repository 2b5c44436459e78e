"""`make demo`: deploy one source to a local AWS and ingest from a local sample API. No AWS account.

1. start the local AWS (moto + shims, scripts/local_aws.py) and the sample API on 127.0.0.1
2. terraform init + apply examples/local (the real terraform binary and hashicorp/aws provider)
3. set the secret's value out of band (it never passes through Terraform)
4. download the deployed function code and run it once (scripts/run_deployed.py)
5. print what landed in S3; check the state holds no secret; check a second plan shows no changes
6. stop what it started (KEEP=1 leaves both servers running and says how to stop them)
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import boto3

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "local"
WORK = ROOT / ".demo"


class DemoError(RuntimeError):
    pass


def step(message: str) -> None:
    print(f"\n==> {message}", flush=True)


def start_server(name: str, args: list[str]) -> tuple[subprocess.Popen[bytes], str]:
    url_file = WORK / f"{name}.url"
    url_file.unlink(missing_ok=True)
    log = open(WORK / f"{name}.log", "wb")
    process = subprocess.Popen(
        [sys.executable, "-m", *args, "--port-file", str(url_file)],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while not url_file.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            raise DemoError(f"{name} did not start; see {WORK / (name + '.log')}")
        time.sleep(0.1)
    return process, url_file.read_text().strip()


def terraform(*args: str, env: dict[str, str], check: bool = True) -> subprocess.CompletedProcess[str]:
    command = ["terraform", f"-chdir={EXAMPLE}", *args]
    process = subprocess.run(command, env=env, text=True, capture_output=True, check=False)
    with open(WORK / "terraform.log", "a") as log:
        log.write(f"$ {' '.join(command)}\n{process.stdout}{process.stderr}\n")
    if check and process.returncode != 0:
        raise DemoError(f"terraform {args[0]} failed:\n{process.stdout[-3000:]}{process.stderr[-3000:]}")
    return process


def terraform_env() -> dict[str, str]:
    cli_config = WORK / "terraform.rc"
    plugin_dir = os.environ.get("TF_PLUGIN_DIR", "")
    cli_config.write_text("")  # an empty CLI config: no stray settings from the machine
    return {
        **os.environ,
        "TF_CLI_CONFIG_FILE": str(cli_config),
        "TF_IN_AUTOMATION": "1",
        "TF_INPUT": "0",
        "LAKE_INGEST_PLUGIN_DIR": plugin_dir,
    }


def main() -> int:
    keep = os.environ.get("KEEP", "") not in ("", "0")
    WORK.mkdir(exist_ok=True)
    (WORK / "terraform.log").unlink(missing_ok=True)
    for stale in EXAMPLE.glob("terraform.tfstate*"):
        stale.unlink()  # the previous demo's local AWS is gone, and so is everything in that state
    started = time.monotonic()
    timings: dict[str, float] = {}
    processes: list[subprocess.Popen[bytes]] = []
    token = "demo-" + secrets.token_urlsafe(24)
    try:
        step("starting the local AWS and the sample API on 127.0.0.1")
        aws, aws_endpoint = start_server("local-aws", ["scripts.local_aws"])
        processes.append(aws)
        api, api_endpoint = start_server("sample-api", ["scripts.upstream", "--token", token])
        processes.append(api)
        print(f"    local AWS  {aws_endpoint}\n    sample API {api_endpoint}")
        os.environ.update(
            AWS_ENDPOINT_URL=aws_endpoint,
            AWS_ACCESS_KEY_ID="test",
            AWS_SECRET_ACCESS_KEY="test",
            AWS_DEFAULT_REGION="us-east-1",
        )

        env = terraform_env()
        variables = [f"-var=aws_endpoint={aws_endpoint}", f"-var=api_endpoint={api_endpoint}"]
        step(
            "terraform init"
            + (f" (providers from {env['LAKE_INGEST_PLUGIN_DIR']})" if env["LAKE_INGEST_PLUGIN_DIR"] else "")
        )
        t0 = time.monotonic()
        init = ["init", "-input=false", "-no-color"]
        if env["LAKE_INGEST_PLUGIN_DIR"]:
            init.append(f"-plugin-dir={env['LAKE_INGEST_PLUGIN_DIR']}")
        terraform(*init, env=env)
        timings["init"] = time.monotonic() - t0

        step("terraform apply examples/local (packages lambda_src, then creates every resource)")
        t0 = time.monotonic()
        applied = terraform("apply", "-auto-approve", "-no-color", *variables, env=env)
        timings["apply"] = time.monotonic() - t0
        summary = [line for line in applied.stdout.splitlines() if line.startswith("Apply complete")]
        print(f"    {summary[0] if summary else 'applied'} in {timings['apply']:.0f}s")
        outputs = {k: v["value"] for k, v in json.loads(terraform("output", "-json", env=env).stdout).items()}

        step("setting the secret's value out of band (never through Terraform)")
        boto3.client("secretsmanager").put_secret_value(
            SecretId=outputs["secret_arn"], SecretString=json.dumps({"api_key": token})
        )
        print(f"    {outputs['secret_arn']}")

        step(f"running the deployed function {outputs['function_name']} once")
        from scripts.run_deployed import invoke

        scheduled = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        t0 = time.monotonic()
        run = invoke(outputs["function_name"], aws_endpoint, {"scheduled_time": scheduled.isoformat()})
        timings["run"] = time.monotonic() - t0
        (WORK / "function.log").write_text(run.logs)
        print(f"    handler {run.handler}, timeout {run.timeout}s, code sha256 {run.code_sha256}")
        print(f"    code loaded from {run.module_file}")
        if run.error:
            raise DemoError(f"the function failed: {run.error}; logs in {WORK / 'function.log'}")
        result = run.result or {}
        print(f"    result: {json.dumps(result)}")

        step("what landed in S3")
        s3 = boto3.client("s3")
        bucket = outputs["bucket_name"]
        for key in [*result["objects"], result["manifest"]]:
            head = s3.head_object(Bucket=bucket, Key=key)
            print(
                f"    s3://{bucket}/{key}\n        {head['ContentLength']} bytes, {head.get('ServerSideEncryption')} "
                f"key {head.get('SSEKMSKeyId')}, bucket key {head.get('BucketKeyEnabled')}, version {head.get('VersionId')}"
            )
            if (
                head.get("ServerSideEncryption") != "aws:kms"
                or head.get("SSEKMSKeyId") != outputs["kms_key_arn"]
            ):
                raise DemoError(f"{key} is not encrypted with the source's key")
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

        step("checking the state holds no secret value")
        state = (EXAMPLE / "terraform.tfstate").read_text()
        if token in state:
            raise DemoError("the secret's value is in the Terraform state")
        print("    the API token appears nowhere in terraform.tfstate")

        step("second plan: must show no changes")
        t0 = time.monotonic()
        plan = terraform("plan", "-detailed-exitcode", "-no-color", *variables, env=env, check=False)
        timings["second plan"] = time.monotonic() - t0
        if plan.returncode != 0:
            raise DemoError(
                f"the second plan is not empty (exit {plan.returncode}):\n{plan.stdout[-4000:]}{plan.stderr[-2000:]}"
            )
        print(f"    No changes ({timings['second plan']:.0f}s)")

        timings["total"] = time.monotonic() - started
        step("demo succeeded: " + ", ".join(f"{k} {v:.0f}s" for k, v in timings.items()))
        if keep:
            pids = " ".join(str(p.pid) for p in processes)
            print(
                f"    KEEP=1: servers left running (local AWS {aws_endpoint}, sample API {api_endpoint}); stop with: kill {pids}"
            )
            processes.clear()
        return 0
    except DemoError as error:
        print(f"\nDEMO FAILED: {error}", file=sys.stderr)
        return 1
    finally:
        for process in processes:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=10)
        if not keep:
            for stale in EXAMPLE.glob("terraform.tfstate*"):
                stale.unlink()
            shutil.rmtree(WORK / "cache", ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
