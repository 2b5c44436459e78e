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
from itertools import chain, repeat
from typing import Any, cast

from .cursor_tracker import CursorTracker
from .incremental import CursorValueError, cursor_key
from .jsonscan import Collected
from .schema_drift import SAMPLE_EVERY, SAMPLE_HEAD

RECORDS_DIR = "records"
PUBLISHED_DIR = "published"
# Hive's default timestamp text, which its JSON SerDe reads without a format: UTC, milliseconds.
HIVE_TIMESTAMP = "%Y-%m-%d %H:%M:%S.%f"
_LINE_SEPARATORS = str.maketrans({"\u2028": "\\u2028", "\u2029": "\\u2029"})


def json_string(text: str) -> str:
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
    ) -> tuple[PageRecords | None, str | None]:
        """What page `index`'s records feed (None: nothing), and the key of its records object (None:
        zone off)."""
        if not self.config.enabled:
            return (PageRecords(tracker, schema) if tracker or schema else None), None
        lineage = {
            "run_id": self.run_id,
            "attempt": self.attempt,
            "page": index,
            "ingested_at": hive_timestamp(datetime.now(UTC)),
        }
        key = records_key(self.raw_prefix, self.partition_date, self.run_id, self.attempt, index)
        return PageRecords(tracker, schema, lineage, self.config.columns), key


# -- typed columns --------------------------------------------------------------------------------------


def _exact_number(value: Any) -> Decimal | None:
    """A JSON number or numeric text read exactly (never through a float); None for a boolean, a null
    or anything that is not a number."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        return Decimal(str(value).strip())
    except ArithmeticError:
        return None


def _integer(value: Any) -> str | None:
    number = _exact_number(value)
    if number is None or not number.is_finite() or number != number.to_integral_value():
        return None
    return str(int(number))


def _double(value: Any) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return json.dumps(number) if number == number and abs(number) != float("inf") else None


def _decimal(value: Any) -> str | None:
    number = _exact_number(value)
    return format(number, "f") if number is not None and number.is_finite() else None


def _boolean(value: Any) -> str | None:
    return json.dumps(value) if isinstance(value, bool) else None


def _string(value: Any) -> str | None:
    if value is None:
        return None
    return json_string(value if isinstance(value, str) else json.dumps(value, separators=(",", ":")))


def _timestamp(value: Any) -> str | None:
    try:
        moment = cursor_key(value, "timestamp")
    except (CursorValueError, ArithmeticError):
        return None
    return json_string(hive_timestamp(moment))


def _date(value: Any) -> str | None:
    if isinstance(value, str) and len(value) == 10:
        try:
            return json_string(date.fromisoformat(value).isoformat())
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


def line_head(lineage: Mapping[str, Any]) -> str:
    """The start of every line of one records object: its lineage, then the record_index key."""
    pairs = ",".join(f"{json.dumps(k)}:{json.dumps(v)}" for k, v in lineage.items())
    return "{" + pairs + ',"record_index":'


def typed_columns(columns: Mapping[str, str]) -> Callable[[Any], str]:
    """The declared typed columns of one decoded record, as `,"name":value` pairs: null where the value
    is missing or does not fit the column's type, all null for a record that is no JSON object."""
    converters = [(json_string(name), name, converter(kind)) for name, kind in columns.items()]

    def pairs(element: Any) -> str:
        fields = element if isinstance(element, dict) else {}
        text = ""
        for encoded, name, convert in converters:
            value = convert(fields.get(name))
            text += f",{encoded}:{value if value is not None else 'null'}"
        return text

    return pairs


def cursor_column(cursor_type: str) -> Callable[[Any], str | None]:
    """The cursor_value text from a cursor key: timestamp as Hive text, number as double, string."""
    if cursor_type == "timestamp":
        return lambda key: json_string(hive_timestamp(key))
    if cursor_type == "number":
        return lambda key: json.dumps(float(key))
    return lambda key: json_string(str(key))


# -- one page's records -----------------------------------------------------------------------------------


class PageRecords:
    """What a page's records feed: the cursor tracker, the schema sample, the NDJSON lines of the records
    zone. The scanner hands each record (exact text, decoded value) to `collect`, which only keeps it;
    `process`, called after every chunk the scanner was fed, does the rest a batch at a time (a call per
    record is what a Python scanner cannot afford: this keeps the records zone's cost per record to one
    list append and one formatted line).

    Lines are kept until `attach` gives them somewhere to go (a page is known to be data only once it
    is scanned, or once it outgrows max_parse_bytes and streams).
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
        self._head = line_head(lineage or {})
        self._columns = typed_columns(columns) if columns else None
        self._cursor = cursor_column(tracker.cursor_type) if tracker is not None else None
        self._write: Callable[[bytes], None] | None = None
        self._pending: list[bytes] = []
        # What the scanner hands records to; the decoded values only for the tracker and typed columns
        # (the schema sample decodes the few records it samples from their text).
        self.collect = Collected(keep_elements=tracker is not None or bool(columns))
        self.index = 0  # records processed
        self.not_written = 0  # records too large to keep whole (no exact text to write)

    @property
    def needs_values(self) -> bool:
        """Whether every record must be decoded (NDJSON lines are handed over as text otherwise)."""
        return self.collect.keep_elements

    @property
    def written(self) -> int:
        return self.index - self.not_written

    def attach(self, write: Callable[[bytes], None]) -> None:
        self._write = write
        self.process()

    def process(self) -> None:
        """Take in the records collected since the last call; hand their lines on once attached."""
        texts, elements = self.collect.texts, self.collect.elements
        if texts:
            keys = [self._tracker.see(e) for e in elements] if self._tracker is not None else None
            if self._schema is not None:
                self._sample(texts, elements)
            if self.writes:
                self._pending.append(self._lines(texts, elements, keys).encode())
            self.not_written += texts.count(None)
            self.index += len(texts)
            texts.clear()
            elements.clear()
        if self._write is not None and self._pending:
            # One batch at a time, each let go once handed on (a page held before `attach` may have
            # many: no joined copy of them all).
            pending = self._pending
            pending.reverse()
            while pending:
                self._write(pending.pop())

    def _sample(self, texts: list[str | None], elements: list[Any]) -> None:
        """Show the schema sample the batch's sampled records (decoded from their text if need be)."""
        assert self._schema is not None
        for i in _sampled(self.index, len(texts)):
            at = i - self.index
            if elements:
                self._schema.see(i, elements[at])
            elif texts[at] is not None:
                try:
                    self._schema.see(i, json.loads(cast(str, texts[at])))
                except (ValueError, RecursionError):
                    continue  # not JSON (an NDJSON line): no fields to see

    def _lines(self, texts: list[str | None], elements: list[Any], keys: list[Any] | None) -> str:
        head, encode, base = self._head, json.encoder.encode_basestring, self.index
        if self._cursor is None and self._columns is None and None not in texts:
            # The common case, built without a Python step per record (C iterators end to end).
            numbers = map(str, range(base, base + len(texts)))
            parts = zip(
                repeat(head),
                numbers,
                repeat(',"record":'),
                map(encode, cast(list[str], texts)),
                repeat("}\n"),
            )
            lines = "".join(chain.from_iterable(parts))
        elif self._cursor is None and self._columns is None:
            lines = "".join(
                [f'{head}{base + i},"record":{encode(t)}}}\n' for i, t in enumerate(texts) if t is not None]
            )
        else:
            extra = self._extra
            found = keys or [None] * len(texts)
            lines = "".join(
                [
                    f'{head}{base + i},"record":{encode(t)}{extra(elements[i], found[i])}}}\n'
                    for i, t in enumerate(texts)
                    if t is not None
                ]
            )
        # U+2028/U+2029 inside a record's strings: escaped too (see json_string); rare, so looked for once.
        return lines.translate(_LINE_SEPARATORS) if "\u2028" in lines or "\u2029" in lines else lines

    def _extra(self, element: Any, key: Any) -> str:
        """The cursor_value and typed columns of one record, as `,"name":value` pairs."""
        extra = ""
        if self._cursor is not None:
            extra = ',"cursor_value":' + ((self._cursor(key) if key is not None else None) or "null")
        return extra + (self._columns(element) if self._columns is not None else "")


def _sampled(base: int, count: int) -> list[int]:
    """The record indexes in [base, base + count) the schema sample looks at (schema_drift's rule)."""
    end = base + count
    head = list(range(base, min(end, SAMPLE_HEAD)))
    first = max(base, SAMPLE_HEAD)
    first += -first % SAMPLE_EVERY
    return head + list(range(first, end, SAMPLE_EVERY))
