"""Docs that cannot drift: README tables match the HCL; one version everywhere it is stated."""

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
    refs = set(re.findall(r"\?ref=v(\d+\.\d+\.\d+)", "".join(p.read_text() for p in ROOT.rglob("README.md"))))
    assert refs == {version}, f"README examples pin {refs}, not {version}"
    assert "lambda_src/lake_ingest/__init__.py" in (ROOT / "main.tf").read_text()  # module_version reads it


def test_the_readme_policy_matrix_lists_every_case_of_the_matrix_file():
    """The README's generated matrix names every case of tests/policy/matrix.toml, in order, with its
    expected decision (the results themselves are checked against an applied deployment in
    tests/test_policy_matrix.py, which also regenerates nothing: `make policy-matrix` does)."""
    section = policy_matrix.readme_section((ROOT / "README.md").read_text())
    rows = [line.split(" | ") for line in section.splitlines() if re.match(r"^\| \d+ \|", line)]
    cases = policy_matrix.load_cases()
    assert [int(r[0].strip("| ")) for r in rows] == [c.number for c in cases]
    for row, case in zip(rows, cases, strict=True):
        assert (row[1], row[2], row[5]) == (case.group, case.who, case.expect), case.title
        assert row[3].endswith(f"(`{case.action}`)"), case.title
        if "{" not in case.title:
            assert row[3].startswith(case.title), case.title


def test_the_readme_table_example_is_the_one_the_demo_applies():
    """The README's records-zone example is examples/local's `table`, which the demo and the end-to-end
    test apply (and whose latest query the README prints)."""
    [block] = [b for b in hcl_blocks() if "primary_key" in b]
    readme = plain(hcl2.loads(block)["module"][0])["orders"]["table"]
    with open(ROOT / "examples" / "local" / "main.tf") as handle:
        modules = [plain(m) for m in hcl2.load(handle)["module"]]
    [local] = [m["source"] for m in modules if "source" in m]
    assert readme == local["table"]
