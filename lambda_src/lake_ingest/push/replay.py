"""The replay store: one conditional DynamoDB write claims a signed request before it is queued.

A claim is `{pk, state: "pending", lease_until, expires_at, claim}`. The write succeeds when the key
is new, when an earlier claim is still pending but its lease ran out (that request's function died
before queueing, so its sender got no 2xx and will retry), or when the earlier claim expired. The
condition reads expires_at itself instead of relying on TTL deletion, which is best effort and leaves
expired items readable for a while
(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/howitworks-ttl.html).

After the message is queued the claim is marked done; if queueing fails it is deleted, so the
sender's retry is accepted. Both are best effort: a confirm lost only lets a later replay in after
the lease (the query's `latest` removes the duplicate), a release lost only delays the retry until
the lease ends. Each is conditional on this claim's id, so a claim another request took over after
the lease is never touched.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ..observability import logger

LEASE_SECONDS = 60
CLAIM_CONDITION = "attribute_not_exists(pk) OR (#s = :pending AND lease_until < :now) OR expires_at < :now"
_CONDITION_FAILED = "ConditionalCheckFailedException"


@dataclass(frozen=True)
class Claim:
    """A claim this request holds on its replay key."""

    key: str
    claim_id: str


class ReplayStore:
    """Claims on one source's replay table (hash key `pk`)."""

    def __init__(self, client: Any, table: str) -> None:
        self.client = client
        self.table = table

    def claim(self, key: str, claim_id: str, now: int, keep_seconds: int) -> Claim | None:
        """Claim `key` for `keep_seconds`; None when it is claimed already (a replay).

        `claim_id` (the invocation's request id) tells a claim this request wrote apart from another's:
        when the answer to a successful write is lost, botocore retries it and the retry finds the
        first attempt's item.
        """
        try:
            self.client.put_item(
                TableName=self.table,
                Item={
                    "pk": {"S": key},
                    "state": {"S": "pending"},
                    "lease_until": {"N": str(now + LEASE_SECONDS)},
                    "expires_at": {"N": str(now + keep_seconds)},
                    "claim": {"S": claim_id},
                },
                ConditionExpression=CLAIM_CONDITION,
                ExpressionAttributeNames={"#s": "state"},
                ExpressionAttributeValues={":pending": {"S": "pending"}, ":now": {"N": str(now)}},
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != _CONDITION_FAILED:
                raise
            held = exc.response.get("Item", {}).get("claim", {}).get("S")
            return Claim(key, claim_id) if held == claim_id else None
        return Claim(key, claim_id)

    def confirm(self, claim: Claim) -> None:
        """Mark the claim done: the request is queued (best effort)."""
        self._best_effort(
            "confirm",
            self.client.update_item,
            TableName=self.table,
            Key={"pk": {"S": claim.key}},
            UpdateExpression="SET #s = :done",
            ConditionExpression="#c = :claim",
            ExpressionAttributeNames={"#s": "state", "#c": "claim"},
            ExpressionAttributeValues={":done": {"S": "done"}, ":claim": {"S": claim.claim_id}},
        )

    def release(self, claim: Claim) -> None:
        """Delete the claim: the request was not queued, so its retry must be accepted (best effort)."""
        self._best_effort(
            "release",
            self.client.delete_item,
            TableName=self.table,
            Key={"pk": {"S": claim.key}},
            ConditionExpression="#c = :claim",
            ExpressionAttributeNames={"#c": "claim"},
            ExpressionAttributeValues={":claim": {"S": claim.claim_id}},
        )

    def _best_effort(self, action: str, call: Any, **request: Any) -> None:
        try:
            call(**request)
        except (ClientError, BotoCoreError) as exc:
            logger.warning(f"replay claim {action} failed", extra={"error": str(exc)})
