"""`make demo-push`: two push (webhook) sources on a local AWS, signed and forged events sent to them,
and the rows that landed. No AWS account.

1. start the local AWS (moto + shims, scripts/local_aws.py: its HTTP API front serves the applied
   routes, its SQS poller hands the buffer to the writer in batches)
2. terraform init + apply examples/push (a Stripe-style and a GitHub-style source in one lake)
3. put each source's signing secret in its secret, out of band
4. send signed events (one of them a newer version, one a sender's retry) and bad requests (forged,
   unsigned, expired, replayed, oversized, malformed): print each answer
5. wait for the writer's batch and print the `latest` query of each source (locally, DuckDB)
6. stop what it started (KEEP=1 leaves the local AWS up, recorded for `make stop`)

`exercise()` (steps 3-5 on an applied deployment) is what tests/test_push_e2e.py runs too.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from scripts.demo import query, step
from scripts.harness import (
    ROOT,
    HarnessError,
    Server,
    Terraform,
    local_client,
    local_push_url,
    record_servers,
    stop_recorded_servers,
)
from scripts.webhooks import Answer, post, signed_headers

EXAMPLE = ROOT / "examples" / "push"
WORK = ROOT / ".demo" / "push"
SERVERS_FILE = ROOT / ".demo" / "push-servers.json"
WINDOW_SECONDS = 1


def stripe_body(event_id: str, created: int, amount: int) -> bytes:
    return json.dumps(
        {
            "id": event_id,
            "object": "event",
            "type": "invoice.paid",
            "created": created,
            "livemode": False,
            "data": {"object": {"amount_paid": amount}},
        }
    ).encode()


def requests(now: float, keys: dict[str, str]) -> list[tuple[str, str, bytes, dict[str, str]]]:
    """(what, source, body, headers) of every request the demo sends, good and bad, in order."""
    stamp = int(now)
    first = stripe_body("evt_demo_1", stamp - 120, 1000)
    newer = stripe_body("evt_demo_1", stamp - 60, 1250)
    other = stripe_body("evt_demo_2", stamp - 90, 500)
    github = json.dumps({"action": "opened", "number": 42, "repository": {"full_name": "acme/app"}}).encode()
    stripe, hub = keys["stripe-events"], keys["github-events"]
    replayed = signed_headers("stripe", stripe, other, now)
    big = b'{"pad":"' + b"x" * 300_000 + b'"}'
    return [
        ("signed event", "stripe-events", first, signed_headers("stripe", stripe, first, now)),
        ("signed event", "stripe-events", other, replayed),
        (
            "a newer version of evt_demo_1",
            "stripe-events",
            newer,
            signed_headers("stripe", stripe, newer, now),
        ),
        (
            "sender's retry (re-signed)",
            "stripe-events",
            other,
            signed_headers("stripe", stripe, other, now + 5),
        ),
        ("signed delivery", "github-events", github, signed_headers("github", hub, github, now)),
        (
            "forged (wrong secret)",
            "stripe-events",
            first,
            signed_headers("stripe", "whsec_forged", first, now),
        ),
        ("unsigned", "stripe-events", first, {"Content-Type": "application/json"}),
        (
            "expired (signed 10 min ago)",
            "stripe-events",
            first,
            signed_headers("stripe", stripe, first, now - 600),
        ),
        ("replayed (the same request again)", "stripe-events", other, replayed),
        ("oversized (300 kB)", "stripe-events", big, signed_headers("stripe", stripe, big, now)),
        (
            "malformed (not JSON)",
            "stripe-events",
            b"{not json",
            signed_headers("stripe", stripe, b"{not json", now),
        ),
    ]


def send_all(urls: dict[str, str], keys: dict[str, str], show: Callable[[str], None]) -> list[Answer]:
    """Send every request; print a line per answer; the answers in order."""
    answers = []
    for what, source, body, headers in requests(time.time(), keys):
        answer = post(urls[source], body, headers)
        answers.append(answer)
        said = answer.body.get("error") or ("ok" if answer.body.get("ok") else json.dumps(answer.body))
        show(f"    {answer.status} {said:<20} {source:<14} {what}")
    return answers


# The demo's own rows in each source's latest query (a deployment the tests share holds others too).
DEMO_ROWS: dict[str, Callable[[dict[str, Any]], bool]] = {
    "stripe-events": lambda row: str(row["event_id"]).startswith("evt_demo_"),
    "github-events": lambda row: "acme/app" in row["record"],
}


def exercise(
    deployment: dict[str, Any], keys: dict[str, str] | None = None, show: Callable[[str], None] = print
) -> dict[str, list[dict[str, Any]]]:
    """Steps 3-5 on an applied examples/push (the signing secrets put first unless `keys` are the ones
    already in place): the demo's rows of each source's `latest` query."""
    endpoint, outputs = deployment["endpoint"], deployment["outputs"]
    if keys is None:
        keys = {source: "whsec_demo_" + secrets.token_hex(16) for source in outputs["push_urls"]}
        step("putting each source's signing secret in its secret, out of band (never through Terraform)")
        manager = local_client("secretsmanager", endpoint)
        for source, arn in outputs["secret_arns"].items():
            value = json.dumps({"signing_secrets": [{"value": keys[source]}]})
            manager.put_secret_value(SecretId=arn, SecretString=value)
            show(f"    {source}: {arn}")
    urls = {
        source: local_push_url(url, deployment["http_api"]) for source, url in outputs["push_urls"].items()
    }
    step("sending webhooks: signed ones, then forged, unsigned, expired, replayed, oversized, malformed")
    for source, url in outputs["push_urls"].items():
        show(f"    {source}: {url}\n        (locally {urls[source]})")
    answers = send_all(urls, keys, show)
    if [a.status for a in answers] != [200] * 5 + [401, 401, 401, 401, 413, 400]:
        raise HarnessError(f"unexpected answers: {[(a.status, a.body) for a in answers]}")
    step("the rows that landed: the latest query of each source (the writer writes each batch as one run)")
    shown: dict[str, list[dict[str, Any]]] = {}
    for source, expected in (("stripe-events", 2), ("github-events", 1)):
        source_file = Path(deployment["workdir"]) / f"{source}.json"
        source_file.write_text(outputs["sources"][source]["source_json"])
        rows = _rows_once_written(source_file, endpoint, DEMO_ROWS[source], expected)
        shown[source] = rows
        shown_file = source_file.relative_to(ROOT) if source_file.is_relative_to(ROOT) else source_file
        show(
            f"    python -m lake_ingest query --config {shown_file} --endpoint-url {endpoint} --named latest"
        )
        for line in query(source_file, endpoint, "latest", rows=5):
            show("        " + line)
    return shown


def _rows_once_written(
    source_file: Path,
    endpoint: str,
    mine: Callable[[dict[str, Any]], bool],
    expected: int,
    timeout: float = 60.0,
) -> list[dict[str, Any]]:
    """The demo's rows of the latest query, once the writer has written them (HarnessError if not)."""
    deadline = time.monotonic() + timeout
    while True:
        found = json.loads(query(source_file, endpoint, "latest", as_json=True)[0])["rows"]
        rows = [row for row in found if mine(row)]
        if len(rows) >= expected or time.monotonic() > deadline:
            if len(rows) != expected:
                raise HarnessError(f"{source_file.name}: {len(rows)} rows in latest, not {expected}")
            return rows
        time.sleep(1.0)


def main() -> int:
    keep = os.environ.get("KEEP", "") not in ("", "0")
    WORK.mkdir(parents=True, exist_ok=True)
    for line in stop_recorded_servers(SERVERS_FILE) if SERVERS_FILE.exists() else []:
        print(f"    {line}")
    terraform = Terraform(EXAMPLE, WORK)
    terraform.remove_state()
    started = time.monotonic()
    servers: list[Server] = []
    try:
        step("starting the local AWS on 127.0.0.1 (with its HTTP API front)")
        servers.append(Server("local-aws", ["scripts.local_aws"], WORK))
        endpoint = servers[0].url
        os.environ.update(
            AWS_ACCESS_KEY_ID="test",
            AWS_SECRET_ACCESS_KEY="test",  # noqa: S106 - the local AWS's dummy credentials
            AWS_DEFAULT_REGION="us-east-1",
        )
        print(f"    local AWS {endpoint}\n    HTTP APIs {servers[0].http_api_url}")
        variables = [
            f"-var=aws_endpoint={endpoint}",
            "-var=region=us-east-1",
            f"-var=batch_window_seconds={WINDOW_SECONDS}",
        ]
        step("terraform init and apply examples/push")
        terraform.init()
        terraform("apply", "-auto-approve", "-no-color", *variables)
        outputs = {k: v["value"] for k, v in json.loads(terraform("output", "-json").stdout).items()}
        exercise(
            {"endpoint": endpoint, "http_api": servers[0].http_api_url, "outputs": outputs, "workdir": WORK}
        )
        step(f"push demo succeeded in {time.monotonic() - started:.0f}s: the sources' docs are docs/push.md")
        if keep:
            record_servers(servers, SERVERS_FILE)
            servers.clear()
            urls = {
                s: local_push_url(u, str(servers[0].http_api_url)) for s, u in outputs["push_urls"].items()
            }
            print(f"    KEEP=1: the local AWS stays up at {endpoint} (.demo/push/local-aws.url)")
            print("    local push URLs: " + ", ".join(f"{s} {u}" for s, u in urls.items()))
            print("    send your own events: docs/push.md#trying-it-locally; stop it with: make stop")
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
