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
import sys
import time
from datetime import UTC, datetime

import boto3

from scripts.harness import ROOT, HarnessError, Server, Terraform
from scripts.run_deployed import invoke

EXAMPLE = ROOT / "examples" / "local"
WORK = ROOT / ".demo"


def step(message: str) -> None:
    print(f"\n==> {message}", flush=True)


def main() -> int:
    keep = os.environ.get("KEEP", "") not in ("", "0")
    WORK.mkdir(exist_ok=True)
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

        step(f"running the deployed function {outputs['function_name']} once")
        scheduled = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        t0 = time.monotonic()
        run = invoke(outputs["function_name"], aws_endpoint, {"scheduled_time": scheduled.isoformat()})
        timings["run"] = time.monotonic() - t0
        (WORK / "function.log").write_text(run.logs)
        print(f"    handler {run.handler}, timeout {run.timeout}s, code sha256 {run.code_sha256}")
        print(f"    code loaded from {run.module_file}")
        if run.error:
            raise HarnessError(f"the function failed: {run.error}; logs in {WORK / 'function.log'}")
        result = run.result or {}
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
            pids = " ".join(str(server.process.pid) for server in servers)
            print(f"    KEEP=1: servers left running (local AWS {aws_endpoint}, sample API {api_endpoint})")
            print(f"    stop them with: kill {pids}")
            servers.clear()
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
