"""The records zone: every data page's records again, one per line, ready for a query engine.

Athena's JSON SerDes read one JSON document per line, so a raw page (an array, an envelope, a
pretty-printed body) is not a table. Beside it, each data page also lands as gzip NDJSON:

    <raw_prefix>/records/ingest_date=<D>/run_id=<R>/attempt=<N>/page-00001.ndjson.gz
    {"run_id":"R","attempt":N,"page":1,"ingested_at":"2026-12-04 09:00:00.123","record_index":0,
     "record":"<the record's exact JSON text, as a JSON string>", ["cursor_value":...,] [columns...]}

`record` holds the exact text the API sent (a slice of the body, never re-serialized: numbers, key
order, unicode escapes and white space keep their form); read as a JSON string its value is that text.
The lineage columns say where each row came from; `cursor_value` (cursor sources) and the declared
typed columns (`table.columns`) are written beside it, converted to the column's type, so the table is
typed without a parse at query time. Records are found by the same streaming scanner that counts them,
in bounded memory; quarantined pages add no rows.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from .cursor_tracker import CursorTracker
from .incremental import CursorValueError, cursor_key

RECORDS_DIR = "records"
PUBLISHED_DIR = "published"
FLUSH_BYTES = 256 * 1024
# Hive's default timestamp text, which its JSON SerDe reads without a format: UTC, milliseconds.
HIVE_TIMESTAMP = "%Y-%m-%d %H:%M:%S.%f"
_LINE_SEPARATORS = str.maketrans({"\u2028": "\\u2028", "\u2029": "\\u2029"})


def _encode(text: str) -> str:
    """A JSON string literal; U+2028 and U+2029 escaped too, so that no reader that splits lines on
    them (Python's str.splitlines, some JavaScript) cuts a record in two; Hive splits on \\n only."""
    literal: str = json.encoder.encode_basestring(text)
    return literal.translate(_LINE_SEPARATORS) if "\u2028" in literal or "\u2029" in literal else literal


def records_key(raw_prefix: str, partition_date: str, run_id: str, attempt: int, page: int) -> str:
    return (
        f"{raw_prefix}/{RECORDS_DIR}/ingest_date={partition_date}/run_id={run_id}/attempt={attempt}/"
        f"page-{page:05d}.ndjson.gz"
    )


def published_key(raw_prefix: str, partition_date: str, run_id: str) -> str:
    return f"{raw_prefix}/{PUBLISHED_DIR}/ingest_date={partition_date}/run_id={run_id}.ndjson"


def hive_timestamp(moment: datetime) -> str:
    """An instant as Hive's JSON SerDe reads a timestamp by default: UTC, milliseconds, a space."""
    return moment.astimezone(UTC).strftime(HIVE_TIMESTAMP)[:-3]


@dataclass(frozen=True)
class RecordsConfig:
    """RECORDS_CONFIG: the records zone (on by default), its typed columns and what a schema change does."""

    enabled: bool = True
    columns: Mapping[str, str] = field(default_factory=dict)  # name -> Athena type
    primary_key: tuple[str, ...] = ()
    on_schema_change: str = "alarm"  # allow | alarm | quarantine

    @classmethod
    def from_json(cls, text: str | None) -> RecordsConfig:
        data = json.loads(text) if text else {}
        return cls(
            enabled=bool(data.get("enabled", True)),
            columns=dict(data.get("columns") or {}),
            primary_key=tuple(data.get("primary_key") or ()),
            on_schema_change=str(data.get("on_schema_change") or "alarm"),
        )


@dataclass(frozen=True)
class RecordsPlan:
    """Where one run's records go: its records zone objects, named by run, attempt and page."""

    raw_prefix: str
    partition_date: str
    run_id: str
    attempt: int
    config: RecordsConfig

    def page(
        self, index: int, tracker: CursorTracker | None, schema: Any | None
    ) -> tuple[PageRecords, str | None]:
        """What page `index`'s records feed, and the key of its records object (None: zone off)."""
        if not self.config.enabled:
            return PageRecords(tracker, schema), None
        lineage = {
            "run_id": self.run_id,
            "attempt": self.attempt,
            "page": index,
            "ingested_at": hive_timestamp(datetime.now(UTC)),
        }
        key = records_key(self.raw_prefix, self.partition_date, self.run_id, self.attempt, index)
        return PageRecords(tracker, schema, lineage, self.config.columns), key


# -- typed columns --------------------------------------------------------------------------------------


def _integer(value: Any) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = Decimal(str(value).strip())
    except ArithmeticError:
        return None
    return str(int(number)) if number.is_finite() and number == number.to_integral_value() else None


def _double(value: Any) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return json.dumps(number) if number == number and abs(number) != float("inf") else None


def _decimal(value: Any) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = Decimal(str(value).strip())
    except ArithmeticError:
        return None
    return format(number, "f") if number.is_finite() else None


def _boolean(value: Any) -> str | None:
    return json.dumps(value) if isinstance(value, bool) else None


def _string(value: Any) -> str | None:
    if value is None:
        return None
    return _encode(value if isinstance(value, str) else json.dumps(value, separators=(",", ":")))


def _timestamp(value: Any) -> str | None:
    try:
        moment = cursor_key(value, "timestamp")
    except (CursorValueError, ArithmeticError):
        return None
    return _encode(hive_timestamp(moment))


def _date(value: Any) -> str | None:
    if isinstance(value, str) and len(value) == 10:
        try:
            return _encode(date.fromisoformat(value).isoformat())
        except ValueError:
            return None
    stamp = _timestamp(value)
    return stamp[:11] + '"' if stamp else None


def converter(athena_type: str) -> Callable[[Any], str | None]:
    """The JSON text of a value for a column of this type (None: null, it does not fit the type)."""
    kind = athena_type.strip().lower()
    if kind in ("bigint", "int", "integer", "smallint", "tinyint"):
        return _integer
    if kind in ("double", "float", "real"):
        return _double
    if kind.startswith("decimal"):
        return _decimal
    return {"boolean": _boolean, "timestamp": _timestamp, "date": _date}.get(kind, _string)


def cursor_column(cursor_type: str) -> Callable[[Any], str | None]:
    """The cursor_value text from a cursor key: timestamp as Hive text, number as double, string."""
    if cursor_type == "timestamp":
        return lambda key: _encode(hive_timestamp(key))
    if cursor_type == "number":
        return lambda key: json.dumps(float(key))
    return lambda key: _encode(str(key))


# -- one page's records -----------------------------------------------------------------------------------


class PageRecords:
    """What a page's records feed, record by record: the cursor tracker, the schema sample, the NDJSON
    lines of the records zone. Called by the scanner with each record's exact text and decoded value.

    Lines are kept until `attach` gives them somewhere to go (a page is known to be data only once it
    is scanned, or once it outgrows max_parse_bytes and streams), then handed on in FLUSH_BYTES pieces.
    """

    def __init__(
        self,
        tracker: CursorTracker | None = None,
        schema: Any | None = None,
        lineage: Mapping[str, Any] | None = None,
        columns: Mapping[str, str] | None = None,
    ) -> None:
        self._tracker = tracker
        self._schema = schema
        self.writes = lineage is not None  # the records zone is on
        pairs = ",".join(f"{json.dumps(k)}:{json.dumps(v)}" for k, v in (lineage or {}).items())
        self._head = "{" + pairs + ',"record_index":'
        self._columns = [(_encode(name), name, converter(kind)) for name, kind in (columns or {}).items()]
        self._cursor = cursor_column(tracker.cursor_type) if tracker is not None else None
        self._write: Callable[[bytes], None] | None = None
        self._lines: list[str] = []
        self._size = 0
        self.index = 0
        self.not_written = 0  # records too large to keep whole (no exact text to write)

    @property
    def needs_values(self) -> bool:
        """Whether records must be decoded (NDJSON lines are written as text otherwise)."""
        return self._tracker is not None or self._schema is not None or bool(self._columns)

    @property
    def written(self) -> int:
        return self.index - self.not_written

    def attach(self, write: Callable[[bytes], None]) -> None:
        self._write = write
        self.flush()

    def __call__(self, text: str | None, element: Any) -> None:
        key = self._tracker.see(element) if self._tracker is not None else None
        if self._schema is not None:
            self._schema.see(self.index, element)
        if self.writes:
            if text is None:
                self.not_written += 1
            else:
                self._line(text, element, key)
        self.index += 1

    def _line(self, text: str, element: Any, key: Any) -> None:
        extra = ""
        if key is not None and self._cursor is not None:
            extra = ',"cursor_value":' + (self._cursor(key) or "null")
        fields = element if isinstance(element, dict) else {}  # an element that is no object: all null
        for encoded, name, convert in self._columns:
            value = convert(fields.get(name))
            extra += f",{encoded}:{value if value is not None else 'null'}"
        line = f'{self._head}{self.index},"record":{_encode(text)}{extra}}}\n'
        self._lines.append(line)
        self._size += len(line)
        if self._size >= FLUSH_BYTES and self._write is not None:
            self.flush()

    def flush(self) -> None:
        if self._lines and self._write is not None:
            self._write("".join(self._lines).encode())
            self._lines.clear()
            self._size = 0
