"""Common mistakes, reported at the caller's own line with the fix, in one plan.

A root configuration calls the module once per mistake (source = this repository, by absolute path).
One `terraform plan -json` must report every mistake as a diagnostic whose range is the caller's
main.tf, on the line of the argument that holds the mistake (api_config = ..., schedule_expression =
..., role_path = ...), and whose text says what to write instead. Terraform reports every failed
variable validation of a plan at once, before planning any resource: no planned change may come first.
"""

# ruff: noqa: E501  (each mistake is a module block and its expected message, kept on one line each)
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from scripts.harness import ROOT, Server, Terraform

pytestmark = pytest.mark.terraform

HTTPS = "https://api.example.com/v1/orders"


@dataclass(frozen=True)
class Mistake:
    name: str
    argument: str  # the module argument that holds the mistake (its line is where the error must point)
    body: str  # the module block's arguments besides source and source_id
    fix: str  # text the diagnostic must contain: the valid key, the corrected expression, ...
    # "validate": decided from the argument alone, in Terraform's validate walk, before anything is
    # planned; "plan": the check also reads another argument (timeout_seconds, schedule_expression),
    # which Terraform knows only in its plan walk (still reported at the caller's line).
    walk: str = "validate"


MISTAKES = [
    Mistake(
        "record_path",
        "api_config",
        f'api_config = {{\n    endpoint    = "{HTTPS}"\n    record_path = "data.items"\n  }}',
        'api_config.record_path: is not an option (did you mean "records_path"?)',
    ),
    Mistake(
        "plain_http",
        "api_config",
        'api_config = { endpoint = "http://api.example.com/v1/orders" }',
        "api_config.endpoint: must use https",
    ),
    Mistake(
        "timeout_as_text",
        "api_config",
        f'api_config = {{ endpoint = "{HTTPS}", timeout_seconds = "30" }}',
        'api_config.timeout_seconds: is "30"; it must be a number',
    ),
    Mistake(
        "next_path",
        "api_config",
        f'api_config = {{\n    endpoint   = "{HTTPS}"\n    pagination = {{ type = "next_url", next_path = "links.next" }}\n  }}',
        'api_config.pagination.next_path: is not an option of pagination type "next_url" '
        '(did you mean "next_url_path"?)',
    ),
    Mistake(
        "auth_type",
        "api_config",
        f'api_config = {{ endpoint = "{HTTPS}", auth = {{ type = "token" }} }}',
        'api_config.auth.type: is "token"; it must be one of none, bearer, header, query, basic',
    ),
    Mistake(
        "literal_credential",
        "api_config",
        f'api_config = {{\n    endpoint = "{HTTPS}"\n    headers  = {{ Authorization = "Bearer abc123" }}\n  }}',
        "api_config.headers.Authorization: looks like a credential; use auth and keep the value in the secret",
    ),
    Mistake(
        "cursor_without_path",
        "api_config",
        f'api_config = {{\n    endpoint    = "{HTTPS}?since={{cursor}}"\n    incremental = {{ type = "cursor" }}\n  }}',
        'api_config.incremental.cursor_path: is required for incremental type "cursor"',
    ),
    Mistake(
        "records_path_index",
        "api_config",
        f'api_config = {{ endpoint = "{HTTPS}", records_path = "data.items[0]" }}',
        'api_config.records_path: is "data.items[0]"; it must be',
    ),
    Mistake(
        "window_without_window",
        "api_config",
        f'api_config = {{\n    endpoint     = "{HTTPS}"\n    query_params = {{ from = "{{window_start}}" }}\n'
        '    incremental  = { type = "window" }\n  }\n  schedule_expression = "cron(0 6 * * ? *)"',
        "api_config.incremental.window is required: schedule_expression (cron(0 6 * * ? *)) is not rate(...)",
        walk="plan",
    ),
    Mistake(
        "attempts_exceed_timeout",
        "api_config",
        f'timeout_seconds = 100\n  api_config = {{ endpoint = "{HTTPS}", timeout_seconds = 30, max_retries = 3 }}',
        "timeout_seconds (100) must exceed api_config.timeout_seconds x (api_config.max_retries + 1) = 30 x 4 = 120",
        walk="plan",
    ),
    Mistake(
        "unix_cron",
        "schedule_expression",
        f'api_config          = {{ endpoint = "{HTTPS}" }}\n  schedule_expression = "cron(0 6 * * *)"',
        "means the same as cron(0 6 * * ? *).",
    ),
    Mistake(
        "unix_cron_weekdays",
        "schedule_expression",
        f'api_config          = {{ endpoint = "{HTTPS}" }}\n  schedule_expression = "cron(30 7 * * 1-5)"',
        "means the same as cron(30 7 ? * MON-FRI *).",
    ),
    Mistake(
        "both_day_fields",
        "schedule_expression",
        f'api_config          = {{ endpoint = "{HTTPS}" }}\n  schedule_expression = "cron(0 6 1 * * *)"',
        "write cron(0 6 1 * ? *).",
    ),
    Mistake(
        "role_path_without_trailing_slash",
        "role_path",
        f'api_config = {{ endpoint = "{HTTPS}" }}\n  role_path  = "/lake-ingest"',
        '(did you mean "/lake-ingest/"?)',
    ),
]

PROVIDER = """provider "aws" {
  region                      = "us-east-1"
  access_key                  = "test"
  secret_key                  = "test"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  endpoints {
    iam = "%(endpoint)s"
    sts = "%(endpoint)s"
  }
}
"""


def caller(endpoint: str, mistakes: list[Mistake]) -> tuple[str, dict[str, int]]:
    """The root configuration and, per mistake, the line of its argument in main.tf."""
    text, lines = PROVIDER % {"endpoint": endpoint}, {}
    for number, mistake in enumerate(mistakes):
        block = f'\nmodule "{mistake.name}" {{\n  source    = "{ROOT}"\n  source_id = "s{number}"\n  {mistake.body}\n}}\n'
        start = text.count("\n") + 1
        for offset, line in enumerate(block.split("\n")):
            if line.strip().split("=")[0].strip() == mistake.argument:
                lines[mistake.name] = start + offset
        text += block
    assert set(lines) == {m.name for m in mistakes}
    return text, lines


def planned(workdir: Path, endpoint: str, mistakes: list[Mistake]) -> dict:
    """One `terraform plan -json` (and a plain plan, as a person sees it) of a caller with these mistakes."""
    workdir.mkdir()
    text, lines = caller(endpoint, mistakes)
    (workdir / "main.tf").write_text(text)
    terraform = Terraform(workdir, workdir)
    terraform.init()
    started = time.monotonic()
    process = terraform("plan", "-json", "-input=false", "-lock=false", check=False)
    seconds = time.monotonic() - started
    plain = terraform("plan", "-no-color", "-input=false", "-lock=false", check=False)
    messages = [json.loads(line) for line in process.stdout.splitlines() if line.startswith("{")]
    return {
        "messages": messages,
        "lines": lines,
        "seconds": seconds,
        "code": process.returncode,
        "plain": plain,
    }


@pytest.fixture(scope="module")
def plans(tmp_path_factory) -> dict[str, dict]:
    workdir: Path = tmp_path_factory.mktemp("callers")
    aws = Server("local-aws", ["scripts.local_aws"], workdir)
    try:
        return {
            walk: planned(workdir / walk, aws.url, [m for m in MISTAKES if m.walk == walk])
            for walk in ("validate", "plan")
        }
    finally:
        aws.stop()


def errors(plan: dict) -> list[dict]:
    return [
        m["diagnostic"] for m in plan["messages"] if m.get("type") == "diagnostic" and m["@level"] == "error"
    ]


def test_the_corpus_has_at_least_eight_common_mistakes():
    assert len(MISTAKES) >= 8 and len({m.name for m in MISTAKES}) == len(MISTAKES)


@pytest.mark.parametrize("mistake", MISTAKES, ids=[m.name for m in MISTAKES])
def test_each_mistake_is_reported_at_the_callers_line_with_the_fix(plans, mistake):
    plan = plans[mistake.walk]
    assert plan["code"] == 1
    at = plan["lines"][mistake.name]
    here = [
        d
        for d in errors(plan)
        if d.get("range", {}).get("filename") == "main.tf" and d["range"]["start"]["line"] == at
    ]
    assert here, f"nothing at main.tf:{at}: {[(d.get('range'), d['detail'][:120]) for d in errors(plan)]}"
    details = " ".join(" ".join(d["detail"].split()) for d in here)
    assert mistake.fix in details, details


@pytest.mark.parametrize("walk", ["validate", "plan"])
def test_every_error_is_at_one_of_the_callers_lines(plans, walk):
    plan = plans[walk]
    lines = set(plan["lines"].values())
    assert len(errors(plan)) == len(lines) and all(
        d.get("range", {}).get("filename") == "main.tf" and d["range"]["start"]["line"] in lines
        for d in errors(plan)
    ), [(d.get("range"), d["summary"]) for d in errors(plan)]
    assert plan["seconds"] < 60


def test_mistakes_in_the_argument_alone_come_before_anything_is_planned(plans):
    """What a person sees: no resource diff, not even a data source read, before the first error."""
    plan = plans["validate"]
    kinds = {m.get("type") for m in plan["messages"]}
    assert not kinds & {"planned_change", "resource_drift", "change_summary", "apply_start"}, kinds
    out = plan["plain"].stdout + plan["plain"].stderr
    before = [
        line
        for line in out[: out.index("Error: Invalid value for variable")].splitlines()
        if line.strip("│╷╵ ")
    ]
    assert "will be" not in out and "Reading..." not in out and before == [], before
