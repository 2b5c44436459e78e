"""`python -m lake_ingest state show|set|reset --config source.json`: an operator's view of a cursor.

The cursor state of an incremental cursor source lives in its lake (`<raw_prefix>/_state/cursor.json`).
`show` prints it (cursor, lease, history); `set --value V` moves it (forward, or back for a re-fetch),
`reset` clears it (the next run starts from initial_value). Both are conditional writes that refuse
while a run holds the state's lease, unless `--force`, and both are recorded in the history.
"""

from __future__ import annotations

import argparse
import json
import re
from decimal import Decimal
from typing import Any

from .local import InputError, emit, read_source
from .local_lake import open_lake


def _number_or_text(value: str, cursor_type: str) -> Any:
    """`--value` as the cursor type keeps it: a number exactly (9007199254740993 stays odd), never a float.

    A whole number becomes a JSON integer; one with a fraction or exponent stays a decimal (stored as
    its digits), as the handler keeps such values.
    """
    if cursor_type != "number":
        return value
    text = value.strip()
    if not re.fullmatch(r"-?[0-9]+(\.[0-9]+)?", text):
        raise ValueError(f"{value!r} is not a number written in plain digits (such as 1500 or 12.75)")
    return int(text) if "." not in text else Decimal(text)


def _unadoptable(value: Any, cursor_type: str, incremental: dict[str, Any]) -> str | None:
    """Why a run would refuse this stored cursor (the bounds a run applies), or None."""
    from datetime import UTC, datetime

    from .cursor_tracker import bound_problem, describe_rejection
    from .incremental import DEFAULT_FUTURE_SKEW, cursor_key, parse_duration, plus, zone

    key = cursor_key(value, cursor_type)
    skew = parse_duration(incremental.get("future_skew", DEFAULT_FUTURE_SKEW), "future_skew")
    not_after = plus(datetime.now(UTC), skew, zone("UTC")) if cursor_type == "timestamp" else None
    reason = bound_problem(value, key, cursor_type, not_after)
    return describe_rejection(reason, not_after) if reason else None


def state_command(args: argparse.Namespace, aws: dict[str, str | None]) -> int:
    """Show, set or reset the state; prints the state document (or null) as JSON."""
    from .state import StateStore, kms_encryption, state_key

    source = read_source(args.config, "state")
    incremental = source["api_config"].get("incremental") or {}
    if incremental.get("type") != "cursor":
        raise InputError(str(args.config), ["api_config.incremental: only a cursor source keeps a state"])
    with open_lake(source, args, writes=args.action != "show") as lake:
        store = StateStore(
            lake.client,
            lake.bucket,
            state_key(lake.prefix),
            source.get("source_id") or lake.prefix,
            expected_owner=lake.expected_owner,
            sse=kms_encryption(lake.kms_key_arn),
        )
        return _act(args, store, incremental)


def _act(args: argparse.Namespace, store: Any, incremental: dict[str, Any]) -> int:
    from .events import iso
    from .incremental import CursorValueError, cursor_key
    from .state import StateDoc

    cursor_type = incremental.get("cursor_type", "timestamp")
    doc: StateDoc | None
    if args.action == "set":
        if args.value is None:
            raise InputError("--value", ["is required for set: the cursor to store"])
        try:
            value = _number_or_text(args.value, cursor_type)
            problem = _unadoptable(value, cursor_type, incremental)
            if problem and not args.force:
                raise InputError(
                    "--value",
                    [
                        f"{args.value!r} is {problem}: no run would adopt it, and every run would then fail "
                        "on it; give a value a run could have seen (or --force)"
                    ],
                )
            doc = store.set(value, cursor_type, force=args.force)
        except (CursorValueError, ValueError) as error:
            raise InputError("--value", [f"is not a {cursor_type} cursor ({error})"]) from None
    elif args.action == "reset":
        doc = store.reset(force=args.force)
    else:
        doc = store.show()
    shown: dict[str, Any] = {"state": json.loads(json.dumps(doc.to_json(), default=str)) if doc else None}
    if doc is not None and doc.cursor is not None and cursor_type == "timestamp":
        # An epoch number is seconds below 100,000,000,000 and milliseconds from there: say which.
        shown["read_as"] = iso(cursor_key(doc.cursor, "timestamp"))
    emit({**shown, "where": store.where})
    return 0
