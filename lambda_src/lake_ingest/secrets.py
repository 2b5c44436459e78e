"""The source's API credentials, read from Secrets Manager through Powertools parameters.

The value is cached in the process (Powertools' provider cache), so warm invocations do not
call Secrets Manager again until max_age expires. The provider's client comes from boto3's default
session, which the S3 client shares: one endpoint/model loader, about 40 ms less cold start than
a provider with its own session.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools.utilities import parameters

from . import aws_clients
from .config import AuthConfig
from .redaction import REDACTOR


class SecretError(RuntimeError):
    """The secret could not be read or does not hold the fields the auth type needs."""


_provider: parameters.SecretsProvider | None = None
_client: Any = None


def secrets_client() -> Any:
    """One Secrets Manager client per process (the provider's, and the refresh token store's)."""
    global _client
    if _client is None:
        _client = aws_clients.client("secretsmanager")
    return _client


def secrets_provider() -> parameters.SecretsProvider:
    """One Secrets Manager provider (and cache) per process, reused by warm invocations."""
    global _provider
    if _provider is None:
        _provider = parameters.SecretsProvider(boto3_client=secrets_client())
    return _provider


def get_credentials(
    secret_arn: str, auth: AuthConfig, max_age_seconds: int, force_fetch: bool = False
) -> Mapping[str, str]:
    """Return the secret's fields needed by `auth`, registering their values for redaction."""
    if auth.type == "none":
        return {}
    try:
        value: Any = secrets_provider().get(
            secret_arn, transform="json", max_age=max_age_seconds, force_fetch=force_fetch
        )
    except parameters.exceptions.TransformParameterError:
        raise SecretError(f"secret {secret_arn}: value is not a JSON object") from None
    except parameters.exceptions.GetParameterError as exc:
        # The message is the AWS error (access denied, not found, no value yet): no secret in it.
        raise SecretError(f"secret {secret_arn}: cannot be read: {exc}") from None
    return credential_fields(secret_arn, value, auth)


def credential_fields(secret_arn: str, value: Any, auth: AuthConfig) -> Mapping[str, str]:
    """The fields of a secret's value that `auth` reads, every value registered for redaction first."""
    if not isinstance(value, dict):
        raise SecretError(f"secret {secret_arn}: value must be a JSON object of credential fields")
    # A number is still a credential someone meant to use: mask it too, although it is refused below.
    REDACTOR.add(
        str(v) for v in value.values() if isinstance(v, (str, int, float)) and not isinstance(v, bool)
    )
    problems = [p for p in (_field_problem(value, name) for name in auth.secret_fields) if p]
    if problems:
        raise SecretError(
            f"secret {secret_arn}: {'; '.join(problems)}; "
            f"auth type '{auth.type}' reads {', '.join(auth.secret_fields)}"
        )
    fields = {name: value[name] for name in auth.secret_fields}
    REDACTOR.add_secret(fields[name] for name in auth.secret_fields if name not in auth.identity_fields)
    return fields


def _field_problem(secret: Mapping[str, Any], name: str) -> str | None:
    """What is wrong with one field of the secret, without its value: missing, empty, or not a string.

    Each is fixed differently (a misspelled field name, a value never filled in, a number written
    without quotes), so each gets its own message.
    """
    if name not in secret:
        held = ", ".join(sorted(secret))
        return (
            f"field {name} is missing ({f'the secret has: {held}' if held else 'the secret has no fields'})"
        )
    item = secret[name]
    if isinstance(item, str):
        return None if item else f"field {name} is empty"
    return f"field {name} is {_json_kind(item)}; it must be a string"


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, (int, float)):
        return "a number"
    return "a list" if isinstance(value, list) else "an object"
