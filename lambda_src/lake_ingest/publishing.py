"""Only complete runs, once: what makes a run's records visible to the documented queries.

A run's records zone objects are written while it runs; nothing about them says whether the run will
finish. So the queries read records only through a run's **published list**,
`<raw_prefix>/published/ingest_date=<D>/run_id=<R>.ndjson`, one line per records object, written once
the run's manifest says it is complete (after it: a failure in between leaves a complete manifest and
nothing published; the invocation then raises, and its retry, or any later invocation of the run id,
mends it, since an already complete run publishes again when its list is missing). The queries join
records to the list on (ingest_date, run_id, attempt, page):

- a run still going, stopped incomplete, quarantined or failed has no list: none of its rows show;
- a run retried (Lambda's retry, a resume) writes the same keys, listed once: its rows show once;
- a run re-run with `force` writes its pages under the next `attempt`, and its list replaces the old
  one only when it completes: until then the previous attempt's rows show, never a mix.

The cost: every documented query joins a small table (one row per page), and a forced re-run's
records are written again beside the old ones (the lake's lifecycle rules can expire those).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from .events import RunRequest
from .observability import logger
from .records_zone import hive_timestamp, published_key
from .schema_drift import SCHEMA_NAME, changes, state_document, union
from .sink import S3Sink
from .state_doc import STATE_DIR


class PublishFailed(RuntimeError):
    """A complete run's published list could not be written: its records are not visible yet."""


def attempt_for(previous: Mapping[str, Any] | None, run: RunRequest) -> int:
    """The records zone attempt of this invocation: the next one only when a complete run is forced
    again; otherwise the run's own (a retry or a resume writes the same keys)."""
    if previous is None:
        return 1
    attempt = int(previous.get("attempt") or 1)
    return attempt + 1 if previous.get("complete") and run.force else attempt


def schema_key(raw_prefix: str) -> str:
    return f"{raw_prefix}/{STATE_DIR}/{SCHEMA_NAME}"


class Publisher:
    """Publishes one run's records and keeps the last complete run's schema."""

    def __init__(self, sink: S3Sink, raw_prefix: str) -> None:
        self._sink = sink
        self._prefix = raw_prefix

    def schema_before(self) -> tuple[Mapping[str, list[str]] | None, str | None, bool]:
        """The last complete run's fields, its run id, and whether the next change is accepted."""
        stored = self._sink.get_json(schema_key(self._prefix), denied_is_absent=True)
        if not isinstance(stored, dict):
            return None, None, False
        return stored.get("fields"), stored.get("run_id"), bool(stored.get("accept_next"))

    def compare(self, fields: Mapping[str, list[str]], truncated: int) -> dict[str, Any]:
        before, compared_with, accept_next = self.schema_before()
        found = changes(fields, None if accept_next else before)
        return {
            "fields": dict(fields),
            "fields_not_kept": truncated,
            "compared_with": compared_with,
            "accepted": accept_next,
            "changes": found,
        }

    def remember(self, schema: Mapping[str, Any], run_id: str) -> None:
        """After a complete run: its fields join the known ones the next run is compared with (best
        effort; an accepted change starts them afresh)."""
        known = None if schema["accepted"] else self.schema_before()[0]
        document = state_document(union(schema["fields"], known), run_id)
        try:
            self._sink.put_bytes(schema_key(self._prefix), document, "application/json")
        except Exception as exc:  # noqa: BLE001 - the next run compares with an older schema, no more
            logger.warning("could not keep the run's schema", extra={"error": str(exc)})

    def publish(self, manifest: Mapping[str, Any], again: bool = False) -> dict[str, Any]:
        """Write the run's published list (a complete run only): its key and pages.

        `again`: the run was complete before (a retried invocation): written only if it is missing. The
        function's role may not read `published/` (HeadObject answers 403, read as missing), so on AWS a
        retry lists the same pages again (only `published_at` moves). Raises PublishFailed when the
        list cannot be written (the manifest stays complete: invoking the run id again publishes).
        """
        pages = [p for p in manifest.get("pages", []) if p.get("records_object")]
        key = published_key(self._prefix, manifest["partition_date"], manifest["run_id"])
        if again and self._sink.exists(key):
            return {"key": key, "pages": len(pages)}
        now = hive_timestamp(datetime.now(UTC))
        lines = [
            json.dumps(
                {
                    "run_id": manifest["run_id"],
                    "attempt": int(manifest.get("attempt") or 1),
                    "page": page["index"],
                    "records": page["records_object"]["records"],
                    "object": f"s3://{self._sink.bucket}/{page['records_object']['key']}",
                    "published_at": now,
                },
                separators=(",", ":"),
            )
            for page in pages
        ]
        try:
            self._sink.put_bytes(key, "".join(line + "\n" for line in lines).encode(), "application/x-ndjson")
        except Exception as exc:
            raise PublishFailed(
                f"run {manifest['run_id']} is complete but its records are not published: writing "
                f"s3://{self._sink.bucket}/{key} failed ({type(exc).__name__}: {exc}); invoke the same "
                "run_id and partition_date again to publish them (nothing is fetched again)"
            ) from exc
        return {"key": key, "pages": len(lines)}
