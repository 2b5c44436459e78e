"""Docs that cannot drift: generated tables match the HCL and the schema; one version everywhere."""

from __future__ import annotations

import re
import shutil
import tomllib

import hcl2
import pytest
from scripts import docs, policy_matrix
from scripts.harness import ROOT

import lake_ingest
from tests.readme_examples import hcl_blocks, plain


@pytest.mark.parametrize("module", list(docs.MODULES), ids=lambda m: str(m.relative_to(ROOT)) or "root")
def test_readme_tables_match_variables_and_outputs(module):
    readme = docs.readme_of(module)
    assert docs.regenerated(module) == readme.read_text(), (
        f"{readme.relative_to(ROOT)} is out of date: run `make docs`"
    )


def test_the_api_config_tables_match_the_schema():
    assert docs.regenerated_api_config() == docs.API_CONFIG_DOC.read_text(), (
        f"{docs.API_CONFIG_DOC.relative_to(ROOT)} is out of date: run `make docs`"
    )


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda text: text.replace("Name of the lake:", "Name of a lake:"), "Name of a lake:"),
        (
            lambda text: (
                text + '\nvariable "new_option" {\n  description = "Added later."\n  type = bool\n}\n'
            ),
            "| `new_option` | Added later.",
        ),
    ],
    ids=["changed-description", "new-variable"],
)
def test_a_changed_or_added_variable_makes_the_table_stale(tmp_path, edit, expected):
    module = tmp_path / "lake"
    shutil.copytree(ROOT / "modules" / "lake", module, ignore=shutil.ignore_patterns(".terraform*", "tests"))
    variables = module / "variables.tf"
    variables.write_text(edit(variables.read_text()))
    readme = module / "README.md"
    assert docs.updated(readme, docs.render(module)) != readme.read_text()
    assert expected in docs.render(module)


def test_every_variable_and_output_is_in_its_table():
    for module in docs.MODULES:
        tables = docs.readme_of(module).read_text()
        for kind in ("variable", "output"):
            for name, _ in docs._blocks(module, kind):
                assert f"| `{name}` |" in tables, f"{kind} {name} of {module} is missing from its README"


def test_one_version_everywhere():
    version = lake_ingest.__version__
    assert re.fullmatch(r"\d+\.\d+\.\d+", version)
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert pyproject["project"]["dynamic"] == ["version"]
    assert pyproject["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "lake_ingest.__version__"}
    changelog = (ROOT / "CHANGELOG.md").read_text()
    released = re.findall(r"^## \[(\d+\.\d+\.\d+)\] - \d{4}-\d{2}-\d{2}$", changelog, re.M)
    assert released and released[0] == version, "the newest CHANGELOG release must be the package version"
    assert "## [Unreleased]" in changelog
    pinned = [
        ROOT / "README.md",
        *(ROOT / "docs").rglob("*.md"),
        *(ROOT / "examples").rglob("*.tf"),
        *(ROOT / "examples").rglob("*.md"),
        *(ROOT / "modules").rglob("README.md"),
    ]
    pins = {
        (str(path.relative_to(ROOT)), ref)
        for path in pinned
        if ".terraform" not in path.parts
        for ref in re.findall(r"\?ref=([^\s\"')`&]+)", path.read_text())
    }
    assert pins, "no ?ref= pin found in the docs and examples"
    # docs/upgrading.md shows the caller's code before an upgrade too: there, a released version.
    history = {f"v{v}" for v in released}
    drifted = sorted(
        (path, ref)
        for path, ref in pins
        if ref != f"v{version}" and not (path == "docs/upgrading.md" and ref in history)
    )
    assert not drifted, f"pins other than v{version} (module_version): {drifted}"
    assert "lambda_src/lake_ingest/__init__.py" in (ROOT / "main.tf").read_text()  # module_version reads it


def test_the_policy_matrix_of_the_security_page_lists_every_case_of_the_matrix_file():
    """docs/security.md's generated matrix names every case of tests/policy/matrix.toml, in order, with its
    expected decision (the results themselves are checked against an applied deployment in
    tests/test_policy_matrix.py, which also regenerates nothing: `make policy-matrix` does)."""
    section = policy_matrix.readme_section(policy_matrix.MATRIX_DOC.read_text())
    rows = [line.split(" | ") for line in section.splitlines() if re.match(r"^\| \d+ \|", line)]
    cases = policy_matrix.load_cases()
    assert [int(r[0].strip("| ")) for r in rows] == [c.number for c in cases]
    for row, case in zip(rows, cases, strict=True):
        assert (row[1], row[2], row[5]) == (case.group, case.who, case.expect), case.title
        assert row[3].endswith(f"(`{case.action}`)"), case.title
        if "{" not in case.title:
            assert row[3].startswith(case.title), case.title


def test_the_docs_table_example_is_the_one_the_demo_applies():
    """docs/querying.md's records-zone example is examples/local's `table`, which the demo and the end-to-end
    test apply (and whose latest query the README prints)."""
    [block] = [b for b in hcl_blocks() if "primary_key" in b]
    readme = plain(hcl2.loads(block)["module"][0])["orders"]["table"]
    with open(ROOT / "examples" / "local" / "main.tf") as handle:
        modules = [plain(m) for m in hcl2.load(handle)["module"]]
    [local] = [m["source"] for m in modules if "source" in m]
    assert readme == local["table"]
