"""The function's logs and metrics: Powertools JSON logs with every credential masked, EMF metrics.

One logger and one metrics object per process, shared by every stage of a run (they are what
Powertools' decorators on the handler flush and annotate).
"""

from __future__ import annotations

import os

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
from aws_lambda_powertools.logging.types import LogRecord

from .redaction import REDACTOR

METRICS_NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "LakeIngest")


class RedactingFormatter(LambdaPowertoolsFormatter):
    """Powertools' JSON log format, with every known credential value masked."""

    def serialize(self, log: LogRecord) -> str:
        return REDACTOR.scrub(super().serialize(log))


logger = Logger(service="lake-ingest", logger_formatter=RedactingFormatter())
metrics = Metrics(namespace=METRICS_NAMESPACE, service="lake-ingest")
