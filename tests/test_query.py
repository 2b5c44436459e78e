"""The documented queries, run by `python -m lake_ingest query` (DuckDB) over what real runs left in
the local AWS: complete runs only, each record once, the newest version per key."""

from __future__ import annotations

import json

import pytest
from scripts.upstream import Reply

from lake_ingest.__main__ import main
from lake_ingest.http_client import UpstreamHTTPError
from lake_ingest.query_cli import translate
from lake_ingest.query_sql import render, variables
from tests.test_handler import invoke


def page(*records) -> Reply:
    return Reply(200, json.dumps({"data": [{"id": i, "updated_at": at} for i, at in records]}).encode())


EMPTY = Reply(200, b'{"data": []}')


@pytest.fixture
def history(make_source, upstream, tmp_path, aws_endpoint):
    """One cursor source after six runs: complete, retried, partial, quarantined, forced, stale."""
    api = {
        "endpoint": f"{upstream.url}/v1/orders",
        "auth": {"type": "none"},
        "records_path": "data",
        "query_params": {"updated_since": "{cursor}"},
        "max_retries": 0,
        "timeout_seconds": 2,
        "pagination": {"type": "page_number", "max_pages": 2},
        "incremental": {
            "type": "cursor",
            "cursor_path": "updated_at",
            "initial_value": "2026-01-01T00:00:00Z",
        },
    }
    table = {"enabled": True, "columns": {"id": "bigint"}, "primary_key": ["id"], "on_schema_change": "allow"}
    source = make_source(api, RECORDS_CONFIG=json.dumps(table))
    day = {"partition_date": "2026-01-02"}

    upstream.script(page((1, "2026-01-02T10:00:00Z"), (2, "2026-01-02T11:00:00Z")), EMPTY)
    assert invoke({"run_id": "run-1", **day})["status"] == "SUCCESS"
    # run-2 fails on its second page, and Lambda's retry completes it: the same keys, once
    run_2 = page((2, "2026-01-02T12:00:00Z"), (3, "2026-01-02T12:30:00Z"))
    upstream.script(run_2, Reply(500, b"down"))
    with pytest.raises(UpstreamHTTPError):
        invoke({"run_id": "run-2", **day})
    upstream.script(run_2, EMPTY)
    assert invoke({"run_id": "run-2", **day})["status"] == "SUCCESS"
    upstream.script(page((4, "2026-01-02T13:00:00Z")), page((5, "2026-01-02T13:00:00Z")))
    assert invoke({"run_id": "run-3", **day})["status"] == "PARTIAL_SUCCESS"  # max_pages
    upstream.script(page((6, "2026-01-02T13:00:00Z")), Reply(200, b'{"data": [{"id": 7}'))
    assert invoke({"run_id": "run-4", **day})["status"] == "QUARANTINED"
    # run-1 again, forced: its second attempt replaces the first in the published list
    upstream.script(page((1, "2026-01-02T09:00:00Z")), EMPTY)
    assert invoke({"run_id": "run-1", "force": True, **day})["status"] == "SUCCESS"
    # a later run re-reads an older version of 3 (the cursor says which is newer, not the run)
    upstream.script(page((3, "2026-01-02T12:10:00Z")), EMPTY)
    assert invoke({"run_id": "run-5", "partition_date": "2026-01-03"})["status"] == "SUCCESS"

    config = tmp_path / "source.json"
    config.write_text(
        json.dumps(
            {
                "source_id": "orders-api",
                "raw_bucket": source.bucket,
                "raw_prefix": "orders-api",
                "allow_http_loopback": True,
                "api_config": api,
                "table": {
                    **table,
                    "database": "lake",
                    "name": "orders_api",
                    "published_name": "orders_api_published",
                },
            }
        )
    )

    def query(*args: str) -> dict:
        return {
            "config": config,
            "args": ["query", "--config", str(config), "--endpoint-url", aws_endpoint, "--json", *args],
        }

    return query


def run_query(capsys, spec) -> dict:
    capsys.readouterr()
    assert main(spec["args"]) == 0, capsys.readouterr().err
    return json.loads(capsys.readouterr().out)


def test_complete_returns_every_record_of_the_complete_runs_once(history, capsys):
    rows = run_query(capsys, history("--named", "complete"))["rows"]
    found = sorted(
        (r["run_id"], r["attempt"], json.loads(r["record"])["id"], json.loads(r["record"])["updated_at"])
        for r in rows
    )
    assert found == [
        ("run-1", 2, 1, "2026-01-02T09:00:00Z"),  # the forced attempt only
        ("run-2", 1, 2, "2026-01-02T12:00:00Z"),  # retried: once
        ("run-2", 1, 3, "2026-01-02T12:30:00Z"),
        ("run-5", 1, 3, "2026-01-02T12:10:00Z"),
    ]  # nothing of run-3 (partial) or run-4 (quarantined)


def test_every_row_the_runs_wrote_is_in_the_table_but_only_published_ones_are_complete(history, capsys):
    every = run_query(capsys, history('SELECT count(*) AS n FROM "lake"."orders_api"'))["rows"]
    # run-1 twice (2 attempts), run-2, run-3 (2 pages), run-4's good page, run-5
    assert every == [{"n": 2 + 1 + 2 + 2 + 1 + 1}]


def test_latest_keeps_the_newest_version_of_each_key_by_cursor(history, capsys):
    rows = run_query(capsys, history("--named", "latest"))["rows"]
    newest = sorted((r["id"], r["cursor_value"], r["run_id"]) for r in rows)
    assert newest == [
        (1, "2026-01-02 09:00:00", "run-1"),
        (2, "2026-01-02 12:00:00", "run-2"),
        (3, "2026-01-02 12:30:00", "run-2"),  # not run-5's older re-read
    ]


def test_runs_lists_the_complete_runs_and_where_filters_them(history, capsys):
    rows = run_query(capsys, history("--named", "runs"))["rows"]
    assert sorted((r["run_id"], r["attempt"], r["pages"], r["records"]) for r in rows) == [
        ("run-1", 2, 1, 1),
        ("run-2", 1, 1, 2),
        ("run-5", 1, 1, 1),
    ]
    rows = run_query(capsys, history("--named", "runs", "--where", "ingest_date = '2026-01-03'"))["rows"]
    assert [r["run_id"] for r in rows] == ["run-5"]


def test_a_query_naming_no_such_column_fails_with_the_engines_message(history, capsys):
    spec = history('SELECT nope FROM "lake"."orders_api"')
    capsys.readouterr()
    assert main(spec["args"]) == 1
    assert "nope" in json.loads(capsys.readouterr().out)["error"]["errorMessage"]


def test_the_documented_queries_translate_for_duckdb():
    values = variables("lake", "orders_api", ["id", "region"], cursor=True)
    latest = render("latest", values)
    assert (
        'PARTITION BY r."id", r."region" ORDER BY r.cursor_value DESC NULLS LAST, r.ingested_at DESC'
        in latest
    )
    assert "${" not in latest and translate(latest)
