"""Inputs/Outputs tables in each module's README, generated from variables.tf and outputs.tf.

`python -m scripts.docs` (`make docs`) rewrites the part of each README between the markers;
`python -m scripts.docs --check` exits 1 and names the module when a table is out of date (the
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
MODULES = {ROOT: ROOT / "README.md", ROOT / "modules/lake": None, ROOT / "modules/package": None}
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
    parser.add_argument("--check", action="store_true", help="exit 1 when a README's tables are out of date")
    args = parser.parse_args()
    stale = []
    for module in MODULES:
        readme = readme_of(module)
        text = updated(readme, render(module))
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
