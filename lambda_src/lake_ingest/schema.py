"""API_CONFIG's JSON Schema (api_config.schema.json), checked without a JSON Schema library.

The schema is the one source of what API_CONFIG may hold: the Terraform module checks it at plan
time (modules/api_config, the same keywords, the same messages), the handler checks it here, the
docs' API_CONFIG table (docs/handler-contract.md) and the local runner's source.json come from it.
This validator implements the
keywords the schema uses (type, enum, const, minimum, maximum, minLength, minItems, pattern,
properties, required, additionalProperties, items, propertyNames with enum, allOf of if/then on a
`type` constant, dependentRequired, $ref to a sibling file) and reads `x-hint` for messages. A null
value counts as absent (Terraform fills attributes a caller left out with null). A test runs the
same cases through this validator, the reference `jsonschema` library and the Terraform module, and
fails when they disagree.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

SCHEMA_DIR = Path(__file__).resolve().parent
API_CONFIG_SCHEMA = "api_config.schema.json"
TYPE_NAMES = {
    "string": "a string",
    "number": "a number",
    "integer": "a whole number",
    "boolean": "true or false",
    "object": "an object",
    "array": "a list",
}


@dataclass(frozen=True)
class Problem:
    """One thing wrong: the field (dotted path) and what to change."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


@cache
def load(name: str = API_CONFIG_SCHEMA) -> dict[str, Any]:
    """A schema shipped beside this module (read once per process)."""
    schema: dict[str, Any] = json.loads((SCHEMA_DIR / name).read_text())
    return schema


def number_text(value: float) -> str:
    """A number as Terraform prints it: 900, 0.1, 268435456 (never 2.68e+08)."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


_USERINFO = re.compile(r"//[^/@\s]*@")


def value_text(value: Any) -> str:
    """A value as JSON (what Terraform's jsonencode shows), shortened for a message, with any
    user:password@ in a URL masked (a message must not repeat a credential)."""
    text = _USERINFO.sub("//***@", json.dumps(value, separators=(",", ":"), ensure_ascii=False))
    return text if len(text) <= 80 else text[:77] + "..."


def kind_of(value: Any) -> str:
    """The JSON type of a value ("integer" for whole numbers, which are numbers too)."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    return "null"


def _type_ok(kind: str, wanted: list[str]) -> bool:
    return not wanted or kind in wanted or (kind == "integer" and "number" in wanted)


def _present(value: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in value.items() if v is not None}


def problems(value: Any, schema: dict[str, Any] | None = None, path: str = "API_CONFIG") -> list[Problem]:
    """Everything `value` gets wrong against `schema` (API_CONFIG's by default), in a stable order."""
    schema = load() if schema is None else schema
    if "$ref" in schema:
        schema = load(schema["$ref"])
    wanted = schema.get("type", [])
    wanted = [wanted] if isinstance(wanted, str) else list(wanted)
    kind = kind_of(value)
    if not _type_ok(kind, wanted):
        return [
            Problem(path, f"is {value_text(value)}; it must be {' or '.join(TYPE_NAMES[t] for t in wanted)}")
        ]
    if kind == "object":
        return _object_problems(_present(value), schema, path)
    found: list[Problem] = []
    if "enum" in schema and value not in schema["enum"]:
        found.append(Problem(path, f"is {value_text(value)}; it must be one of {', '.join(schema['enum'])}"))
    if kind in ("integer", "number") and ("minimum" in schema or "maximum" in schema):
        low, high = schema.get("minimum", float("-inf")), schema.get("maximum", float("inf"))
        if not low <= value <= high:
            found.append(
                Problem(
                    path, f"is {value_text(value)}; it must be from {number_text(low)} to {number_text(high)}"
                )
            )
    if kind == "string":
        if len(value) < schema.get("minLength", 0):
            found.append(Problem(path, "must not be empty"))
        elif "pattern" in schema and not re.search(schema["pattern"], value):
            hint = schema.get("x-hint", f"text matching {schema['pattern']}")
            found.append(Problem(path, f"is {value_text(value)}; it must be {hint}"))
    if kind == "array":
        if len(value) < schema.get("minItems", 0):
            found.append(Problem(path, "must not be empty"))
        for index, item in enumerate(value):
            found += problems(item, schema.get("items", {}), f"{path}[{index}]")
    return found


def _normal(name: str) -> str:
    return name.lower().replace("-", "_")


def _one_left_out(longer: list[str], shorter: list[str]) -> bool:
    """Whether leaving one item (a character, or a word) out of `longer` gives `shorter`."""
    return len(longer) == len(shorter) + 1 and any(
        longer[:i] + longer[i + 1 :] == shorter for i in range(len(longer))
    )


def is_near_miss(given: str, option: str) -> bool:
    """The one rule both doors apply (modules/api_config/problems.tftpl implements it with Terraform's
    built-ins): compared in lower case with "-" read as "_", the names are equal, or one character is
    deleted, inserted or substituted, or two adjacent ones are swapped, or one "_"-separated word is
    left out or added (next_path for next_url_path)."""
    a, b = _normal(given), _normal(option)
    if a == b or _one_left_out(list(a), list(b)) or _one_left_out(list(b), list(a)):
        return True
    if len(a) == len(b):
        if sum(x != y for x, y in zip(a, b, strict=True)) == 1:
            return True
        if any(a[:i] + a[i + 1] + a[i] + a[i + 2 :] == b for i in range(len(a) - 1)):
            return True
    words_a, words_b = a.split("_"), b.split("_")
    return _one_left_out(words_a, words_b) or _one_left_out(words_b, words_a)


def near_misses(given: str, options: list[str]) -> list[str]:
    """The options `given` is a near miss of, sorted."""
    return [option for option in sorted(options) if is_near_miss(given, option)]


def _did_you_mean(given: str, options: list[str]) -> str:
    near = near_misses(given, options)
    quoted = " or ".join(f'"{n}"' for n in near)
    return f" (did you mean {quoted}?)" if near else ""


def _object_problems(value: dict[str, Any], schema: dict[str, Any], path: str) -> list[Problem]:
    properties: dict[str, Any] = schema.get("properties", {})
    extra = schema.get("additionalProperties", True)
    found = [
        Problem(f"{path}.{key}", "is required") for key in schema.get("required", []) if key not in value
    ]
    if found:
        return found
    allowed, required, name = _by_type(value, schema, path)
    for key in sorted(value):
        if allowed is not None and key not in allowed:
            hint = _did_you_mean(key, allowed)
            found.append(
                Problem(
                    f"{path}.{key}",
                    f"is not an option of {name}{hint}; its options are: {', '.join(allowed)}",
                )
            )
        elif key not in properties and extra is False:
            hint = _did_you_mean(key, list(properties))
            found.append(
                Problem(
                    f"{path}.{key}",
                    f"is not an option{hint}; the options are: {', '.join(sorted(properties))}",
                )
            )
    found += [Problem(f"{path}.{key}", f"is required for {name}") for key in required if key not in value]
    for key, needs in schema.get("dependentRequired", {}).items():
        if key in value:
            found += [
                Problem(f"{path}.{need}", f"is required with {key}") for need in needs if need not in value
            ]
    if found:
        return found
    for key in sorted(value):
        sub = properties.get(key, extra if isinstance(extra, dict) else {})
        found += problems(value[key], sub, f"{path}.{key}")
    return found


def _by_type(
    value: dict[str, Any], schema: dict[str, Any], path: str
) -> tuple[list[str] | None, list[str], str]:
    """The keys (and required ones) the object's `type` allows, from the schema's if/then clauses."""
    for clause in schema.get("allOf", []):
        const = clause["if"]["properties"]["type"]["const"]
        if value.get("type") == const:
            then = clause["then"]
            name = f'{path.rsplit(".", 1)[-1]} type "{const}"'
            return then.get("propertyNames", {}).get("enum"), then.get("required", []), name
    return None, [], ""


def defaults(schema: dict[str, Any] | None = None) -> dict[str, Any]:
    """The top-level defaults the schema declares (what the module renders for unset options)."""
    schema = load() if schema is None else schema
    return {k: spec["default"] for k, spec in schema["properties"].items() if "default" in spec}
