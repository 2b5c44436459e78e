"""A run's manifest (written last, the completion signal) and the result returned to the caller.

A run directory without `_manifest.json`, or whose manifest says `"complete": false`, must not be
read as a whole run. A run that raises writes `_failure.json` beside it instead (never a manifest):
what failed, so that `backfill status` can name a failed window's real cause on AWS and locally.
The result is a summary of the same facts; a run whose complete manifest is found again (Lambda
retried an invocation whose result was lost) is answered from that manifest.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from . import __version__
from .redaction import REDACTOR

MANIFEST_VERSION = 1
# The result lists at most this many object keys (the manifest lists all): a run of thousands of pages
# stays far below Lambda's 6 MB response and Step Functions' 256 KiB state limits.
RESULT_OBJECTS_LIMIT = 100


@dataclass(frozen=True)
class RunResult:
    """The summary returned to the caller (the manifest holds the same and more)."""

    status: str  # SUCCESS | PARTIAL_SUCCESS | QUARANTINED
    source_id: str
    run_id: str
    complete: bool
    stop_reason: str
    records_ingested: int | None
    pages: int
    bytes: int
    objects: list[str]
    manifest: str
    quarantined: list[str] = field(default_factory=list)
    resume_event: dict[str, Any] | None = None
    records_note: str | None = None
    incremental: dict[str, Any] | None = None  # the window covered, or the cursor sent and seen
    cursor: dict[str, Any] | None = None  # how the stored cursor moved: {"from", "to"}
    already_complete: bool | None = None  # answered from the manifest of an earlier invocation
    objects_not_listed: int | None = None  # keys left out of `objects` (RESULT_OBJECTS_LIMIT)
    published: dict[str, Any] | None = None  # the run's published list (records zone): key and pages
    note: str | None = None  # something to check about how the run ended (the manifest's note)

    def as_dict(self) -> dict[str, Any]:
        optional = (
            "resume_event",
            "records_note",
            "incremental",
            "cursor",
            "already_complete",
            "objects_not_listed",
            "published",
            "note",
        )
        return {k: v for k, v in self.__dict__.items() if k not in optional or v is not None}


@dataclass(frozen=True)
class Totals:
    """What a run's pages add up to."""

    records: int | None  # None when some page could not be counted and none was
    counted: int
    raw_bytes: int
    stored_bytes: int
    note: str | None  # why some pages were not counted

    @classmethod
    def of(cls, pages: list[dict[str, Any]]) -> Totals:
        counts = [p["records"] for p in pages if p["records"] is not None]
        uncounted = [p for p in pages if p["records"] is None]
        note = (
            f"{len(uncounted)} of {len(pages)} page(s) not counted (page {uncounted[0]['index']}: "
            f"{uncounted[0]['records_note']})"
            if uncounted
            else None
        )
        return cls(
            records=sum(counts) if counts or not pages else None,
            counted=sum(counts),
            raw_bytes=sum(p["raw_bytes"] for p in pages),
            stored_bytes=sum(p["stored_bytes"] for p in pages),
            note=note,
        )


def document(
    facts: Mapping[str, Any], pages: list[dict[str, Any]], quarantined: list[dict[str, Any]]
) -> dict[str, Any]:
    """The manifest: `facts` (run, request, timing, outcome, resume, incremental) and the pages."""
    totals = Totals.of(pages)
    resume_event = facts.get("resume_event")
    return {
        "manifest_version": MANIFEST_VERSION,
        "writer": f"lake-ingest/{__version__}",
        **facts,
        "pages": pages,
        "quarantined": quarantined,
        "records_ingested": totals.records,
        "bytes": totals.raw_bytes,
        "stored_bytes": totals.stored_bytes,
        "resume": resume_event.get("resume") if resume_event else None,
    }


def result(manifest: Mapping[str, Any], manifest_key: str, **extra: Any) -> RunResult:
    """The caller's summary of a manifest (just written, or found complete from an earlier run)."""
    pages, quarantined = list(manifest.get("pages", [])), list(manifest.get("quarantined", []))
    totals = Totals.of(pages)
    return RunResult(
        status=manifest["status"],
        source_id=manifest["source_id"],
        run_id=manifest["run_id"],
        complete=bool(manifest["complete"]),
        stop_reason=manifest["stop_reason"],
        records_ingested=totals.records,
        pages=len(pages),
        bytes=totals.raw_bytes,
        objects=[p["key"] for p in pages[:RESULT_OBJECTS_LIMIT]],
        manifest=manifest_key,
        quarantined=[q["key"] for q in quarantined],
        resume_event=manifest.get("resume_event"),
        records_note=totals.note,
        incremental=manifest.get("incremental"),
        objects_not_listed=max(0, len(pages) - RESULT_OBJECTS_LIMIT) or None,
        note=manifest.get("note"),
        **extra,
    )


FAILURE_NAME = "_failure.json"
FAILURE_MESSAGE_LIMIT = 1000


def record_failure(sink: Any, prefix: str, run: Any, error: BaseException, resumes: int) -> None:
    """Write `<run prefix>/_failure.json`: the error a run raised (scrubbed). Best effort: the run's own
    error is what the caller reports, whether or not this could be written."""
    document = {
        "run_id": run.run_id,
        "failed_at": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "error_type": type(error).__name__,
        "error": REDACTOR.truncate(str(error), FAILURE_MESSAGE_LIMIT),
        "resumes": resumes,
        "resumed_at_page": (run.resume or {}).get("page"),
        "writer": f"lake-ingest/{__version__}",
    }
    try:
        sink.put_json(prefix + FAILURE_NAME, document, scrub=REDACTOR.scrub)
    except Exception:  # noqa: BLE001, S110 - a failure record that cannot be written changes nothing
        pass
