"""The function's logs and metrics: Powertools JSON logs with every credential masked, EMF metrics.

One logger and one metrics object per process, shared by every stage of a run (they are what
Powertools' decorators on the handler flush and annotate).

No credential reaches a log at any level. Redaction lives in the Powertools formatter for the
function's own lines, and beyond it:

- The Lambda runtime gives the *root* logger the function's application log level (with
  `log_level = "DEBUG"`: DEBUG) and its own handler (awslambdaric bootstrap `_setup_logging`). At DEBUG,
  botocore logs every request's parameters and every response body (`botocore.endpoint` "Making
  request ... with params", `botocore.parsers` "Response body": a GetSecretValue answer, a
  PutSecretValue's SecretString) and urllib3 the request line with its query string. Those libraries'
  loggers are held at WARNING whatever the root level is (`quiet_libraries`): the bodies are never
  logged, because they are logged before this code could know the values to mask.
- Every handler on the root logger gets `RedactingFilter`, which masks the known credentials in any
  record that reaches it (a library's warning quoting a URL, a third-party logger).
"""

from __future__ import annotations

import logging
import os

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
from aws_lambda_powertools.logging.types import LogRecord

from .redaction import REDACTOR

METRICS_NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "LakeIngest")
# Libraries that log request or response bodies (or URLs with their query) below WARNING.
QUIET_LOGGERS = ("botocore", "boto3", "s3transfer", "urllib3", "requests", "aws_lambda_powertools.utilities")


class RedactingFormatter(LambdaPowertoolsFormatter):
    """Powertools' JSON log format, with every known credential value masked."""

    def serialize(self, log: LogRecord) -> str:
        return REDACTOR.scrub(super().serialize(log))


class RedactingFilter(logging.Filter):
    """Masks known credentials in a record's message and its exception text, whoever logged it."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a record whose arguments do not format is passed on as it is
            return True
        record.msg, record.args = REDACTOR.scrub(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = REDACTOR.scrub(record.exc_text)
        return True


_FILTER = RedactingFilter()


def quiet_libraries() -> None:
    """Hold the body-logging libraries at WARNING and put the redacting filter on every root handler.

    Called when the module is imported and again at every invocation (the runtime's handler exists
    before the function's code is imported; a handler added later is covered from the next one).
    """
    for name in QUIET_LOGGERS:
        library = logging.getLogger(name)
        if library.level == logging.NOTSET or library.level < logging.WARNING:
            library.setLevel(logging.WARNING)
    for handler in logging.getLogger().handlers:
        if _FILTER not in handler.filters:
            handler.addFilter(_FILTER)


quiet_libraries()
logger = Logger(service="lake-ingest", logger_formatter=RedactingFormatter())
metrics = Metrics(namespace=METRICS_NAMESPACE, service="lake-ingest")
