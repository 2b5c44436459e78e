"""Every pagination kind against a real paged API on loopback, plus max_pages, loops and resume."""

from __future__ import annotations

import gzip
import json

import pytest
from scripts.upstream import Reply, SeenRequest

from lake_ingest.pagination import PaginationError
from tests.test_handler import api, invoke, read_object

ITEMS = list(range(1, 26))  # 25 records served 10 per page: pages of 10, 10, 5


def page_items(index: int, per_page: int = 10) -> list[dict[str, int]]:
    """Records of 0-based page `index`; empty past the end."""
    return [{"id": i} for i in ITEMS[index * per_page : (index + 1) * per_page]]


def arg(seen: SeenRequest, name: str, default: str | None = None) -> str | None:
    return (seen.query.get(name) or [default])[0]


def manifest_of(source, result):
    return json.loads(read_object(source, result["manifest"])[1])


def stored_ids(source, key) -> list[int]:
    body = json.loads(gzip.decompress(read_object(source, key)[1]))
    items = body if isinstance(body, list) else body["data"]
    return [item["id"] for item in items]


def assert_all_records_landed_in_order(source, result, pages):
    assert result["status"] == "SUCCESS" and result["complete"] is True
    assert result["stop_reason"] == "end"
    assert result["pages"] == pages and len(result["objects"]) == pages
    assert result["records_ingested"] == len(ITEMS)
    manifest = manifest_of(source, result)
    assert [p["index"] for p in manifest["pages"]] == list(range(1, pages + 1))
    assert [p["key"] for p in manifest["pages"]] == result["objects"]
    assert [p["key"].rsplit("/", 1)[1] for p in manifest["pages"]][:2] == [
        "page-00001.json.gz",
        "page-00002.json.gz",
    ]
    ids = [i for key in result["objects"] for i in stored_ids(source, key)]
    assert ids == ITEMS
    assert manifest["complete"] is True and manifest["resume"] is None


def test_link_header_follows_rel_next_relative_and_absolute(make_source, upstream):
    def respond(seen):
        page = int(arg(seen, "page", "1"))
        links = []
        if page == 1:
            links.append('</v1/orders?page=2>; rel="next"')  # relative
        elif page == 2:
            links.append(f'<{upstream.url}/v1/orders?page=3>; rel="next", </v1/orders?page=1>; rel="first"')
        headers = {"Content-Type": "application/json"}
        if links:
            headers["Link"] = ", ".join(links)
        return Reply(200, json.dumps(page_items(page - 1)).encode(), headers)

    upstream.responder = respond
    source = make_source(
        api(
            upstream,
            records_path="",
            auth={"type": "query", "param_name": "api_key", "secret_field": "api_key"},
            pagination={"type": "link_header"},
        )
    )
    result = invoke({"run_id": "links"})
    assert_all_records_landed_in_order(source, result, 3)
    key = source.secret_value["api_key"]
    # The auth parameter is added to every page once, never duplicated from a followed link.
    assert [r.query.get("api_key") for r in upstream.requests] == [[key]] * 3
    assert key not in json.dumps(manifest_of(source, result))


def test_next_url_at_a_json_path(make_source, upstream):
    def respond(seen):
        page = int(arg(seen, "p", "1"))
        nxt = f"{upstream.url}/v1/orders?p={page + 1}" if page < 3 else None
        return Reply(200, json.dumps({"data": page_items(page - 1), "links": {"next": nxt}}).encode())

    upstream.responder = respond
    source = make_source(
        api(upstream, records_path="data", pagination={"type": "next_url", "next_url_path": "links.next"})
    )
    assert_all_records_landed_in_order(source, invoke({"run_id": "next-url"}), 3)


def test_cursor_from_the_body_sent_as_a_parameter(make_source, upstream):
    cursors = {None: ("c-2", 0), "c-2": ("c-3", 1), "c-3": (None, 2)}

    def respond(seen):
        nxt, index = cursors[arg(seen, "after")]
        body = {"data": page_items(index), "meta": {"next_cursor": nxt}}
        return Reply(200, json.dumps(body).encode())

    upstream.responder = respond
    source = make_source(
        api(
            upstream,
            records_path="data",
            query_params={"status": "paid"},
            pagination={"type": "cursor", "cursor_path": "meta.next_cursor", "cursor_param": "after"},
        )
    )
    result = invoke({"run_id": "cursor"})
    assert_all_records_landed_in_order(source, result, 3)
    assert [arg(r, "after") for r in upstream.requests] == [None, "c-2", "c-3"]
    assert all(arg(r, "status") == "paid" for r in upstream.requests)  # configured params stay


def test_page_number_stops_on_the_empty_page(make_source, upstream):
    upstream.responder = lambda seen: Reply(
        200, json.dumps({"data": page_items(int(arg(seen, "page")) - 1)}).encode()
    )
    source = make_source(
        api(
            upstream,
            records_path="data",
            pagination={"type": "page_number", "page_size_param": "per_page", "page_size": 10},
        )
    )
    result = invoke({"run_id": "pages"})
    assert [arg(r, "page") for r in upstream.requests] == ["1", "2", "3", "4"]
    assert all(arg(r, "per_page") == "10" for r in upstream.requests)
    # The empty page is stored too: the manifest shows the run looked and found nothing more.
    assert result["pages"] == 4 and result["records_ingested"] == 25
    assert manifest_of(source, result)["pages"][-1]["records"] == 0


def test_page_number_stops_at_the_total_without_asking_for_more(make_source, upstream):
    upstream.responder = lambda seen: Reply(
        200,
        json.dumps({"data": page_items(int(arg(seen, "page"))), "total_pages": 3}).encode(),
    )
    source = make_source(
        api(
            upstream,
            records_path="data",
            pagination={"type": "page_number", "start_page": 0, "total_pages_path": "total_pages"},
        )
    )
    result = invoke({"run_id": "pages-total"})
    assert [arg(r, "page") for r in upstream.requests] == ["0", "1", "2"]
    assert_all_records_landed_in_order(source, result, 3)


@pytest.mark.parametrize("with_total", [False, True])
def test_offset_advances_by_the_records_received(make_source, upstream, with_total):
    def respond(seen):
        offset, limit = int(arg(seen, "offset")), int(arg(seen, "limit"))
        items = [{"id": i} for i in ITEMS[offset : offset + min(limit, 10)]]  # the API caps pages at 10
        return Reply(200, json.dumps({"data": items, "total": len(ITEMS)}).encode())

    upstream.responder = respond
    pagination = {"type": "offset", "limit": 20}
    if with_total:
        pagination["total_records_path"] = "total"
    make_source(api(upstream, records_path="data", pagination=pagination))
    result = invoke({"run_id": f"offset-{with_total}"})
    offsets = [arg(r, "offset") for r in upstream.requests]
    assert offsets == (["0", "10", "20"] if with_total else ["0", "10", "20", "25"])
    assert result["records_ingested"] == 25 and result["complete"] is True


def test_max_pages_stops_partial_and_the_resume_event_finishes_the_run(make_source, upstream):
    upstream.responder = lambda seen: Reply(
        200, json.dumps({"data": page_items(int(arg(seen, "page")) - 1)}).encode()
    )
    source = make_source(
        api(upstream, records_path="data", pagination={"type": "page_number", "max_pages": 2})
    )
    first = invoke({"run_id": "capped", "partition_date": "2026-02-03"})
    assert first["status"] == "PARTIAL_SUCCESS" and first["complete"] is False
    assert first["stop_reason"] == "max_pages" and first["pages"] == 2
    assert first["resume_event"] == {
        "run_id": "capped",
        "partition_date": "2026-02-03",
        "resume": {"page": 3, "page_number": 3},
    }
    partial = manifest_of(source, first)
    assert partial["complete"] is False and partial["resume"] == {"page": 3, "page_number": 3}

    second = invoke(first["resume_event"])
    assert second["status"] == "SUCCESS" and second["manifest"] == first["manifest"]
    manifest = manifest_of(source, second)
    assert manifest["complete"] is True and [p["index"] for p in manifest["pages"]] == [1, 2, 3, 4]
    assert second["records_ingested"] == 25 and second["objects"][:2] == first["objects"]
    assert [arg(r, "page") for r in upstream.requests] == ["1", "2", "3", "4"]


def test_a_repeating_cursor_stops_the_run_and_is_reported(make_source, upstream):
    upstream.default = Reply(200, json.dumps({"data": [{"id": 1}], "next": "same"}).encode())
    source = make_source(
        api(upstream, records_path="data", pagination={"type": "cursor", "cursor_path": "next"})
    )
    result = invoke({"run_id": "loop"})
    assert len(upstream.requests) == 2  # the first page, then the cursor once: never again
    assert result["status"] == "PARTIAL_SUCCESS" and result["stop_reason"] == "repeated_cursor"
    assert "resume_event" not in result  # resuming would only loop again
    assert manifest_of(source, result)["complete"] is False


def test_a_link_back_to_a_visited_page_stops_the_run(make_source, upstream):
    upstream.default = Reply(
        200, b'[{"id": 1}]', {"Content-Type": "application/json", "Link": '</v1/orders>; rel="next"'}
    )
    make_source(api(upstream, records_path="", pagination={"type": "link_header"}))
    result = invoke({"run_id": "self-link"})
    assert len(upstream.requests) == 1
    assert result["stop_reason"] == "repeated_url" and result["complete"] is False


def test_a_next_link_to_another_origin_is_refused(make_source, upstream):
    upstream.default = Reply(
        200, b"[]", {"Content-Type": "application/json", "Link": '<https://evil.example/steal>; rel="next"'}
    )
    source = make_source(api(upstream, records_path="", pagination={"type": "link_header"}))
    with pytest.raises(PaginationError, match="another origin"):
        invoke({"run_id": "cross-origin"})
    assert len(upstream.requests) == 1
    assert not [k for k in source.keys() if k.endswith("_manifest.json")]


def test_resume_of_an_unknown_run_fails_clearly(make_source, upstream):
    make_source(api(upstream, records_path="data", pagination={"type": "cursor", "cursor_path": "next"}))
    with pytest.raises(ValueError, match="no manifest at s3://"):
        invoke({"run_id": "never-ran", "partition_date": "2026-01-01", "resume": {"page": 2, "cursor": "x"}})
    assert upstream.requests == []


def test_resume_state_must_fit_the_pagination_type(make_source, upstream):
    make_source(api(upstream, records_path="data", pagination={"type": "cursor", "cursor_path": "next"}))
    with pytest.raises(PaginationError, match="does not fit pagination type 'cursor'"):
        invoke({"run_id": "r", "resume": {"page": 2, "offset": 10}})


@pytest.mark.parametrize("content_type", ["text/csv", "application/x-ndjson"])
def test_a_cursor_cannot_be_read_from_a_non_json_page_and_the_run_fails_clearly(
    make_source, upstream, content_type
):
    upstream.default = Reply(200, b'{"id": 1}\n', {"Content-Type": content_type})
    source = make_source(
        api(
            upstream,
            records_path="",
            content_types=["text/csv", "application/x-ndjson"],
            pagination={"type": "cursor", "cursor_path": "meta.next"},
        )
    )
    with pytest.raises(PaginationError, match=f"meta.next are read from JSON pages, not {content_type}"):
        invoke({"run_id": "not-json"})
    assert len(upstream.requests) == 1  # not mistaken for the last page
    assert not [k for k in source.keys() if k.endswith("_manifest.json")]
