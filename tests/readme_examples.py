"""The HCL examples of README.md and docs/*.md as plain values, so that tests can run what a user would
copy.

python-hcl2 keeps the quotes around strings (`"\\"value\\""`) and marks blocks with `__is_block__`;
`module_arguments` undoes both for one `module "<name>"` block of the docs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import hcl2

ROOT = Path(__file__).resolve().parent.parent


def doc_pages() -> list[Path]:
    """README.md and every page under docs/, README first."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def fenced_blocks(path: Path, language: str) -> list[tuple[int, str, bool]]:
    """Every ```<language> fenced block of a Markdown file, in order: (line number of its opening fence,
    its text, whether a `<!-- fragment -->` comment stands right before it)."""
    found, lines = [], path.read_text().splitlines(keepends=True)
    index = 0
    while index < len(lines):
        if lines[index].rstrip("\n") == f"```{language}":
            start, body = index, []
            index += 1
            while not lines[index].startswith("```"):
                body.append(lines[index])
                index += 1
            before = next((line.strip() for line in reversed(lines[:start]) if line.strip()), "")
            found.append((start + 1, "".join(body), before == "<!-- fragment -->"))
        index += 1
    return found


def hcl_blocks(path: Path | None = None) -> list[str]:
    """Every ```hcl fenced block of a Markdown file (default: README.md and docs/*.md), in order."""
    paths = [path] if path else doc_pages()
    return [text for page in paths for _, text, _ in fenced_blocks(page, "hcl")]


def plain(value: Any) -> Any:
    """A python-hcl2 value as Terraform would see it: strings unquoted, block markers dropped."""
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        text: str = json.loads(value)
        return text
    if isinstance(value, dict):
        return {plain(k): plain(v) for k, v in value.items() if k != "__is_block__"}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def module_arguments(name: str, path: Path | None = None) -> dict[str, Any]:
    """The arguments of the first `module "<name>"` block in the file's (default: the docs') HCL examples."""
    for block in hcl_blocks(path):
        if f'module "{name}"' not in block:
            continue
        for module in hcl2.loads(block).get("module", []):
            found = plain(module)
            if name in found:
                arguments: dict[str, Any] = found[name]
                return arguments
    raise LookupError(f'no module "{name}" block in {path or "README.md and docs/"}')
