"""The README's HCL examples as plain values, so that tests can run what a user would copy.

python-hcl2 keeps the quotes around strings (`"\\"value\\""`) and marks blocks with `__is_block__`;
`module_arguments` undoes both for one `module "<name>"` block of the README.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import hcl2

ROOT = Path(__file__).resolve().parent.parent


def hcl_blocks(path: Path = ROOT / "README.md") -> list[str]:
    """Every ```hcl fenced block of a Markdown file, in order."""
    return re.findall(r"```hcl\n(.*?)```", path.read_text(), re.S)


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


def module_arguments(name: str, path: Path = ROOT / "README.md") -> dict[str, Any]:
    """The arguments of the first `module "<name>"` block in the file's HCL examples."""
    for block in hcl_blocks(path):
        if f'module "{name}"' not in block:
            continue
        for module in hcl2.loads(block).get("module", []):
            found = plain(module)
            if name in found:
                arguments: dict[str, Any] = found[name]
                return arguments
    raise LookupError(f'no module "{name}" block in {path}')
