"""Configuration contract: environment variables set by the Terraform module, and API_CONFIG.

Every problem is reported as a ConfigError naming the offending field, never a KeyError.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import json
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import SplitResult, parse_qsl, urlsplit

SOURCE_ID_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,46}[a-z0-9])?$")
PREFIX_PATTERN = re.compile(r"^[A-Za-z0-9!_.*'()-]+(?:/[A-Za-z0-9!_.*'()-]+)*$")
API_CONFIG_KEYS = frozenset(
    {
        "endpoint",
        "method",
        "query_params",
        "headers",
        "body",
        "auth",
        "timeout_seconds",
        "max_retries",
        "records_path",
        "max_parse_bytes",
        "pagination",
        "content_types",
    }
)
PAGINATION_KEYS = {
    "none": frozenset({"type"}),
    "link_header": frozenset({"type", "max_pages"}),
    "next_url": frozenset({"type", "max_pages", "next_url_path"}),
    "cursor": frozenset({"type", "max_pages", "cursor_path", "cursor_param"}),
    "page_number": frozenset(
        {"type", "max_pages", "page_param", "start_page", "page_size_param", "page_size", "total_pages_path"}
    ),
    "offset": frozenset({"type", "max_pages", "offset_param", "limit_param", "limit", "total_records_path"}),
}
# What a data page may be; anything else (an HTML error page with status 200) is quarantined.
DEFAULT_CONTENT_TYPES = (
    "application/json",
    "application/*+json",
    "text/json",
    "application/x-ndjson",
    "application/ndjson",
)
DEFAULT_MAX_PAGES = 100
AUTH_KEYS = {
    "none": frozenset({"type"}),
    "bearer": frozenset({"type", "secret_field"}),
    "header": frozenset({"type", "secret_field", "header_name"}),
    "query": frozenset({"type", "secret_field", "param_name"}),
    "basic": frozenset({"type", "username_field", "password_field"}),
}
DEFAULT_MAX_PARSE_BYTES = 8 * 1024 * 1024
# A header or query parameter name that looks like it carries a credential: such values belong in
# the secret (auth), never in the plain-text configuration, which Terraform state, plans, the
# function's environment and the manifests all show. Matched against the name lowercased, with
# '-', '_' and '.' removed. The Terraform module and the JSON Schema reuse this exact text.
CREDENTIAL_NAME_PATTERN = (
    r"secret|passw|pwd|apikey|accesskey|privatekey|token|credential|signature|authori[sz]ation"
    r"|cookie|sessionid|bearer|^x?(auth|key|sig)$"
)
_CREDENTIAL_NAME = re.compile(CREDENTIAL_NAME_PATTERN)
USE_AUTH = "use auth and keep the value in the secret"
ACCOUNT_ID_PATTERN = re.compile(r"^\d{12}$")
ALLOW_HTTP_LOOPBACK = "ALLOW_HTTP_LOOPBACK"


class ConfigError(ValueError):
    """The function's configuration is invalid. The message names the field."""

    def __init__(self, field_name: str, problem: str) -> None:
        super().__init__(f"invalid configuration: {field_name}: {problem}")
        self.field = field_name


@dataclass(frozen=True)
class AuthConfig:
    """How credentials from the secret are attached to the request."""

    type: str = "none"
    secret_field: str = "api_key"  # noqa: S105 - a field name, not a secret
    header_name: str = "X-API-Key"
    param_name: str = "api_key"
    username_field: str = "username"
    password_field: str = "password"  # noqa: S105 - a field name, not a secret

    @property
    def query_param(self) -> str | None:
        """The query parameter that carries the credential (query auth only)."""
        return self.param_name if self.type == "query" else None

    @property
    def secret_fields(self) -> tuple[str, ...]:
        """Names of the secret's fields this auth type reads."""
        if self.type in ("bearer", "header", "query"):
            return (self.secret_field,)
        if self.type == "basic":
            return (self.username_field, self.password_field)
        return ()


@dataclass(frozen=True)
class PaginationConfig:
    """How to find the next page (API_CONFIG.pagination); `none` fetches one page."""

    type: str = "none"
    max_pages: int = DEFAULT_MAX_PAGES
    next_url_path: str = ""  # next_url: dot path of the next page's URL in the body
    cursor_path: str = ""  # cursor: dot path of the next cursor in the body
    cursor_param: str = "cursor"  # cursor: query parameter that carries it
    page_param: str = "page"  # page_number
    start_page: int = 1
    page_size_param: str = ""
    page_size: int = 0
    total_pages_path: str = ""  # page_number: optional dot path of the page count
    offset_param: str = "offset"  # offset
    limit_param: str = "limit"
    limit: int = 100
    total_records_path: str = ""  # offset: optional dot path of the total record count

    @property
    def body_paths(self) -> tuple[str, ...]:
        """Dot paths whose values the pagination needs from each page's body."""
        paths = (self.next_url_path, self.cursor_path, self.total_pages_path, self.total_records_path)
        return tuple(p for p in paths if p)


@dataclass(frozen=True)
class ApiConfig:
    """What to call and how (the API_CONFIG environment variable)."""

    endpoint: str
    method: str = "GET"
    query_params: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    body: Any = None
    auth: AuthConfig = field(default_factory=AuthConfig)
    timeout_seconds: float = 30.0
    max_retries: int = 3
    records_path: str = ""
    # Pages up to this size are read whole and checked before they are written (a bad one goes
    # straight to quarantine); larger pages stream to S3 and are scanned on the way. No single JSON
    # value larger than this is held in memory.
    max_parse_bytes: int = DEFAULT_MAX_PARSE_BYTES
    pagination: PaginationConfig = field(default_factory=PaginationConfig)
    content_types: tuple[str, ...] = DEFAULT_CONTENT_TYPES

    def accepts(self, content_type: str) -> bool:
        """Whether a page with this Content-Type is data (a missing header is judged by the body)."""
        media_type = content_type.split(";")[0].strip().lower()
        return not media_type or any(fnmatch.fnmatchcase(media_type, p) for p in self.content_types)


@dataclass(frozen=True)
class SourceConfig:
    """Everything the handler needs to know about its one data source."""

    source_id: str
    raw_bucket: str
    raw_prefix: str
    secret_arn: str
    kms_key_arn: str | None
    api: ApiConfig
    secret_max_age_seconds: int = 300
    raw_bucket_owner: str | None = None  # account id every S3 request names (ExpectedBucketOwner)


def _require(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise ConfigError(name, "environment variable is missing or empty")
    return value


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def string_map(
    value: Any, field_name: str, error: Callable[[str, str], Exception] = ConfigError
) -> dict[str, str]:
    """A name -> string map from a JSON object of strings or numbers; `error(field, problem)` otherwise."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise error(field_name, "must be an object of name -> value")
    result: dict[str, str] = {}
    for key, item in value.items():
        if isinstance(item, bool) or not isinstance(item, (str, int, float)):
            raise error(f"{field_name}.{key}", "must be a string or a number")
        result[str(key)] = str(item)
    return result


def looks_like_credential(name: str) -> bool:
    """Whether a header or query parameter name looks like it carries a credential."""
    return _CREDENTIAL_NAME.search(re.sub(r"[-_.]", "", name.lower())) is not None


def _refuse_credential_names(names: Iterable[str], field_name: str) -> None:
    """A ConfigError naming `<field_name>.<name>` for the first name that looks like a credential."""
    for name in names:
        if looks_like_credential(name):
            raise ConfigError(f"{field_name}.{name}", f"looks like a credential; {USE_AUTH}")


def _parse_endpoint(value: Any, env: Mapping[str, str]) -> str:
    field_name = "API_CONFIG.endpoint"
    if not isinstance(value, str) or not value:
        raise ConfigError(field_name, "is required and must be a URL string")
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ConfigError(field_name, "must be an absolute https:// URL")
    if parts.username or parts.password:
        raise ConfigError(field_name, f"embeds credentials in the URL; {USE_AUTH}")
    for name, _ in parse_qsl(parts.query, keep_blank_values=True):
        if looks_like_credential(name):
            raise ConfigError(field_name, f"query parameter {name!r} looks like a credential; {USE_AUTH}")
    _refuse_runtime_api(parts, env.get("AWS_LAMBDA_RUNTIME_API", ""))
    if parts.scheme == "http" and not (
        _is_loopback(parts.hostname) and env.get(ALLOW_HTTP_LOOPBACK) == "true"
    ):
        raise ConfigError(
            field_name,
            "must use https; plain http is accepted only for a loopback host (127.0.0.1, localhost, ::1) "
            f"with {ALLOW_HTTP_LOOPBACK}=true in the function's environment, for local testing only",
        )
    return value


def _refuse_runtime_api(endpoint: SplitResult, runtime_api: str) -> None:
    """The Lambda Runtime API (host:port in AWS_LAMBDA_RUNTIME_API) is never a data source.

    A configuration pointing at it would let the function fetch (and land) its own invocation
    events, and call the API that reports its results.
    """
    if not runtime_api.strip():
        return
    runtime = urlsplit("//" + runtime_api.strip())
    port = endpoint.port or (443 if endpoint.scheme == "https" else 80)
    host, runtime_host = endpoint.hostname or "", runtime.hostname or ""
    same_host = host == runtime_host or (_is_loopback(host) and _is_loopback(runtime_host))
    if same_host and port == runtime.port:
        raise ConfigError(
            "API_CONFIG.endpoint",
            f"is the Lambda Runtime API (AWS_LAMBDA_RUNTIME_API={runtime_api.strip()}); "
            "point it at the data API, over https",
        )


def _typed_options(value: dict[str, Any], field_name: str, keys_by_type: Mapping[str, frozenset[str]]) -> str:
    """Check an object whose 'type' decides which other keys it may have; return the type."""
    if not isinstance(value, dict):
        raise ConfigError(field_name, "must be an object with a 'type'")
    kind = value.get("type", "none")
    if kind not in keys_by_type:
        raise ConfigError(f"{field_name}.type", f"must be one of {', '.join(keys_by_type)}")
    unknown = set(value) - keys_by_type[kind]
    if unknown:
        what = field_name.rsplit(".", 1)[-1]
        raise ConfigError(f"{field_name}.{sorted(unknown)[0]}", f"is not an option of {what} type '{kind}'")
    return str(kind)


def _parse_auth(value: Any) -> AuthConfig:
    if value is None:
        return AuthConfig()
    _typed_options(value, "API_CONFIG.auth", AUTH_KEYS)
    for key, item in value.items():
        if not isinstance(item, str) or not item.strip():
            raise ConfigError(f"API_CONFIG.auth.{key}", "must be a non-empty string")
    return AuthConfig(**value)


def _number(value: Any, field_name: str, *, minimum: float, maximum: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(field_name, "must be a number")
    if not minimum <= value <= maximum:
        raise ConfigError(field_name, f"must be between {minimum:g} and {maximum:g}")
    return value


def _whole(value: Any, field_name: str, *, minimum: int, maximum: int) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(field_name, "must be a whole number")
    return int(_number(value, field_name, minimum=minimum, maximum=maximum))


def _dot_path(value: Any, field_name: str, required: bool = False) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str) or value != value.strip(".") or ".." in value or value != value.strip():
        raise ConfigError(field_name, "must be a dot path such as 'data.items'")
    if required and not value:
        raise ConfigError(field_name, "is required for this pagination type")
    return value


def _parse_pagination(value: Any) -> PaginationConfig:
    if value is None:
        return PaginationConfig()
    kind = _typed_options(value, "API_CONFIG.pagination", PAGINATION_KEYS)
    name = "API_CONFIG.pagination."
    options: dict[str, Any] = {"type": kind}
    for key in ("cursor_param", "page_param", "page_size_param", "offset_param", "limit_param"):
        if key in value:
            if not isinstance(value[key], str) or not value[key].strip():
                raise ConfigError(name + key, "must be a non-empty query parameter name")
            options[key] = value[key]
    for key in ("next_url_path", "cursor_path", "total_pages_path", "total_records_path"):
        if key in PAGINATION_KEYS[kind]:
            required = key in ("next_url_path", "cursor_path")
            options[key] = _dot_path(value.get(key), name + key, required=required)
    if "max_pages" in value:
        options["max_pages"] = _whole(value["max_pages"], name + "max_pages", minimum=1, maximum=100_000)
    if "start_page" in value:
        options["start_page"] = _whole(value["start_page"], name + "start_page", minimum=0, maximum=1_000_000)
    if "page_size" in value:
        options["page_size"] = _whole(value["page_size"], name + "page_size", minimum=1, maximum=1_000_000)
    if bool(options.get("page_size_param")) != bool(options.get("page_size")):
        if kind == "page_number":
            raise ConfigError(name + "page_size", "page_size and page_size_param go together")
    if kind == "offset":
        if "limit" not in value:
            raise ConfigError(name + "limit", "is required for offset pagination (the page size)")
        options["limit"] = _whole(value["limit"], name + "limit", minimum=1, maximum=1_000_000)
    return PaginationConfig(**options)


def _parse_content_types(value: Any) -> tuple[str, ...]:
    if value is None:
        return DEFAULT_CONTENT_TYPES
    if not isinstance(value, list) or not value:
        raise ConfigError("API_CONFIG.content_types", "must be a non-empty list of media types")
    for item in value:
        if not isinstance(item, str) or not re.fullmatch(
            r"[a-z0-9.+*-]+/[a-z0-9.+*-]+", item.strip().lower()
        ):
            raise ConfigError("API_CONFIG.content_types", f"{item!r} is not a media type such as text/csv")
    return tuple(item.strip().lower() for item in value)


def parse_api_config(raw: str, env: Mapping[str, str] | None = None) -> ApiConfig:
    """Parse and validate the API_CONFIG JSON document.

    `env` is the function's environment, which decides what the endpoint may be (plain http to
    loopback only with ALLOW_HTTP_LOOPBACK=true; never the Lambda Runtime API). None: an empty
    environment, so nothing is allowed by default.
    """
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ConfigError("API_CONFIG", f"is not valid JSON ({exc.msg} at position {exc.pos})") from None
    if not isinstance(data, dict):
        raise ConfigError("API_CONFIG", "must be a JSON object")
    unknown = set(data) - API_CONFIG_KEYS
    if unknown:
        raise ConfigError(f"API_CONFIG.{sorted(unknown)[0]}", "is not a known option")

    method = data.get("method", "GET")
    if not isinstance(method, str) or method.upper() not in ("GET", "POST"):
        raise ConfigError("API_CONFIG.method", "must be GET or POST")
    method = method.upper()
    body = data.get("body")
    if body is not None and method != "POST":
        raise ConfigError("API_CONFIG.body", "is allowed only with method POST")

    headers = string_map(data.get("headers"), "API_CONFIG.headers")
    _refuse_credential_names(headers, "API_CONFIG.headers")
    query_params = string_map(data.get("query_params"), "API_CONFIG.query_params")
    _refuse_credential_names(query_params, "API_CONFIG.query_params")

    records_path = _dot_path(data.get("records_path", ""), "API_CONFIG.records_path")

    return ApiConfig(
        endpoint=_parse_endpoint(data.get("endpoint"), env or {}),
        method=method,
        query_params=query_params,
        headers=headers,
        body=body,
        auth=_parse_auth(data.get("auth")),
        timeout_seconds=float(
            _number(data.get("timeout_seconds", 30), "API_CONFIG.timeout_seconds", minimum=0.1, maximum=900)
        ),
        max_retries=int(_number(data.get("max_retries", 3), "API_CONFIG.max_retries", minimum=0, maximum=10)),
        records_path=records_path,
        max_parse_bytes=int(
            _number(
                data.get("max_parse_bytes", DEFAULT_MAX_PARSE_BYTES),
                "API_CONFIG.max_parse_bytes",
                minimum=0,
                maximum=256 * 1024 * 1024,
            )
        ),
        pagination=_parse_pagination(data.get("pagination")),
        content_types=_parse_content_types(data.get("content_types")),
    )


def load_config(env: Mapping[str, str] | None = None) -> SourceConfig:
    """Read and validate the whole configuration from the environment."""
    env = os.environ if env is None else env
    source_id = _require(env, "SOURCE_ID")
    if not SOURCE_ID_PATTERN.match(source_id):
        raise ConfigError("SOURCE_ID", "must be 1-48 characters of lowercase letters, digits and hyphens")
    raw_prefix = env.get("RAW_PREFIX", "").strip().strip("/") or source_id
    if not PREFIX_PATTERN.match(raw_prefix):
        raise ConfigError("RAW_PREFIX", "must be a relative S3 key prefix of safe characters")
    kms_key_arn = env.get("KMS_KEY_ARN", "").strip() or None
    if kms_key_arn is not None and not kms_key_arn.startswith("arn:"):
        raise ConfigError("KMS_KEY_ARN", "must be a KMS key ARN")
    max_age_raw = env.get("SECRET_CACHE_SECONDS", "300").strip()
    if not max_age_raw.isdigit():
        raise ConfigError("SECRET_CACHE_SECONDS", "must be a whole number of seconds")
    owner = env.get("RAW_BUCKET_OWNER", "").strip() or None
    if owner is not None and not ACCOUNT_ID_PATTERN.match(owner):
        raise ConfigError("RAW_BUCKET_OWNER", "must be the 12-digit AWS account id that owns RAW_BUCKET")
    api = parse_api_config(_require(env, "API_CONFIG"), env)
    # A source without auth needs no secret; every other one must name its secret.
    secret_arn = _require(env, "SECRET_ARN") if api.auth.type != "none" else env.get("SECRET_ARN", "")
    return SourceConfig(
        source_id=source_id,
        raw_bucket=_require(env, "RAW_BUCKET"),
        raw_prefix=raw_prefix,
        secret_arn=secret_arn,
        kms_key_arn=kms_key_arn,
        api=api,
        secret_max_age_seconds=int(max_age_raw),
        raw_bucket_owner=owner,
    )
