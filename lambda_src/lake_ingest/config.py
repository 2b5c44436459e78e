"""Configuration contract: environment variables set by the Terraform module, and API_CONFIG.

Every problem is reported as a ConfigError naming the offending field, never a KeyError.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypedDict
from urllib.parse import SplitResult, parse_qsl, urlsplit

from . import schema
from .incremental import IncrementalConfig
from .records_zone import RecordsConfig
from .schema import Problem

if TYPE_CHECKING:
    from .push.config import PushConfig

# The module's limit and message (variables.tf, modules/lake), so that the handler and the local
# runner accept exactly the source ids the module can deploy.
SOURCE_ID_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$")
SOURCE_ID_RULE = (
    "source_id must be 1-32 characters of lowercase letters, digits and hyphens, "
    'starting and ending with a letter or digit (e.g. "stripe-charges")'
)
PREFIX_PATTERN = re.compile(r"^[A-Za-z0-9!_.*'()-]+(?:/[A-Za-z0-9!_.*'()-]+)*$")
# What a data page may be; anything else (an HTML error page with status 200) is quarantined.
DEFAULT_CONTENT_TYPES = (
    "application/json",
    "application/*+json",
    "text/json",
    "application/x-ndjson",
    "application/ndjson",
)
DEFAULT_MAX_PAGES = 100
DEFAULT_MAX_PARSE_BYTES = 8 * 1024 * 1024
# A header or query parameter name that looks like it carries a credential: such values belong in
# the secret (auth), never in the plain-text configuration, which Terraform state, plans, the
# function's environment and the manifests all show. Matched against the name lowercased, with
# '-', '_' and '.' removed. The one text lives in the schema; the Terraform module reads it there.
CREDENTIAL_NAME_PATTERN: str = schema.load()["x-credential-name-pattern"]
_CREDENTIAL_NAME = re.compile(CREDENTIAL_NAME_PATTERN)
USE_AUTH = "use auth and keep the value in the secret"
KEEP_IN_SECRET = "keep credentials in the secret (client_id_field, client_secret_field, refresh_token_field)"  # noqa: S105
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
    # OAuth2 (oauth2_client_credentials, oauth2_refresh_token): see oauth2.py.
    token_url: str = ""
    client_id_field: str = "client_id"
    client_secret_field: str = "client_secret"  # noqa: S105 - a field name, not a secret
    refresh_token_field: str = "refresh_token"  # noqa: S105 - a field name, not a secret
    client_auth: str = "basic"
    scope: str = ""
    audience: str = ""
    token_params: Mapping[str, str] = field(default_factory=dict)

    @property
    def query_param(self) -> str | None:
        """The query parameter that carries the credential (query auth only)."""
        return self.param_name if self.type == "query" else None

    @property
    def is_oauth2(self) -> bool:
        return self.type.startswith("oauth2_")

    @property
    def rotates(self) -> bool:
        """Whether a run may write a new version of the secret (a rotated refresh token)."""
        return self.type == "oauth2_refresh_token"

    @property
    def identity_fields(self) -> tuple[str, ...]:
        """The fields that name who calls (a user name, a client id): masked in logs, not in page bodies."""
        if self.type == "basic":
            return (self.username_field,)
        return (self.client_id_field,) if self.is_oauth2 else ()

    @property
    def secret_fields(self) -> tuple[str, ...]:
        """Names of the secret's fields this auth type reads."""
        if self.type in ("bearer", "header", "query"):
            return (self.secret_field,)
        if self.type == "basic":
            return (self.username_field, self.password_field)
        if self.is_oauth2:
            client: tuple[str, ...] = (self.client_id_field,)
            if self.client_auth != "none":
                client += (self.client_secret_field,)
            return client + ((self.refresh_token_field,) if self.rotates else ())
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
    incremental: IncrementalConfig | None = None  # fetch only what is new (incremental.py)
    # Names the credential-name rule would refuse that carry no credential (checked at start only).
    non_secret_names: tuple[str, ...] = ()

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
    records: RecordsConfig = field(default_factory=RecordsConfig)  # the records zone (RECORDS_CONFIG)


@dataclass(frozen=True)
class PushSourceConfig:
    """What a push source's function needs: where the events it is handed land. It calls no API (it has
    no API_CONFIG) and reads no secret (the ingress checks signatures); PUSH_CONFIG says how the ingress
    verifies and identifies events."""

    source_id: str
    raw_bucket: str
    raw_prefix: str
    kms_key_arn: str | None
    push: PushConfig
    raw_bucket_owner: str | None = None
    records: RecordsConfig = field(default_factory=RecordsConfig)


# The columns a push source's rows carry beside the lineage: no declared column may take their names.
PUSH_COLUMNS = ("cursor_value", "event_id", "received_at")
LINEAGE_COLUMNS = ("run_id", "attempt", "page", "ingested_at", "record_index", "record", "ingest_date")


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


def _normal(name: str) -> str:
    """A name as the credential rule reads it: lowercase, without '-', '_' and '.'."""
    return re.sub(r"[-_.]", "", name.lower())


def looks_like_credential(name: str, non_secret: frozenset[str] = frozenset()) -> bool:
    """Whether a header or query parameter name looks like it carries a credential.

    `non_secret`: names (as _normal writes them) that API_CONFIG.non_secret_names declares harmless.
    """
    normal = _normal(name)
    return normal not in non_secret and _CREDENTIAL_NAME.search(normal) is not None


def check_event_params(params: Mapping[str, str], api: ApiConfig) -> None:
    """An event's query_params follow API_CONFIG's rule: no credential-looking name (they land in the
    manifest's URL and the logs as plainly as API_CONFIG's own)."""
    non_secret = frozenset(_normal(n) for n in api.non_secret_names)
    for name in sorted(params):
        if looks_like_credential(name, non_secret):
            raise ConfigError(f"event query_params.{name}", _credential_hint(name))


def _credential_hint(name: str) -> str:
    return f"looks like a credential; {USE_AUTH} (if {name!r} carries none, list it in non_secret_names)"


def _refuse_runtime_api(endpoint: SplitResult, runtime_api: str, where: str = "endpoint") -> None:
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
            f"API_CONFIG.{where}",
            f"is the Lambda Runtime API (AWS_LAMBDA_RUNTIME_API={runtime_api.strip()}); "
            "point it at the API's own URL, over https",
        )


def _rule_problems(data: Mapping[str, Any], env: Mapping[str, str]) -> list[Problem]:
    """What the schema cannot say: rules across fields, or about the function's environment.

    The Terraform module applies the same rules at plan time (modules/api_config), except the
    Runtime API one, which only the function's own environment can tell.
    """
    found: list[Problem] = []
    non_secret = frozenset(_normal(n) for n in data.get("non_secret_names") or [])
    for name in ("headers", "query_params"):
        found += [
            Problem(f"API_CONFIG.{name}.{key}", _credential_hint(key))
            for key in sorted(data.get(name) or {})
            if looks_like_credential(key, non_secret)
        ]
    found += _url_problems("API_CONFIG.endpoint", data["endpoint"], env, non_secret)
    auth = data.get("auth") or {}
    if auth.get("token_url"):
        found += _url_problems("API_CONFIG.auth.token_url", auth["token_url"], env, non_secret)
    found += [
        Problem(f"API_CONFIG.auth.token_params.{key}", f"looks like a credential; {KEEP_IN_SECRET}")
        for key in sorted(auth.get("token_params") or {})
        if looks_like_credential(key, non_secret)
    ]
    if "body" in data and str(data.get("method", "GET")).upper() != "POST":
        found.append(Problem("API_CONFIG.body", "is allowed only with method POST"))
    return found + _incremental_problems(data)


def _url_problems(
    path: str, url: str, env: Mapping[str, str], non_secret: frozenset[str] = frozenset()
) -> list[Problem]:
    """A URL that credentials go to: https (http to loopback for local tests only), none in the URL."""
    parts = urlsplit(url)
    found = [
        Problem(path, f"query parameter {name!r} {_credential_hint(name)}")
        for name, _ in parse_qsl(parts.query, keep_blank_values=True)
        if looks_like_credential(name, non_secret)
    ]
    if parts.scheme == "http" and not (
        _is_loopback(parts.hostname or "") and env.get(ALLOW_HTTP_LOOPBACK) == "true"
    ):
        found.append(
            Problem(
                path,
                "must use https; plain http is accepted only for a loopback host (127.0.0.1, localhost, ::1) "
                f"with {ALLOW_HTTP_LOOPBACK}=true in the function's environment, for local testing only",
            )
        )
    return found


DURATION = re.compile(r"^[0-9]+(s|m|h|d)$")
ISO_INSTANT = re.compile(
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?)?(Z|[+-][0-9]{2}:?[0-9]{2})?$"
)
NUMBER_TEXT = re.compile(r"^-?[0-9]+(\.[0-9]+)?$")


def _incremental_problems(data: Mapping[str, Any]) -> list[Problem]:
    """Placeholders and `incremental` belong together; lookback and initial_value follow cursor_type."""
    where = "API_CONFIG.incremental"
    incremental = {k: v for k, v in (data.get("incremental") or {}).items() if v is not None}
    kind = incremental.get("type")
    sent = json.dumps([data.get("endpoint"), data.get("query_params"), data.get("body")])
    uses_window = "{window_start}" in sent or "{window_end}" in sent
    found = []
    if uses_window and kind != "window":
        found.append(
            Problem(where, "{window_start} or {window_end} is used, so incremental must be of type window")
        )
    if "{cursor}" in sent and kind != "cursor":
        found.append(Problem(where, "{cursor} is used, so incremental must be of type cursor"))
    if kind == "window" and not uses_window:
        found.append(
            Problem(
                where, f"type window sends nothing: put {{window_start}} and/or {{window_end}} in {_WHERE}"
            )
        )
    if kind == "cursor" and "{cursor}" not in sent:
        found.append(Problem(where, f"type cursor sends nothing: put {{cursor}} in {_WHERE}"))
    if kind == "cursor":
        found += _cursor_value_problems(incremental, where)
    return found + _placeholders_outside_path_and_query(str(data.get("endpoint", "")))


def _placeholders_outside_path_and_query(endpoint: str) -> list[Problem]:
    """A placeholder in the endpoint's scheme, host or fragment would be sent as written (a value must
    never choose where the request goes): refused, with where it may go instead."""
    head, _, rest = endpoint.partition("://")
    host = rest.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    fragment = rest.partition("#")[2]
    misplaced = sorted(set(re.findall(r"\{(window_start|window_end|cursor)\}", head + host + fragment)))
    return [
        Problem(
            "API_CONFIG.endpoint",
            f"{{{name}}} is in the scheme, host or fragment, where it is not substituted (a value must not "
            "choose where the request goes): put it in the path or the query",
        )
        for name in misplaced
    ]


_WHERE = "query_params, body or the endpoint's path or query"


def _cursor_value_problems(incremental: Mapping[str, Any], where: str) -> list[Problem]:
    cursor_type = incremental.get("cursor_type", "timestamp")
    lookback, initial = incremental.get("lookback"), incremental.get("initial_value")
    is_number = isinstance(initial, (int, float)) and not isinstance(initial, bool)
    found = []
    if cursor_type == "timestamp":
        if lookback is not None and not (isinstance(lookback, str) and DURATION.match(lookback)):
            found.append(
                Problem(
                    f"{where}.lookback",
                    f"is {schema.value_text(lookback)}; a timestamp cursor's lookback is a duration "
                    "such as 10m",
                )
            )
        text = isinstance(initial, str) and (ISO_INSTANT.match(initial) or NUMBER_TEXT.match(initial))
        if not (is_number or text):
            found.append(
                Problem(
                    f"{where}.initial_value",
                    f"is {schema.value_text(initial)}; a timestamp cursor starts at an ISO 8601 time such as "
                    "2026-01-01T00:00:00Z (or epoch seconds, as a number or its digits)",
                )
            )
    elif cursor_type == "number":
        if lookback is not None and not (
            isinstance(lookback, (int, float)) and not isinstance(lookback, bool)
        ):
            found.append(
                Problem(
                    f"{where}.lookback",
                    f"is {schema.value_text(lookback)}; a number cursor's lookback is a number",
                )
            )
        if not (is_number or (isinstance(initial, str) and NUMBER_TEXT.match(initial))):
            found.append(
                Problem(
                    f"{where}.initial_value",
                    f"is {schema.value_text(initial)}; a number cursor starts at a number",
                )
            )
    else:
        if lookback is not None:
            found.append(Problem(f"{where}.lookback", "a string cursor has no lookback"))
        if not isinstance(initial, str):
            found.append(
                Problem(
                    f"{where}.initial_value",
                    f"is {schema.value_text(initial)}; a string cursor starts at a string",
                )
            )
    if cursor_type != "timestamp" and "future_skew" in incremental:
        found.append(
            Problem(
                f"{where}.future_skew", f"applies to timestamp cursors; a {cursor_type} cursor has no future"
            )
        )
    if cursor_type != "timestamp" and "format" in incremental:
        found.append(
            Problem(
                f"{where}.format", f"a {cursor_type} cursor is sent as it is; format applies to timestamps"
            )
        )
    return found


def problems(data: Any, env: Mapping[str, str] | None = None) -> list[Problem]:
    """Everything wrong with an API_CONFIG document: its schema first, then the rules across fields
    (the Terraform module reports the same problems at plan time, modules/api_config)."""
    found = schema.problems(data)
    if found or not isinstance(data, dict):
        return found
    present = {k: v for k, v in data.items() if v is not None}
    return _rule_problems(present, env or {})


def _check(found: list[Problem]) -> None:
    if found:
        raise ConfigError(found[0].path, found[0].message)


def parse_api_config(raw: str, env: Mapping[str, str] | None = None) -> ApiConfig:
    """Parse and validate the API_CONFIG JSON document.

    Its structure (options, types, ranges, forms) is checked against api_config.schema.json, then
    the rules across fields. `env` is the function's environment, which decides what the endpoint
    may be (plain http to loopback only with ALLOW_HTTP_LOOPBACK=true; never the Lambda Runtime
    API). None: an empty environment, so nothing is allowed by default.
    """
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ConfigError("API_CONFIG", f"is not valid JSON ({exc.msg} at position {exc.pos})") from None
    if not isinstance(data, dict):
        raise ConfigError("API_CONFIG", "must be a JSON object")
    env = env or {}
    _check(problems(data, env))
    data = {k: v for k, v in data.items() if v is not None}
    auth = {k: v for k, v in (data.get("auth") or {}).items() if v is not None}
    for where, url in (("endpoint", data["endpoint"]), ("auth.token_url", auth.get("token_url"))):
        if url:
            _refuse_runtime_api(urlsplit(url), env.get("AWS_LAMBDA_RUNTIME_API", ""), where)
    # Whole numbers may arrive as 100.0 (JSON written by other tools): the dataclass wants ints.
    pagination: dict[str, Any] = {
        k: int(v) if isinstance(v, float) else v
        for k, v in (data.get("pagination") or {}).items()
        if v is not None
    }
    return ApiConfig(
        endpoint=data["endpoint"],
        method=str(data.get("method", "GET")).upper(),
        query_params=string_map(data.get("query_params"), "API_CONFIG.query_params"),
        headers=string_map(data.get("headers"), "API_CONFIG.headers"),
        body=data.get("body"),
        auth=AuthConfig(**auth),
        timeout_seconds=float(data.get("timeout_seconds", 30)),
        max_retries=int(data.get("max_retries", 3)),
        records_path=data.get("records_path", ""),
        max_parse_bytes=int(data.get("max_parse_bytes", DEFAULT_MAX_PARSE_BYTES)),
        pagination=PaginationConfig(**pagination),
        content_types=tuple(t.strip().lower() for t in data.get("content_types", DEFAULT_CONTENT_TYPES)),
        incremental=IncrementalConfig.from_dict(data["incremental"]) if data.get("incremental") else None,
        non_secret_names=tuple(data.get("non_secret_names") or ()),
    )


def load_config(env: Mapping[str, str] | None = None) -> SourceConfig:
    """Read and validate the whole configuration of a pull source from the environment."""
    env = os.environ if env is None else env
    lake = _lake_settings(env)
    if not env.get("API_CONFIG", "").strip() and env.get("PUSH_CONFIG", "").strip():
        raise ConfigError(
            "API_CONFIG",
            "is absent because this function serves a push source (PUSH_CONFIG is set): it writes the "
            "events its queue hands it and has no run to start; send events to the source's push_url",
        )
    api = parse_api_config(_require(env, "API_CONFIG"), env)
    max_age_raw = env.get("SECRET_CACHE_SECONDS", "300").strip()
    if not max_age_raw.isdigit():
        raise ConfigError("SECRET_CACHE_SECONDS", "must be a whole number of seconds")
    # A source without auth needs no secret; every other one must name its secret.
    secret_arn = _require(env, "SECRET_ARN") if api.auth.type != "none" else env.get("SECRET_ARN", "")
    return SourceConfig(**lake, secret_arn=secret_arn, api=api, secret_max_age_seconds=int(max_age_raw))


def load_push_config(env: Mapping[str, str] | None = None) -> PushSourceConfig:
    """Read and validate a push source's configuration from the environment (PUSH_CONFIG, no API_CONFIG)."""
    from .push.config import parse_push_config

    env = os.environ if env is None else env
    lake = _lake_settings(env)
    push = parse_push_config(_require(env, "PUSH_CONFIG"))
    records = lake["records"]
    if not records.enabled:
        raise ConfigError(
            "RECORDS_CONFIG.enabled",
            "must be true for a push source: its events land in the records zone only",
        )
    for name in records.columns:
        if name in PUSH_COLUMNS or name in LINEAGE_COLUMNS:
            raise ConfigError(f"RECORDS_CONFIG.columns.{name}", "is a column every push source's row has")
    return PushSourceConfig(**lake, push=push)


class _LakeSettings(TypedDict):
    source_id: str
    raw_bucket: str
    raw_prefix: str
    kms_key_arn: str | None
    raw_bucket_owner: str | None
    records: RecordsConfig


def _lake_settings(env: Mapping[str, str]) -> _LakeSettings:
    """What every source's function reads the same way: its id, and where and how it writes."""
    source_id = _require(env, "SOURCE_ID")
    if not SOURCE_ID_PATTERN.match(source_id):
        raise ConfigError("SOURCE_ID", SOURCE_ID_RULE)
    raw_prefix = env.get("RAW_PREFIX", "").strip().strip("/") or source_id
    if not PREFIX_PATTERN.match(raw_prefix):
        raise ConfigError("RAW_PREFIX", "must be a relative S3 key prefix of safe characters")
    kms_key_arn = env.get("KMS_KEY_ARN", "").strip() or None
    if kms_key_arn is not None and not kms_key_arn.startswith("arn:"):
        raise ConfigError("KMS_KEY_ARN", "must be a KMS key ARN")
    owner = env.get("RAW_BUCKET_OWNER", "").strip() or None
    if owner is not None and not ACCOUNT_ID_PATTERN.match(owner):
        raise ConfigError("RAW_BUCKET_OWNER", "must be the 12-digit AWS account id that owns RAW_BUCKET")
    try:
        records = RecordsConfig.from_json(env.get("RECORDS_CONFIG"))
    except (ValueError, TypeError, AttributeError) as exc:
        raise ConfigError("RECORDS_CONFIG", f"is not the module's records configuration ({exc})") from None
    if records.on_schema_change not in ("allow", "alarm", "quarantine"):
        raise ConfigError("RECORDS_CONFIG.on_schema_change", "must be allow, alarm or quarantine")
    return _LakeSettings(
        source_id=source_id,
        raw_bucket=_require(env, "RAW_BUCKET"),
        raw_prefix=raw_prefix,
        kms_key_arn=kms_key_arn,
        raw_bucket_owner=owner,
        records=records,
    )
