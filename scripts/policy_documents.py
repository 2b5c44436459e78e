"""A named policy document: what the policy matrix evaluates (scripts/policy_matrix.py) and reads back
for every kind of source (scripts/policy_matrix_push.py for a push source's)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Policy:
    """A policy document and the name its statements are reported under ("<kind>:<source>#<Sid>")."""

    name: str
    document: dict[str, Any]


def parse(value: Any) -> dict[str, Any]:
    """A policy as AWS APIs return it: JSON text (IAM, SQS, Lambda) or already a mapping (boto3 decodes
    some, e.g. a role's trust policy)."""
    return json.loads(value) if isinstance(value, str) else dict(value)
