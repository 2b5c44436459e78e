"""The fault suite: what real APIs do to a run, and what must (not) be left in the bucket.

Resets, truncation, 429 storms, slow servers past the deadline, HTML and broken bodies with
status 200, gzip from upstream, invalid UTF-8, and many concurrent runs against one bucket.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from scripts.upstream import Reply

from lake_ingest import handler, sink
from lake_ingest.config import load_config
from lake_ingest.events import parse_event
from lake_ingest.http_client import UpstreamError, UpstreamHTTPError
from tests.test_handler import ORDERS_BYTES, api, invoke, read_object

JSON = {"Content-Type": "application/json"}


def paged(upstream, *pages: Reply) -> None:
    """Serve `pages` in order for ?page=1, 2, ...; an empty list after them."""
    replies = {str(i): reply for i, reply in enumerate(pages, start=1)}
    upstream.responder = lambda seen: replies.get((seen.query.get("page") or ["1"])[0], Reply(200, b"[]"))


def page_of(*ids: int) -> Reply:
    return Reply(200, json.dumps([{"id": i} for i in ids]).encode())


def manifests(source) -> list[str]:
    return [k for k in source.keys() if k.endswith("_manifest.json")]


def open_uploads(source) -> list:
    return source.s3.list_multipart_uploads(Bucket=source.bucket).get("Uploads", [])


def incompressible_json(size: int) -> bytes:
    """A JSON array of random-looking strings, about `size` bytes, that gzip barely shrinks."""
    items, total, i = [], 2, 0
    while total < size:
        item = base64.b64encode(hashlib.sha512(str(i).encode()).digest()).decode()
        items.append(item)
        total += len(item) + 4
        i += 1
    return json.dumps(items).encode()


PAGED = {"records_path": "", "pagination": {"type": "page_number"}}


# -- broken connections ------------------------------------------------------------------------


@pytest.mark.parametrize("reset", [False, True], ids=["truncated", "reset"])
def test_a_page_that_breaks_off_mid_body_aborts_its_upload_and_fails_the_run(
    make_source, upstream, monkeypatch, reset
):
    monkeypatch.setattr(sink, "PART_SIZE", 5 * 1024 * 1024)
    source = make_source(api(upstream, max_retries=0, **PAGED))
    big = incompressible_json(12 * 1024 * 1024)
    paged(upstream, page_of(1, 2), Reply(200, big, truncate_to=11 * 1024 * 1024, reset=reset))
    with pytest.raises(UpstreamError, match="broke off"):
        invoke({"run_id": "broken"})
    keys = source.keys()
    assert [k.rsplit("/", 1)[1] for k in keys] == ["page-00001.json.gz"]  # page 2 never appeared
    assert manifests(source) == []  # so the run does not look complete
    assert open_uploads(source) == []  # the two parts already sent were aborted


# -- rate limits ---------------------------------------------------------------------------------


def test_a_429_storm_within_the_retry_budget_succeeds_and_is_recorded(make_source, upstream):
    source = make_source(api(upstream, max_retries=4))
    storm = [Reply(429, b"", {"Retry-After": "0"}) for _ in range(4)]
    upstream.script(*storm, Reply(200, ORDERS_BYTES))
    result = invoke({"run_id": "storm"})
    assert result["status"] == "SUCCESS" and len(upstream.requests) == 5
    page = json.loads(read_object(source, result["manifest"])[1])["pages"][0]
    assert page["attempts"] == 5
    # Retry-After: 0 never means "hammer": every retry waited at least half the base backoff.
    gaps = [b.at - a.at for a, b in zip(upstream.requests, upstream.requests[1:], strict=False)]
    assert min(gaps) >= 0.01


def test_a_429_storm_beyond_the_retry_budget_raises_after_bounded_attempts(make_source, upstream):
    source = make_source(api(upstream, max_retries=2))
    upstream.default = Reply(429, b"slow down", {"Retry-After": "0", "Content-Type": "text/plain"})
    with pytest.raises(UpstreamHTTPError, match="after 3 attempt") as error:
        invoke({"run_id": "storm-out"})
    assert error.value.status == 429 and len(upstream.requests) == 3
    assert source.keys() == []


# -- the deadline --------------------------------------------------------------------------------


def test_a_first_page_slower_than_the_time_left_fails_without_writing(make_source, upstream, monkeypatch):
    monkeypatch.setattr(handler, "DEADLINE_MARGIN_SECONDS", 0.5)
    source = make_source(api(upstream, timeout_seconds=30, max_retries=0))
    upstream.default = Reply(200, ORDERS_BYTES, delay=3)
    with pytest.raises(UpstreamError):
        invoke({"run_id": "slow"}, timeout_seconds=1.5)  # 1 s budget: the read times out at 1 s
    assert source.keys() == []


def test_a_body_still_arriving_at_the_deadline_stops_the_run_partial(make_source, upstream, monkeypatch):
    monkeypatch.setattr(handler, "DEADLINE_MARGIN_SECONDS", 0.5)
    source = make_source(api(upstream, timeout_seconds=30, **PAGED))
    trickle = Reply(200, json.dumps([{"id": i} for i in range(3, 400)]).encode(), trickle=(200, 0.2))
    paged(upstream, page_of(1, 2), trickle)
    result = invoke({"run_id": "trickle", "partition_date": "2026-05-06"}, timeout_seconds=2.5)
    assert result["status"] == "PARTIAL_SUCCESS" and result["stop_reason"] == "deadline"
    assert result["pages"] == 1 and result["records_ingested"] == 2
    assert result["resume_event"]["resume"] == {"page": 2, "page_number": 2}
    assert [k.rsplit("/", 1)[1] for k in source.keys()] == ["_manifest.json", "page-00001.json.gz"]
    assert open_uploads(source) == []

    # A later event carrying the cursor finishes the run once the API is fast again.
    paged(upstream, page_of(1, 2), page_of(3, 4, 5))
    resumed = invoke(result["resume_event"])
    assert resumed["status"] == "SUCCESS" and resumed["records_ingested"] == 5
    assert [o.rsplit("/", 1)[1] for o in resumed["objects"]] == [
        "page-00001.json.gz",
        "page-00002.json.gz",
        "page-00003.json.gz",  # the empty last page
    ]


def test_no_page_starts_that_cannot_finish_before_the_deadline(make_source, upstream, monkeypatch):
    monkeypatch.setattr(handler, "DEADLINE_MARGIN_SECONDS", 0.5)
    source = make_source(api(upstream, **PAGED))
    upstream.responder = lambda seen: Reply(200, b'[{"id": 1}]', JSON, delay=0.4)
    result = invoke({"run_id": "steady"}, timeout_seconds=2.5)
    assert result["stop_reason"] == "deadline" and result["complete"] is False
    assert 2 <= result["pages"] <= 4
    resume_page = result["resume_event"]["resume"]["page"]
    assert resume_page == result["pages"] + 1
    # Every page the manifest lists is whole; nothing after it was started.
    assert len(upstream.requests) == result["pages"]
    assert len(source.keys()) == result["pages"] + 1


# -- bodies that are not data ---------------------------------------------------------------------


def quarantined_object(source, result):
    (key,) = result["quarantined"]
    assert "/_quarantine/" in key
    obj, stored = read_object(source, key)
    return obj, gzip.decompress(stored)


def test_an_html_page_with_status_200_is_quarantined_not_ingested(make_source, upstream, capfd):
    source = make_source(api(upstream))
    html = b"<html><body>Service temporarily unavailable</body></html>"
    upstream.script(Reply(200, html, {"Content-Type": "text/html; charset=utf-8"}))
    result = invoke({"run_id": "html"})
    assert result["status"] == "QUARANTINED" and result["complete"] is False
    assert result["records_ingested"] == 0 and result["objects"] == []
    obj, body = quarantined_object(source, result)
    assert body == html
    assert obj["Metadata"]["quarantine-reason"].startswith("content type 'text/html'")
    assert obj["Metadata"]["http-status"] == "200"
    assert obj["ServerSideEncryption"] == "aws:kms"
    manifest = json.loads(read_object(source, result["manifest"])[1])
    assert manifest["complete"] is False and manifest["pages"] == []
    assert manifest["quarantined"][0]["key"] == result["quarantined"][0]
    emf = [json.loads(line) for line in capfd.readouterr().out.splitlines() if '"_aws"' in line][-1]
    assert emf["PagesQuarantined"] == [1.0] and emf["IngestionQuarantined"] == [1.0]
    assert "IngestionSucceeded" not in emf


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"<!DOCTYPE html><html>login</html>", "not the JSON"),
        (b'{"error": "quota exceeded"}', "records_path 'data.items' not found"),
        (b'{"data": {"items": "none"}}', "holds a JSON string"),
        (b'{"data": {"items": [1, 2', "not the JSON"),
        (b'{"data": {"items": ["caf\xe9"]}}', "not valid UTF-8"),
    ],
    ids=["html-labelled-json", "error-object", "not-a-list", "cut-json", "latin-1"],
)
def test_a_json_page_that_is_not_records_is_quarantined(make_source, upstream, body, reason):
    source = make_source(api(upstream))
    upstream.script(Reply(200, body))
    result = invoke({"run_id": "bad-json"})
    assert result["status"] == "QUARANTINED"
    obj, stored = quarantined_object(source, result)
    assert stored == body
    assert reason in obj["Metadata"]["quarantine-reason"]
    assert [k for k in source.keys() if "/_quarantine/" not in k] == [result["manifest"]]


def test_a_large_bad_page_never_appears_as_data(make_source, upstream, monkeypatch):
    monkeypatch.setattr(sink, "PART_SIZE", 5 * 1024 * 1024)
    source = make_source(api(upstream, records_path="", max_parse_bytes=1024 * 1024))
    body = incompressible_json(12 * 1024 * 1024)[:-1] + b"<oops>"  # breaks at the very end
    upstream.default = Reply(200, body)
    result = invoke({"run_id": "big-bad"})
    assert result["status"] == "QUARANTINED" and result["objects"] == []
    _, stored = quarantined_object(source, result)
    assert stored == body  # fetched again, whole, into quarantine
    assert len(upstream.requests) == 2
    assert open_uploads(source) == []
    assert [k for k in source.keys() if "/_quarantine/" not in k] == [result["manifest"]]


# -- encodings ------------------------------------------------------------------------------------


def test_gzip_from_upstream_is_stored_once_compressed_and_recorded(make_source, upstream):
    source = make_source(api(upstream))
    upstream.script(Reply(200, gzip.compress(ORDERS_BYTES), {**JSON, "Content-Encoding": "gzip"}))
    result = invoke({"run_id": "gzipped"})
    assert result["records_ingested"] == 3
    assert gzip.decompress(read_object(source, result["objects"][0])[1]) == ORDERS_BYTES
    page = json.loads(read_object(source, result["manifest"])[1])["pages"][0]
    assert page["content_encoding"] == "gzip" and page["raw_bytes"] == len(ORDERS_BYTES)


def test_ndjson_lines_are_counted(make_source, upstream):
    source = make_source(api(upstream, records_path=""))
    lines = b"".join(json.dumps({"id": i}).encode() + b"\n" for i in range(7)) + b'{"id": 7}'
    upstream.script(Reply(200, lines, {"Content-Type": "application/x-ndjson"}))
    result = invoke({"run_id": "ndjson"})
    assert result["records_ingested"] == 8
    assert result["objects"][0].endswith(".ndjson.gz")
    assert gzip.decompress(read_object(source, result["objects"][0])[1]) == lines


# -- concurrency ----------------------------------------------------------------------------------


def test_concurrent_runs_against_one_bucket_lose_and_mix_nothing(make_source, upstream):
    source = make_source(api(upstream, **PAGED))
    runs = 24

    def respond(seen):
        run, page = seen.query["run"][0], int(seen.query["page"][0])
        if page > 3:
            return Reply(200, b"[]")
        return Reply(
            200, json.dumps([{"run": run, "page": page, "n": n} for n in range(50)]).encode(), delay=0.05
        )

    upstream.responder = respond
    config = load_config()
    client = handler._s3_client()
    start = threading.Barrier(runs)

    def one_run(i: int):
        run = parse_event({"run_id": f"par-{i:02d}", "query_params": {"run": f"par-{i:02d}"}}, "req")
        start.wait()
        return handler.run_ingestion(config, run, lambda: 60_000, client)

    with ThreadPoolExecutor(max_workers=runs) as pool:
        results = list(pool.map(one_run, range(runs)))

    assert all(r.status == "SUCCESS" and r.records_ingested == 150 and r.pages == 4 for r in results)
    keys = source.keys()
    assert len(keys) == runs * 5  # 4 pages + 1 manifest each: nothing lost, nothing overwritten
    for r in results:
        for key in r.objects[:3]:
            rows = json.loads(gzip.decompress(read_object(source, key)[1]))
            assert {row["run"] for row in rows} == {r.run_id}  # no run's page holds another's data
        manifest = json.loads(read_object(source, r.manifest)[1])
        assert manifest["complete"] is True and manifest["run_id"] == r.run_id


@pytest.mark.parametrize("max_parse_bytes", [1 << 20, 16], ids=["read-whole", "streamed"])
@pytest.mark.parametrize("body", [b'{"error": "rate limited"}', b'"ok"'], ids=["object", "string"])
def test_a_top_level_non_array_where_an_array_is_expected_is_quarantined(
    make_source, upstream, body, max_parse_bytes
):
    source = make_source(api(upstream, records_path="", max_parse_bytes=max_parse_bytes))
    upstream.default = Reply(200, body)
    result = invoke({"run_id": "top-level"})
    assert result["status"] == "QUARANTINED" and result["objects"] == []
    obj, stored = quarantined_object(source, result)
    assert stored == body
    assert obj["Metadata"]["quarantine-reason"].startswith("no records where expected: the top level")
    assert [k for k in source.keys() if "/_quarantine/" not in k] == [result["manifest"]]


@pytest.mark.parametrize(
    ("body", "content_type", "records"),
    [
        (b'[{"id": 1}, {"id": 2}]', "application/json", 2),
        (b"", "application/json", None),
        (b'{"id": 1}\n', "application/x-ndjson", 1),
    ],
    ids=["array", "empty", "ndjson"],
)
def test_a_top_level_array_an_empty_body_and_ndjson_stay_data(
    make_source, upstream, body, content_type, records
):
    make_source(api(upstream, records_path=""))
    upstream.default = Reply(200, body, {"Content-Type": content_type})
    result = invoke({"run_id": "top-level-data"})
    assert result["status"] == "SUCCESS" and result["quarantined"] == []
    assert result["records_ingested"] == records and len(result["objects"]) == 1
