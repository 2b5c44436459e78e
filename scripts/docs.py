"""Inputs/Outputs tables of each module, generated from variables.tf and outputs.tf (the root module's in
docs/inputs-outputs.md, each submodule's in its README), and the API_CONFIG tables of
docs/handler-contract.md, generated from lambda_src/lake_ingest/api_config.schema.json.

`python -m scripts.docs` (`make docs`) rewrites the part of each file between the markers;
`python -m scripts.docs --check` exits 1 and names the file when a table is out of date (the
drift test runs it). No terraform-docs binary is needed: the HCL is parsed with python-hcl2.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

import hcl2

from scripts.harness import ROOT

BEGIN, END = "<!-- BEGIN_TF_DOCS -->", "<!-- END_TF_DOCS -->"
SCHEMA_BEGIN, SCHEMA_END = "<!-- BEGIN_API_CONFIG -->", "<!-- END_API_CONFIG -->"
SCHEMA = ROOT / "lambda_src" / "lake_ingest" / "api_config.schema.json"
API_CONFIG_DOC = ROOT / "docs" / "handler-contract.md"  # where the API_CONFIG tables are
MODULES = {
    ROOT: ROOT / "docs" / "inputs-outputs.md",
    ROOT / "modules/lake": None,
    ROOT / "modules/package": None,
    ROOT / "modules/api_config": None,
    ROOT / "modules/reader_policy": None,
}
TYPE_WIDTH = 40


def _text(value: Any) -> str:
    """python-hcl2 keeps quotes and ${} around strings and expressions: undo that."""
    if isinstance(value, str):
        if value.startswith("${") and value.endswith("}"):
            return value[2:-1]
        if len(value) >= 2 and value[0] == value[-1] == '"':
            return json.loads(value)
    return value


def _cell(text: str) -> str:
    text = " ".join(str(text).split()).replace("|", "\\|")
    return text.replace("<", "&lt;").replace(">", "&gt;")


def _plain(value: Any) -> Any:
    """A parsed HCL value as plain JSON data."""
    if isinstance(value, dict):
        return {_text(k): _plain(v) for k, v in value.items() if k != "__is_block__"}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return _text(value)


def _default(value: Any) -> str:
    return "`null`" if value is None else f"`{json.dumps(_plain(value))}`"


def _type(value: Any) -> str:
    text = " ".join(str(_text(value) or "any").split())
    if len(text) > TYPE_WIDTH:
        text = text.split("(")[0] + "({...})" if "(" in text else text[:TYPE_WIDTH]
    return f"`{text}`"


def _blocks(path: Path, kind: str) -> list[tuple[str, dict[str, Any]]]:
    blocks: list[tuple[str, dict[str, Any]]] = []
    for tf in sorted(path.glob("*.tf")):
        with open(tf) as handle:
            parsed = hcl2.load(handle)
        for block in parsed.get(kind, []):
            ((name, body),) = block.items()
            blocks.append((_text(name), body))
    return sorted(blocks)


def render(module: Path) -> str:
    """The Inputs and Outputs tables of one module."""
    lines = ["## Inputs", "", "| Name | Description | Type | Default | Required |", "|---|---|---|---|:---:|"]
    for name, body in _blocks(module, "variable"):
        required = "default" not in body
        default = "" if required else _default(body.get("default"))
        description = _cell(_text(body.get("description", "")))
        kind, needed = _type(body.get("type")), "yes" if required else "no"
        lines.append(f"| `{name}` | {description} | {kind} | {default} | {needed} |")
    lines += ["", "## Outputs", "", "| Name | Description |", "|---|---|"]
    for name, body in _blocks(module, "output"):
        lines.append(f"| `{name}` | {_cell(_text(body.get('description', '')))} |")
    return "\n".join(lines)


def _schema_type(spec: dict[str, Any]) -> str:
    kinds = spec.get("type", "any")
    kinds = [kinds] if isinstance(kinds, str) else kinds
    text = " or ".join(kinds)
    if "enum" in spec:
        text = " \\| ".join(
            f"`{v}`"
            for v in spec["enum"]
            if not (isinstance(v, str) and v.islower() and v.upper() in spec["enum"])
        )
    if spec.get("type") == "array":
        text = f"list of {spec['items'].get('type', 'any')}"
    if spec.get("type") == "object" and "additionalProperties" in spec and "properties" not in spec:
        kinds = spec["additionalProperties"]["type"]
        text = f"map of {' or '.join([kinds] if isinstance(kinds, str) else kinds)}"
    bounds = f" ({_number(spec['minimum'])} to {_number(spec['maximum'])})" if "minimum" in spec else ""
    return text + bounds


def _number(value: float) -> str:
    return f"{int(value):,}" if float(value).is_integer() else str(value)


def _meaning(spec: dict[str, Any]) -> str:
    hint = f" Form: {spec['x-hint']}." if "x-hint" in spec else ""
    return _cell(spec.get("description", "") + hint)


def _schema_default(spec: dict[str, Any]) -> str:
    return f"`{json.dumps(spec['default'])}`" if "default" in spec else "-"


def render_api_config(schema_path: Path = SCHEMA) -> str:
    """The API_CONFIG tables of docs/handler-contract.md: every option, then the options of auth and
    pagination by type."""
    schema = json.loads(schema_path.read_text())
    lines = ["| option | type | default | meaning |", "|---|---|---|---|"]
    for name, spec in schema["properties"].items():
        required = " (required)" if name in schema.get("required", []) else ""
        cells = [f"`{name}`{required}", _schema_type(spec), _schema_default(spec), _meaning(spec)]
        lines.append(f"| {' | '.join(cells)} |")
    lines += ["", "| option | type | default | for `type` | meaning |", "|---|---|---|---|---|"]
    for name, spec in schema["properties"].items():
        if "properties" not in spec:
            continue
        for option, sub in spec["properties"].items():
            types = [
                c["if"]["properties"]["type"]["const"]
                for c in spec.get("allOf", [])
                if option in c["then"]["propertyNames"]["enum"]
            ]
            needed = [
                c["if"]["properties"]["type"]["const"]
                for c in spec.get("allOf", [])
                if option in c["then"].get("required", [])
            ]
            where = (
                "all"
                if option == "type"
                else ", ".join(f"`{t}`" + (" (required)" if t in needed else "") for t in types)
            )
            cells = [f"`{name}.{option}`", _schema_type(sub), _schema_default(sub), where, _meaning(sub)]
            lines.append(f"| {' | '.join(cells)} |")
    return "\n".join(lines)


def regenerated(module: Path) -> str:
    """The module's tables file (README, or docs/inputs-outputs.md for the root) as `make docs` writes it."""
    return updated(readme_of(module), render(module))


def regenerated_api_config(doc: Path = API_CONFIG_DOC) -> str:
    """docs/handler-contract.md as `make docs` writes it: its API_CONFIG tables from the schema."""
    text = doc.read_text()
    pattern = re.compile(re.escape(SCHEMA_BEGIN) + ".*?" + re.escape(SCHEMA_END), re.S)
    if not pattern.search(text):
        raise SystemExit(
            f"{doc.relative_to(ROOT)}: add the markers {SCHEMA_BEGIN} and {SCHEMA_END} where the table goes"
        )
    return pattern.sub(lambda _: f"{SCHEMA_BEGIN}\n{render_api_config()}\n{SCHEMA_END}", text, count=1)


def generated_files() -> dict[Path, str]:
    """Every file `make docs` writes, with the text it writes."""
    files = {readme_of(module): regenerated(module) for module in MODULES}
    files[API_CONFIG_DOC] = regenerated_api_config()
    return files


def readme_of(module: Path) -> Path:
    return MODULES.get(module) or module / "README.md"


def updated(readme: Path, tables: str) -> str:
    text = readme.read_text()
    if BEGIN not in text or END not in text:
        raise SystemExit(f"{readme.relative_to(ROOT)}: add the markers {BEGIN} and {END} where the tables go")
    pattern = re.compile(re.escape(BEGIN) + ".*?" + re.escape(END), re.S)
    return pattern.sub(lambda _: f"{BEGIN}\n{tables}\n{END}", text, count=1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when a generated table is out of date")
    args = parser.parse_args()
    stale = []
    for readme, text in generated_files().items():
        if text != readme.read_text():
            stale.append(str(readme.relative_to(ROOT)))
            if not args.check:
                readme.write_text(text)
    if args.check and stale:
        print(f"out of date: {', '.join(stale)}; run `make docs`", file=sys.stderr)
        return 1
    print(("updated: " + ", ".join(stale)) if stale and not args.check else "tables are up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
