"""One schema, every door: the handler, the Terraform module and the reference validator agree.

Every configuration in tests/fixtures/api_configs.json is judged by the handler (lake_ingest.config:
the schema, then the rules across options), by modules/api_config through the real terraform binary
(`terraform console`, no provider needed), and at the schema level by the reference `jsonschema`
library. They must reach the same verdict, and the handler and the module must name the same
problems in the same words (the Terraform side calls the value `api_config`, the handler
`API_CONFIG`, and each names its own switch for plain http).
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from referencing import Registry, Resource
from scripts.harness import ROOT, Terraform

from lake_ingest import config, schema

CASES = {
    k: v
    for k, v in json.loads((ROOT / "tests/fixtures/api_configs.json").read_text()).items()
    if k != "_comment"
}
pytestmark = pytest.mark.terraform


def without_nulls(value: Any) -> Any:
    """What the handler and the module both do first: a null option is an unset one."""
    if isinstance(value, dict):
        return {k: without_nulls(v) for k, v in value.items() if v is not None}
    return value


def normalized(problem: str) -> str:
    path, _, message = problem.partition(": ")
    if path.startswith("api_config"):
        path = "API_CONFIG" + path.removeprefix("api_config")
    return f"{path}: {'must use https' if message.startswith('must use https') else message}"


def module_problems(workdir: Path, cases: dict[str, Any], allow_http_loopback: bool) -> dict[str, list[str]]:
    """modules/api_config's problems for each case, through the real terraform binary."""
    workdir.mkdir(parents=True, exist_ok=True)
    source = os.path.relpath(ROOT / "modules" / "api_config", workdir)
    (workdir / "main.tf").write_text(
        'variable "cases" {\n  type = any\n}\n'
        f'module "check" {{\n  source = "{source}"\n  for_each = var.cases\n'
        f"  api_config = each.value\n  allow_http_loopback = {str(allow_http_loopback).lower()}\n}}\n"
    )
    (workdir / "cases.tfvars.json").write_text(json.dumps({"cases": cases}))
    terraform = Terraform(workdir, workdir)
    terraform("init", "-backend=false", "-input=false", "-no-color")
    console = subprocess.run(
        ["terraform", f"-chdir={workdir}", "console", "-var-file=cases.tfvars.json"],
        input="jsonencode({ for k, m in module.check : k => m.problems })\n",
        capture_output=True,
        text=True,
        env=terraform.env,
        check=False,
        timeout=300,
    )
    assert console.returncode == 0, console.stderr[-3000:]
    return json.loads(json.loads(console.stdout))


@pytest.fixture(scope="module")
def terraform_verdicts(tmp_path_factory) -> dict[str, list[str]]:
    return module_problems(tmp_path_factory.mktemp("agree"), CASES, allow_http_loopback=False)


def test_the_corpus_covers_valid_and_invalid_configurations():
    valid = [k for k, case in CASES.items() if not config.problems(case)]
    assert len(valid) >= 12 and len(CASES) - len(valid) >= 40 and len(CASES) >= 115


@pytest.mark.parametrize("name", sorted(CASES))
def test_handler_and_module_name_the_same_problems(name, terraform_verdicts):
    handler = sorted(normalized(str(p)) for p in config.problems(CASES[name]))
    module = sorted(normalized(p) for p in terraform_verdicts[name])
    assert handler == module


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_reference_validator_reaches_the_same_verdict_on_the_schema(name):
    validator = jsonschema.Draft202012Validator(schema.load())
    reference = list(validator.iter_errors(without_nulls(CASES[name])))
    assert bool(reference) == bool(schema.problems(CASES[name])), [e.message for e in reference]


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_handler_refuses_exactly_what_it_reports(name):
    case = CASES[name]
    problems = config.problems(case)
    if problems:
        with pytest.raises(config.ConfigError) as error:
            config.parse_api_config(json.dumps(case))
        assert error.value.field == problems[0].path
    else:
        assert config.parse_api_config(json.dumps(case)).endpoint == case["endpoint"]


def test_loopback_http_is_allowed_only_with_the_switch_on_both_sides(tmp_path):
    case = {"loopback": CASES["loopback_http_without_opt_in"], "remote": CASES["http_to_a_remote_host"]}
    module = module_problems(tmp_path, case, allow_http_loopback=True)
    assert (
        module["loopback"] == [] and config.problems(case["loopback"], {"ALLOW_HTTP_LOOPBACK": "true"}) == []
    )
    assert module["remote"] and config.problems(case["remote"], {"ALLOW_HTTP_LOOPBACK": "true"})


def test_the_handlers_defaults_are_the_schemas():
    props = schema.load()["properties"]
    api = config.ApiConfig(endpoint="https://a.example")
    top = {k: getattr(api, k) for k in schema.defaults()}
    top["query_params"], top["headers"] = dict(api.query_params), dict(api.headers)
    top["content_types"], top["non_secret_names"] = list(api.content_types), list(api.non_secret_names)
    top["auth"], top["pagination"] = {"type": api.auth.type}, {"type": api.pagination.type}
    assert top == schema.defaults()
    for name, dataclass in (("auth", config.AuthConfig), ("pagination", config.PaginationConfig)):
        fields = {f.name: f.default for f in dataclasses.fields(dataclass)}
        for option, spec in props[name]["properties"].items():
            if "default" in spec:
                assert fields[option] == spec["default"], f"{name}.{option}"


def test_source_json_is_the_same_schema_for_the_runner():
    registry = Registry().with_resource("api_config.schema.json", Resource.from_contents(schema.load()))
    validator = jsonschema.Draft202012Validator(schema.load("source.schema.json"), registry=registry)
    good = {"source_id": "orders", "api_config": CASES["minimal"], "allow_http_loopback": True}
    bad = {"source_id": "orders", "api_config": CASES["typo_top_level"]}
    for source in (good, bad):
        ours = schema.problems(source, schema.load("source.schema.json"), "source.json")
        assert bool(list(validator.iter_errors(source))) == bool(ours)
    assert [str(p) for p in schema.problems(bad, schema.load("source.schema.json"), "source.json")] == [
        "source.json.api_config.record_path: is not an option "
        '(did you mean "records_path"?); the options are: ' + ", ".join(sorted(schema.load()["properties"]))
    ]


def test_near_misses_are_suggested_and_only_for_near_misses(terraform_verdicts):
    for name in CASES:
        text = " ".join(terraform_verdicts[name])
        if name.startswith("near_miss_"):
            assert "(did you mean " in text, name
        elif name.startswith("not_near_miss_"):
            assert "is not an option" in text and "did you mean" not in text, name
    expected = {
        "near_miss_top_case_and_dash": 'Records-Path: is not an option (did you mean "records_path"?)',
        "near_miss_nested_word_left_out": 'next_path: is not an option of pagination type "next_url" '
        '(did you mean "next_url_path"?)',
        "near_miss_nested_two_options": '(did you mean "cursor_param" or "cursor_path"?)',
        "near_miss_auth_token_uri": 'token_uri: is not an option of auth type "oauth2_client_credentials" '
        '(did you mean "token_url"?)',
    }
    for name, part in expected.items():
        assert part in " ".join(terraform_verdicts[name]), name


@pytest.mark.parametrize(
    ("given", "option", "near"),
    [
        ("record_path", "records_path", True),  # one inserted
        ("recordss_path", "records_path", True),  # one deleted
        ("records_pith", "records_path", True),  # one substituted
        ("reocrds_path", "records_path", True),  # two adjacent swapped
        ("RECORDS-PATH", "records_path", True),  # case and "-"
        ("next_path", "next_url_path", True),  # one word left out
        ("next_url_link_path", "next_url_path", True),  # one word added
        ("recrds_pth", "records_path", False),  # two edits
        ("erocrds_ptah", "records_path", False),  # two swaps
        ("path", "next_url_path", False),  # two words left out
        ("", "type", False),
    ],
)
def test_the_near_miss_rule(given, option, near):
    assert schema.is_near_miss(given, option) is near
