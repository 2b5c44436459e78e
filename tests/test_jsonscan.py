"""The streaming JSON scanner: same answers as json.loads at every chunk split, in bounded memory."""

from __future__ import annotations

import json
import random
import tracemalloc

import pytest

from lake_ingest.jsonscan import UNREADABLE, JsonScanner
from lake_ingest.records import LineCounter

DOCUMENT = {
    "meta": {"pages": [1, 2, {"deep": "value"}], "total": 12345, "ratio": -1.5e-3},
    "data": {
        "items": [
            {"id": i, "text": 'é "quoted" \\ \u2603 \U0001f600', "n": [1.5e3, -2, None, True, False], "o": {}}
            for i in range(40)
        ]
    },
    "next": "cursor-abc",
    "empty": [],
}


def scan(body: bytes, records_path: str, capture=(), chunk: int = 7, max_value: int = 1 << 20):
    scanner = JsonScanner(records_path, capture, max_value)
    for start in range(0, len(body), chunk):
        scanner.feed(body[start : start + chunk])
    return scanner.close()


@pytest.mark.parametrize(("indent", "ascii_only"), [(None, False), (2, True)])
def test_counts_and_captures_at_any_chunk_split(indent, ascii_only):
    body = json.dumps(DOCUMENT, indent=indent, ensure_ascii=ascii_only).encode()
    rng = random.Random(7)
    for chunk in [1, 2, 3, 5, 64, len(body)] + [rng.randint(1, 97) for _ in range(40)]:
        result = scan(body, "data.items", ("next", "meta.total", "meta.pages.2.deep", "missing"), chunk)
        assert result.complete, (chunk, result)
        assert result.records == 40
        assert result.values == {"next": "cursor-abc", "meta.total": 12345, "meta.pages.2.deep": "value"}


@pytest.mark.parametrize(
    ("body", "path", "records", "problem"),
    [
        (b"[1, 2, 3]", "", 3, None),
        (b"  [ ]  ", "", 0, None),
        (b"[12345678901234567890]", "", 1, None),
        (b'{"empty": []}', "empty", 0, None),
        (b'{"a": 1}', "data.items", None, "not found in the body"),
        (b'{"data": {"items": {}}}', "data.items", None, "holds a JSON object"),
        (b'{"data": "x"}', "data", None, "holds a JSON string"),
        (b'{"data": null}', "data", None, "holds a JSON null"),
        (b"[[1, 2], [3]]", "0", 2, None),
    ],
)
def test_records_at_the_path(body, path, records, problem):
    result = scan(body, path, chunk=2)
    assert result.complete and result.records == records
    assert (problem or "") in (result.records_problem or "")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"<html>", "Expecting value at character 0"),
        (b"[1, 2,", "ended early"),
        (b"[1, 2] x", "unexpected data after the JSON document"),
        (b"", "ended early at character 0"),
        (b'["caf\xe9"]', "not valid UTF-8"),
        (b'{"a": 1,}', "expected an object key"),
        (b"[1 2]", "expected ',' or ']'"),
        (b'{"a" 1}', "expected ':'"),
    ],
)
def test_invalid_bodies_are_reported_not_counted(body, message):
    result = scan(body, "", chunk=3)
    assert result.records is None
    assert message in (result.invalid or ""), result


def test_gives_up_on_a_single_value_over_the_limit_without_holding_it():
    body = b'{"meta": {"blob": "' + b"x" * 300_000 + b'"}, "data": [1]}'
    result = scan(body, "data", chunk=4096, max_value=1024)
    assert result.invalid is None and result.records is None
    assert "larger than 1024 bytes" in result.gave_up


def test_a_record_over_the_limit_is_stepped_over_and_still_counted():
    body = b'[{"id": 1}, {"blob": "' + b"x" * 300_000 + b'", "n": [1, {"a": "]"}]}, {"id": 3}]'
    seen = []
    scanner = JsonScanner("", (), 1024, lambda text, element: seen.append((text, element)))
    for start in range(0, len(body), 4096):
        scanner.feed(body[start : start + 4096])
    result = scanner.close()
    assert result.invalid is None and result.gave_up is None and result.records == 3
    assert seen == [('{"id": 1}', {"id": 1}), (None, UNREADABLE), ('{"id": 3}', {"id": 3})]


def test_memory_stays_flat_while_a_large_array_streams_through():
    record = json.dumps({"id": 1, "customer": {"name": "x" * 40, "tags": ["a", "b"]}, "amount": 12.5})
    chunk = ("[" + ", ".join([record] * 2000) + ", ").encode()  # ~250 KB of records per chunk
    scanner = JsonScanner("", (), 1 << 20)
    tracemalloc.start()
    for _ in range(120):  # ~30 MB of body, never held whole
        scanner.feed(chunk[1:] if _ else chunk)
    scanner.feed(record.encode() + b"]")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    result = scanner.close()
    assert result.records == 120 * 2000 + 1
    assert peak < 3 * len(chunk) + (1 << 20), f"peak {peak} bytes while scanning"


def test_line_counter_counts_ndjson_lines_across_chunks():
    counter = LineCounter()
    for piece in (b'{"a": 1}\n{"a"', b": 2}\n", b'{"a": 3}'):
        counter.feed(piece)
    assert counter.close().records == 3
    trailing = LineCounter()
    trailing.feed(b"1\n2\n")
    assert trailing.close().records == 2


def test_random_documents_agree_with_json_loads():
    rng = random.Random(11)

    def value(depth: int):
        kind = rng.choice(["int", "float", "str", "lit"] + (["list", "dict"] if depth < 3 else []))
        if kind == "int":
            return rng.randint(-(10**12), 10**12)
        if kind == "float":
            return rng.uniform(-1e6, 1e6) * 10 ** rng.randint(-30, 30)
        if kind == "str":
            return "".join(rng.choice('ab"\\\n\u00e9\u2603') for _ in range(rng.randint(0, 8)))
        if kind == "lit":
            return rng.choice([True, False, None])
        if kind == "list":
            return [value(depth + 1) for _ in range(rng.randint(0, 4))]
        return {f"k{i}": value(depth + 1) for i in range(rng.randint(0, 4))}

    for _ in range(60):
        records = [value(1) for _ in range(rng.randint(0, 30))]
        body = json.dumps({"meta": value(1), "records": records, "next": value(2)}).encode()
        expected_next = json.loads(body)["next"]
        result = scan(body, "records", ("next",), chunk=rng.randint(1, 40))
        assert result.complete and result.records == len(records)
        if not isinstance(expected_next, (dict, list)):
            assert result.values["next"] == expected_next


def test_a_container_at_a_capture_path_is_reported_by_kind_not_held():
    result = scan(b'{"next": {"href": "x"}, "data": []}', "data", ("next",))
    assert result.values == {"next": {}} and result.records == 0
