"""What Lambda's SQS poller does for an event source mapping, against the local AWS's SQS and Lambda APIs.

moto invokes a mapping's function inside SendMessage, once per message, and treats any error as a
failure of everything it received; scripts/local_aws.py turns that off (gap 13) and runs this instead:
one thread per enabled mapping that receives up to 10 messages a call until the batch holds BatchSize
messages, MaximumBatchingWindowInSeconds has passed since its first message, or one more full
receive could pass 6 MB; then invokes the function (the Lambda Invoke API, so the deployed code runs
as every local invocation does) with Lambda's SQS event, and deletes what succeeded:
https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html
https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html
A function error deletes nothing: the messages come back after the queue's visibility timeout, and
moto's redrive moves them to the dead-letter queue past maxReceiveCount, as SQS does.
"""

from __future__ import annotations

import base64
import contextlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.config import Config

from scripts.harness import local_client

MAX_PAYLOAD_BYTES = 6 * 1024 * 1024  # Lambda's synchronous invocation payload quota
MAX_RECORD_BYTES = 256 * 1024 + 4096  # one SQS message at its size quota, with the record's other fields
# An invocation may take the function's whole timeout (15 minutes at most); Lambda's poller does not retry.
INVOKE_CONFIG = Config(read_timeout=910, connect_timeout=5, retries={"max_attempts": 1})
_CLIENTS = threading.Lock()  # boto3's default session does not make clients on several threads at once


@dataclass(frozen=True)
class SqsMapping:
    """An enabled event source mapping from an SQS queue, as the poller needs it."""

    uuid: str
    function_arn: str
    queue_arn: str
    batch_size: int
    window_seconds: float
    report_batch_item_failures: bool

    @property
    def region(self) -> str:
        return self.queue_arn.split(":")[3]

    def queue_url(self, endpoint: str) -> str:
        _, _, _, _, account, name = self.queue_arn.split(":", 5)
        return f"{endpoint}/{account}/{name}"


def lambda_record(message: dict[str, Any], mapping: SqsMapping) -> dict[str, Any]:
    """One message as Lambda puts it in the event's Records."""
    attributes = message.get("MessageAttributes", {})
    record = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message.get("Attributes", {}),
        "messageAttributes": {name: lambda_message_attribute(value) for name, value in attributes.items()},
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": mapping.queue_arn,
        "awsRegion": mapping.region,
    }
    if "MD5OfMessageAttributes" in message:
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    return record


def lambda_message_attribute(value: dict[str, Any]) -> dict[str, Any]:
    """{"StringValue"|"BinaryValue", "DataType"} as Lambda spells it (binary as base64 text)."""
    attribute: dict[str, Any] = {}
    if "StringValue" in value:
        attribute["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        attribute["binaryValue"] = base64.b64encode(value["BinaryValue"]).decode()
    return {**attribute, "stringListValues": [], "binaryListValues": [], "dataType": value["DataType"]}


def failed_message_ids(result: Any, batch_ids: set[str]) -> set[str] | None:
    """The messages a partial batch response reports; None when Lambda would fail the whole batch.

    Success: no response, an empty one, or batchItemFailures null or empty. Whole failure: an
    itemIdentifier that is missing, empty, not a string, or not a message of the batch.
    """
    if not isinstance(result, dict) or not result.get("batchItemFailures"):
        return set()
    failures = result["batchItemFailures"]
    if not isinstance(failures, list):
        return None
    ids = [f.get("itemIdentifier") if isinstance(f, dict) else None for f in failures]
    if not all(isinstance(i, str) and i in batch_ids for i in ids):
        return None
    return set(ids)  # type: ignore[arg-type]


class MappingPoller:
    """One mapping's poller thread: one batch in flight at a time."""

    def __init__(self, mapping: SqsMapping, endpoint: str) -> None:
        self.mapping = mapping
        self._endpoint = endpoint
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"sqs-esm-{mapping.uuid}", daemon=True)

    def start(self) -> MappingPoller:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Ask the thread to end (a batch being collected is left for its visibility timeout)."""
        self._stop.set()

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)

    def _run(self) -> None:
        with _CLIENTS:
            sqs = local_client("sqs", self._endpoint, self.mapping.region)
            lam = local_client("lambda", self._endpoint, self.mapping.region, INVOKE_CONFIG)
        url = self.mapping.queue_url(self._endpoint)
        while not self._stop.is_set():
            try:
                batch = self._collect(sqs, url)
                if batch and not self._stop.is_set():
                    self._deliver(sqs, lam, url, batch)
            except Exception:  # noqa: BLE001 - a deleted queue or function: keep polling until unmapped
                self._stop.wait(1)

    def _collect(self, sqs: Any, url: str) -> list[dict[str, Any]]:
        """Receive until BatchSize, the batching window or the 6 MB payload quota ends the batch."""
        batch: list[dict[str, Any]] = []
        size = 0
        window_ends = float("inf")
        while not self._stop.is_set():
            room = (MAX_PAYLOAD_BYTES - size) // MAX_RECORD_BYTES  # receives that cannot pass 6 MB
            wanted = min(10, self.mapping.batch_size - len(batch), room)
            if wanted <= 0 or time.monotonic() >= window_ends:
                break
            messages = sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=wanted,
                WaitTimeSeconds=0 if batch else 1,  # long-poll while idle, so an empty queue costs little
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            if not batch and messages:
                window_ends = time.monotonic() + self.mapping.window_seconds
            records = [lambda_record(m, self.mapping) for m in messages]
            batch += records
            size += sum(len(json.dumps(r)) for r in records)
            if not messages:
                if not batch:
                    return []
                self._stop.wait(min(0.05, max(0.0, window_ends - time.monotonic())))
        return batch

    def _deliver(self, sqs: Any, lam: Any, url: str, batch: list[dict[str, Any]]) -> None:
        response = lam.invoke(FunctionName=self.mapping.function_arn, Payload=json.dumps({"Records": batch}))
        payload = response["Payload"].read()
        if response.get("FunctionError"):
            return  # delete nothing: visibility timeout, then redrive
        failed: set[str] | None = set()
        if self.mapping.report_batch_item_failures:
            try:
                result = json.loads(payload or b"null")
            except ValueError:
                return  # an answer that is not JSON fails the whole batch
            failed = failed_message_ids(result, {r["messageId"] for r in batch})
        if failed is None:
            return
        done = [r for r in batch if r["messageId"] not in failed]
        for start in range(0, len(done), 10):
            chunk = done[start : start + 10]
            entries = [{"Id": str(i), "ReceiptHandle": r["receiptHandle"]} for i, r in enumerate(chunk)]
            sqs.delete_message_batch(QueueUrl=url, Entries=entries)


class SqsEsmPoller:
    """Every `interval` seconds, starts a poller for each new or changed mapping and stops the rest."""

    def __init__(
        self, endpoint: str, mappings: Callable[[], list[SqsMapping]], interval: float = 0.5
    ) -> None:
        self._endpoint = endpoint
        self._mappings = mappings
        self._interval = interval
        self._pollers: dict[SqsMapping, MappingPoller] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sqs-esm-poller", daemon=True)

    def start(self) -> SqsEsmPoller:
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(Exception):  # moto's stores changing under us: try again next round
                self._reconcile(set(self._mappings()))
            self._stop.wait(self._interval)

    def _reconcile(self, wanted: set[SqsMapping]) -> None:
        for mapping in [m for m in self._pollers if m not in wanted]:
            self._pollers.pop(mapping).stop()
        for mapping in wanted - self._pollers.keys():
            self._pollers[mapping] = MappingPoller(mapping, self._endpoint).start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for poller in self._pollers.values():
            poller.stop()
        for poller in self._pollers.values():
            poller.join(timeout=3)
