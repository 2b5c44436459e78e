"""Schema drift, seen: the top-level fields a run's records had, and how they differ from the lake's.

Each run records in its manifest the top-level fields of its records and the JSON types each field
held (`schema.fields`, at most FIELDS_LIMIT fields), and compares them with every field complete runs
have had, kept in `<raw_prefix>/_state/schema.json` (the union: a field once seen stays known):

  new       a field no complete run had
  retyped   a field holding a JSON type it never held before (null does not count: optional fields)
  missing   a known field this run's records did not have: listed, not counted, since a run's
            records need not carry every optional field (a small incremental run rarely does)

New and retyped fields are logged and counted in the SchemaChanges metric; a run without records
compares nothing. `table.on_schema_change` decides what else happens:

  allow       nothing else (the metric is still emitted; no alarm)
  alarm       the schema_changes alarm fires (the default)
  quarantine  the run ends QUARANTINED (stop_reason schema_changed): its pages stay in the raw and
              records zones but are not published, so the documented queries do not see them, and
              the stored fields are kept, until an operator accepts the change
              (`python -m lake_ingest schema accept`) and invokes the run id again

Observing every field of every record costs more than scanning it, so a page's first SAMPLE_HEAD
records are observed and one in SAMPLE_EVERY after that: a field that appears in one record of a
million may be missed (the raw and records zones keep it all the same).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

FIELDS_LIMIT = 200
SAMPLE_HEAD = 1000
SAMPLE_EVERY = 64
SCHEMA_NAME = "schema.json"
_KINDS = {str: "string", bool: "boolean", int: "number", float: "number", dict: "object", list: "array"}


def json_kind(value: Any) -> str:
    return "null" if value is None else _KINDS.get(type(value), "number")


class SchemaSample:
    """The top-level fields (and their JSON types) of the records seen, in bounded memory."""

    def __init__(self) -> None:
        self.fields: dict[str, set[str]] = {}
        self.truncated = 0  # fields past FIELDS_LIMIT, not kept

    def see(self, index: int, record: Any) -> None:
        if index >= SAMPLE_HEAD and index % SAMPLE_EVERY:
            return
        if not isinstance(record, dict):
            return
        for name, value in record.items():
            kinds = self.fields.get(name)
            if kinds is None:
                if len(self.fields) >= FIELDS_LIMIT:
                    self.truncated += 1
                    continue
                kinds = self.fields[name] = set()
            kinds.add(json_kind(value))

    def absorb(self, other: SchemaSample) -> None:
        for name, kinds in other.fields.items():
            if name in self.fields or len(self.fields) < FIELDS_LIMIT:
                self.fields.setdefault(name, set()).update(kinds)
            else:
                self.truncated += 1
        self.truncated += other.truncated

    def as_dict(self) -> dict[str, list[str]]:
        return {name: sorted(kinds) for name, kinds in sorted(self.fields.items())}


def changes(seen: Mapping[str, list[str]], before: Mapping[str, list[str]] | None) -> dict[str, list[str]]:
    """New, retyped and missing fields of `seen` against the known ones (nothing when none are known)."""
    if before is None:
        return {"new": [], "retyped": [], "missing": []}

    def kinds(types: list[str]) -> set[str]:
        return set(types) - {"null"}

    return {
        "new": sorted(set(seen) - set(before)),
        "retyped": sorted(n for n in set(seen) & set(before) if kinds(seen[n]) - kinds(before[n])),
        "missing": sorted(set(before) - set(seen)),
    }


def count(found: Mapping[str, list[str]]) -> int:
    """The changes that count (SchemaChanges, the alarm, quarantine): new and retyped fields."""
    return len(found.get("new", ())) + len(found.get("retyped", ()))


def union(seen: Mapping[str, list[str]], before: Mapping[str, list[str]] | None) -> dict[str, list[str]]:
    """Every field known after a complete run, with every type each held (at most FIELDS_LIMIT)."""
    merged = {name: set(kinds) for name, kinds in (before or {}).items()}
    for name, kinds in seen.items():
        if name in merged or len(merged) < FIELDS_LIMIT:
            merged.setdefault(name, set()).update(kinds)
    return {name: sorted(kinds) for name, kinds in sorted(merged.items())}


def state_document(fields: Mapping[str, list[str]], run_id: str, accept_next: bool = False) -> bytes:
    return json.dumps(
        {"fields": dict(fields), "run_id": run_id, "accept_next": accept_next}, indent=1
    ).encode()
