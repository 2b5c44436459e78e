"""The docs hold: every relative link and #anchor of README.md and docs/*.md resolves, every ```hcl and
```json example is checked (a whole module block passes the plan-time schema with real variables, or
it is marked `<!-- fragment -->` and still parses), the state machine diagrams name exactly the
states and transitions orchestration.tf's ASL has, and the worked examples of docs/local-runner.md
run against the sample API."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import hcl2
import pytest
from scripts.upstream import ScriptedUpstream, sample_api

from lake_ingest import config, local
from tests.readme_examples import ROOT, doc_pages, fenced_blocks, plain
from tests.test_local_runner import HOSTILE_AWS_ENVIRONMENT, cli_env

PAGES = doc_pages()


# -- links -------------------------------------------------------------------------------------------


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lowercase, punctuation but - and _ dropped, spaces to -."""
    text = re.sub(r"`|\*\*|\[([^\]]*)\]\([^)]*\)", lambda m: m.group(1) or "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every heading anchor of a Markdown file (outside fenced blocks); repeats get -1, -2, ..."""
    found: set[str] = set()
    seen: dict[str, int] = {}
    fenced = False
    for line in path.read_text().splitlines():
        if line.startswith("```"):
            fenced = not fenced
        match = None if fenced else re.match(r"^#{1,6} (.+)$", line)
        if match:
            base = slug(match.group(1))
            count = seen.get(base, 0)
            seen[base] = count + 1
            found.add(base if count == 0 else f"{base}-{count}")
    return found


def links(path: Path) -> list[tuple[int, str]]:
    """Every Markdown link target of a file outside fenced and inline code: (line, target)."""
    found, fenced = [], False
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if line.startswith("```"):
            fenced = not fenced
            continue
        if fenced:
            continue
        prose = re.sub(r"`[^`]*`", "", line)
        found += [(number, target) for target in re.findall(r"\]\(([^)\s]+)\)", prose)]
    return found


def test_the_slug_rules_are_githubs():
    assert slug("The handler's contract") == "the-handlers-contract"
    assert slug("Schedules, failure paths and alarms") == "schedules-failure-paths-and-alarms"
    assert slug("API_CONFIG") == "api_config"
    assert slug("Long runs and backfills (Step Functions)") == "long-runs-and-backfills-step-functions"
    assert (
        slug("Only complete runs, once: publish on completion")
        == "only-complete-runs-once-publish-on-completion"
    )


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_and_anchor_resolves(page):
    broken = []
    for number, target in links(page):
        if re.match(r"^[a-z]+:", target):  # https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.exists():
            broken.append(f"{page.name}:{number}: {target} (no such file)")
        elif anchor and file.suffix == ".md" and anchor not in anchors(file):
            broken.append(f"{page.name}:{number}: {target} (no heading #{anchor} in {file.name})")
    assert not broken, "\n".join(broken)


def test_every_docs_page_is_linked_from_the_readme_and_the_index():
    readme, index = (ROOT / "README.md").read_text(), (ROOT / "docs" / "README.md").read_text()
    for page in sorted((ROOT / "docs").glob("*.md")):
        if page.name != "README.md":
            assert f"(docs/{page.name}" in readme, f"README.md does not link docs/{page.name}"
            assert f"({page.name})" in index, f"docs/README.md does not link {page.name}"
    assert len((ROOT / "README.md").read_text().splitlines()) <= 300


# -- hcl and json examples ---------------------------------------------------------------------------


def variables_of(module_dir: Path) -> set[str]:
    names = set()
    for tf in module_dir.glob("*.tf"):
        with open(tf) as handle:
            names |= {name for block in hcl2.load(handle).get("variable", []) for name in block}
    return {name.strip('"') for name in names}


META_ARGUMENTS = {"source", "for_each", "count", "providers", "depends_on", "version"}


def module_dir(source: str) -> Path:
    assert source.startswith("git::https://example.com/platform/lake-ingest.git"), source
    sub = re.search(r"//([^?]+)", source.split("lake-ingest.git", 1)[1])
    return ROOT / sub.group(1) if sub else ROOT


def api_config_problems(api_config: Any, arguments: dict[str, Any]) -> list[str]:
    env = {"ALLOW_HTTP_LOOPBACK": "true"} if arguments.get("allow_http_loopback") is True else {}
    return [str(p) for p in config.problems(api_config, env)]


HCL = [
    pytest.param(page, line, text, fragment, id=f"{page.name}:{line}")
    for page in PAGES
    for line, text, fragment in fenced_blocks(page, "hcl")
]


@pytest.mark.parametrize(("page", "line", "text", "fragment"), HCL)
def test_every_hcl_example_is_a_real_module_block_or_a_marked_fragment(page, line, text, fragment):
    if fragment:
        # A fragment still parses, alone or as the body of a module block (`api_config = {...}`).
        try:
            modules = hcl2.loads(text).get("module", [])
        except Exception:  # noqa: BLE001 - python-hcl2 raises several kinds of parse errors
            body = plain(hcl2.loads(f'module "fragment" {{\n{text}\n}}\n')["module"][0])["fragment"]
            assert {a for a in body if not a.startswith("__")} <= variables_of(ROOT), sorted(body)
            if isinstance(body.get("api_config"), dict):
                assert not api_config_problems(body["api_config"], body), body["api_config"]
            return
    else:
        parsed = hcl2.loads(text)
        modules = parsed.get("module", [])
        assert modules and set(parsed) - {"__comments__"} == {"module"}, (
            "not a whole module block: mark it <!-- fragment -->"
        )
    for block in modules:
        ((name, arguments),) = plain(block).items()
        arguments = dict(arguments)
        known = variables_of(module_dir(arguments["source"]))
        unknown = {a for a in arguments if not a.startswith("__")} - known - META_ARGUMENTS
        assert not unknown, f'module "{name}": {sorted(unknown)} are not variables of {arguments["source"]}'
        if isinstance(arguments.get("api_config"), dict):
            assert not api_config_problems(arguments["api_config"], arguments), name
        elif not fragment and "api_config" in arguments:
            pytest.fail(f'module "{name}": api_config is an expression: mark the block <!-- fragment -->')


def test_a_wrong_api_config_in_an_example_would_fail():
    """The check above is the handler's plan-time schema: a misspelled option fails it."""
    problems = api_config_problems({"endpoint": "https://api.example.com/v1", "record_path": "data"}, {})
    assert any("record_path" in p and "records_path" in p for p in problems), problems
    assert api_config_problems({"endpoint": "http://127.0.0.1:8080/v1"}, {})
    assert not api_config_problems({"endpoint": "http://127.0.0.1:8080/v1"}, {"allow_http_loopback": True})


JSON = [
    pytest.param(page, line, text, id=f"{page.name}:{line}")
    for page in PAGES
    for line, text, _ in fenced_blocks(page, "json")
]


@pytest.mark.parametrize(("page", "line", "text"), JSON)
def test_every_json_example_parses_and_every_source_file_is_valid(page, line, text):
    document = json.loads(text)
    if "api_config" in document:  # a source file
        assert not local.source_problems(document, "try"), local.source_problems(document, "try")
    elif "endpoint" in document:  # an API_CONFIG
        assert not config.problems(document), config.problems(document)


def test_the_try_template_is_a_valid_source_file():
    source = json.loads((ROOT / "examples" / "try" / "source.json").read_text())
    assert not local.source_problems(source, "try")


# -- diagrams ----------------------------------------------------------------------------------------


def asl(name: str) -> tuple[set[str], set[tuple[str, str]]]:
    """The states and transitions of one state machine definition in orchestration.tf: the keys of
    its `States` (indented 6 spaces in the locals) and each state's Next, Default and Choices' Next."""
    text = (ROOT / "orchestration.tf").read_text()
    start = text.index(f"  {name} = ")
    end = text.index("\n  }\n", start)
    body = text[start:end]
    states: set[str] = set()
    edges: set[tuple[str, str]] = set()
    blocks = re.split(r"\n      (?=\w+ = \{)", body)
    for block in blocks[1:]:
        state = block.split(" ", 1)[0]
        states.add(state)
        for target in re.findall(r'(?:Next|Default)\s*=\s*"(\w+)"', block):
            edges.add((state, target))
    return states, edges


def diagram(page: str, first_state: str) -> tuple[set[str], set[tuple[str, str]]]:
    """The states and transitions of the stateDiagram in `page` that starts at `first_state`."""
    for _, text, _ in fenced_blocks(ROOT / "docs" / page, "mermaid"):
        if f"[*] --> {first_state}\n" in text and text.startswith("stateDiagram-v2"):
            edges = set(re.findall(r"^\s*(\[\*\]|\w+) --> (\[\*\]|\w+)", text, re.M))
            inner = {(a, b) for a, b in edges if "[*]" not in (a, b)}
            return {s for e in edges for s in e if s != "[*]"}, inner
    raise LookupError(f"no state diagram starting at {first_state} in docs/{page}")


@pytest.mark.parametrize(("machine", "first"), [("run_loop", "Start"), ("backfill_definition", "Limits")])
def test_each_state_machine_diagram_has_exactly_the_states_and_transitions_of_its_asl(machine, first):
    states, edges = asl(machine)
    assert first in states and len(states) >= 4, states
    drawn_states, drawn_edges = diagram("orchestration.md", first)
    assert drawn_states == states, f"drawn {sorted(drawn_states)}, the ASL has {sorted(states)}"
    assert drawn_edges == edges, f"drawn {sorted(drawn_edges)}, the ASL has {sorted(edges)}"


def test_the_run_loop_asl_is_read_as_it_is():
    states, edges = asl("run_loop")
    assert {"Invoke", "Outcome", "Pause", "Resume", "Done", "Quarantined"} <= states
    assert ("Resume", "Invoke") in edges and ("Outcome", "Quarantined") in edges


def test_the_runs_life_names_the_objects_in_the_handlers_order():
    [life] = [t for _, t, _ in fenced_blocks(ROOT / "docs" / "handler-contract.md", "mermaid")]
    order = [
        "_manifest.json",  # the run id's manifest, read first
        "_state/cursor.json with the lease",
        "GetSecretValue",
        "page-0000N.json.gz",
        "records/ingest_date=D/run_id=R/attempt=A",
        "_state/schema.json (the fields",
        "run_id=R/_manifest.json (last",
        "cursor advanced",
        "published/ingest_date=D/run_id=R.ndjson (the published list)",
    ]
    positions = [
        life.index(step, life.index("GetObject ingest_date") if i else 0) for i, step in enumerate(order)
    ]
    assert positions == sorted(positions), order


# -- worked examples ---------------------------------------------------------------------------------


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lake_ingest", *args],
        capture_output=True,
        text=True,
        env=cli_env(**HOSTILE_AWS_ENVIRONMENT),
        timeout=180,
        check=False,
    )


def test_the_cursor_source_tried_twice_and_its_records_read_with_one_command(tmp_path):
    """docs/local-runner.md's worked example, as written, against the sample API the demo uses."""
    page = ROOT / "docs" / "local-runner.md"
    [source_text] = [t for _, t, _ in fenced_blocks(page, "json") if '"incremental"' in t]
    api = ScriptedUpstream(responder=sample_api("sample-token")).start()
    try:
        source = tmp_path / "orders.json"
        source.write_text(source_text.replace("http://127.0.0.1:8080", api.url))
        creds = tmp_path / "creds.json"
        creds.write_text(json.dumps({"api_key": "sample-token"}))
        lake = str(tmp_path / "lake")
        first = cli("try", str(source), "--credentials", str(creds), "--lake", lake)
        assert first.returncode == 0, first.stderr[-2000:]
        assert "SUCCESS (end): 2 page(s) stored, 150 record(s)" in first.stderr
        added = urllib.request.Request(
            f"{api.url}/admin/orders?count=20",
            method="POST",
            headers={"Authorization": "Bearer sample-token"},
        )
        with urllib.request.urlopen(added, timeout=10) as answer:  # loopback sample API
            assert json.loads(answer.read()) == {"orders": 170}
        second = cli("try", str(source), "--credentials", str(creds), "--lake", lake)
        assert second.returncode == 0, second.stderr[-2000:]
        result = json.loads(second.stdout)
        assert "SUCCESS (end): 1 page(s) stored, 20 record(s)" in second.stderr
        assert result["cursor"] == {
            "from": "2026-01-01T02:29:00Z",
            "to": "2026-01-01T02:29:20Z",
            "moved": True,
            "empty_runs": 0,
        }
        assert result["incremental"]["sent"] == "2026-01-01T02:29:00Z"
        for shown in ("2026-01-01T02:29:00Z", "2026-01-01T02:29:20Z", "150 record(s)", "20 record(s)"):
            assert shown in page.read_text()

        runs = cli("runs", "--config", str(source), "--lake", lake, "--json")
        listed = json.loads(runs.stdout)["runs"]
        assert [(r["status"], r["pages"], r["records"]) for r in listed] == [
            ("SUCCESS", 1, 20),
            ("SUCCESS", 2, 150),
        ]
        records = cli("records", "--config", str(source), "--lake", lake, "--run-id", result["run_id"])
        assert records.returncode == 0, records.stderr
        lines = [json.loads(line) for line in records.stdout.splitlines()]
        assert [r["id"] for r in lines] == list(range(150, 170))
        assert lines[0] == {
            "id": 150,
            "amount_cents": 5550,
            "currency": "EUR",
            "updated_at": "2026-01-01T02:29:01Z",
        }
        assert f"20 record(s) of run {result['run_id']}" in records.stderr and "(complete)" in records.stderr
        cursor = cli("cursor", "--config", str(source), "--lake", lake)
        assert cursor.stdout.startswith("cursor      2026-01-01T02:29:20Z"), cursor.stdout
        assert "lease       free" in cursor.stdout and "empty runs  0 in a row" in cursor.stdout
        alarms = cli("alarms", "--config", str(source), "--lake", lake)
        assert alarms.returncode == 1 and "a local lake has no alarms" in alarms.stderr
    finally:
        api.stop()
