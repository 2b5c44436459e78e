"""The configuration contract: valid inputs parse, every invalid one names its field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lake_ingest.config import ConfigError, load_config, parse_api_config

BASE_ENV = {
    "SOURCE_ID": "orders-api",
    "RAW_BUCKET": "lake-raw",
    "SECRET_ARN": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:x",
    "API_CONFIG": json.dumps({"endpoint": "https://api.example.com/v1/orders"}),
}


def test_defaults():
    config = load_config(BASE_ENV)
    assert config.raw_prefix == "orders-api"
    assert config.kms_key_arn is None
    assert config.api.method == "GET"
    assert config.api.auth.type == "none"
    assert config.api.timeout_seconds == 30 and config.api.max_retries == 3
    assert config.secret_max_age_seconds == 300


def test_full_config():
    api = {
        "endpoint": "https://api.example.com/v1/orders",
        "method": "post",
        "body": {"q": 1},
        "query_params": {"limit": 100},
        "headers": {"Accept": "application/json"},
        "auth": {"type": "basic", "username_field": "user", "password_field": "pass"},
        "timeout_seconds": 5,
        "max_retries": 0,
        "records_path": "data.items",
    }
    env = {
        **BASE_ENV,
        "API_CONFIG": json.dumps(api),
        "RAW_PREFIX": "/vendor/orders/",
        "KMS_KEY_ARN": "arn:aws:kms:x",
    }
    config = load_config(env)
    assert config.raw_prefix == "vendor/orders"
    assert config.api.method == "POST"
    assert config.api.query_params == {"limit": "100"}
    assert config.api.auth.secret_fields == ("user", "pass")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"SOURCE_ID": ""}, "SOURCE_ID"),
        ({"SOURCE_ID": "Orders_API"}, "SOURCE_ID"),
        ({"RAW_BUCKET": " "}, "RAW_BUCKET"),
        ({"RAW_PREFIX": "a//b"}, "RAW_PREFIX"),
        ({"KMS_KEY_ARN": "alias/foo"}, "KMS_KEY_ARN"),
        ({"SECRET_CACHE_SECONDS": "-1"}, "SECRET_CACHE_SECONDS"),
        ({"API_CONFIG": "{not json"}, "API_CONFIG"),
        ({"API_CONFIG": "[]"}, "API_CONFIG"),
    ],
)
def test_bad_environment(change, field):
    with pytest.raises(ConfigError) as error:
        load_config({**BASE_ENV, **change})
    assert error.value.field == field
    assert f"invalid configuration: {field}:" in str(error.value)


def test_missing_variable_is_named():
    env = dict(BASE_ENV)
    del env["API_CONFIG"]
    with pytest.raises(ConfigError, match="API_CONFIG: environment variable is missing"):
        load_config(env)


def test_secret_arn_is_required_only_with_auth():
    env = dict(BASE_ENV)
    del env["SECRET_ARN"]
    assert load_config(env).secret_arn == ""
    env["API_CONFIG"] = json.dumps({"endpoint": "https://a.example", "auth": {"type": "bearer"}})
    with pytest.raises(ConfigError, match="SECRET_ARN"):
        load_config(env)


@pytest.mark.parametrize(
    ("api", "field"),
    [
        ({}, "API_CONFIG.endpoint"),
        ({"endpoint": "ftp://x.example/a"}, "API_CONFIG.endpoint"),
        ({"endpoint": "http://api.example.com/a"}, "API_CONFIG.endpoint"),
        ({"endpoint": "https://user:pw@api.example.com/a"}, "API_CONFIG.endpoint"),
        ({"endpoint": "https://a.example", "method": "DELETE"}, "API_CONFIG.method"),
        ({"endpoint": "https://a.example", "body": {"x": 1}}, "API_CONFIG.body"),
        (
            {"endpoint": "https://a.example", "headers": {"Authorization": "Bearer x"}},
            "API_CONFIG.headers.Authorization",
        ),
        ({"endpoint": "https://a.example", "headers": ["x"]}, "API_CONFIG.headers"),
        ({"endpoint": "https://a.example", "query_params": {"a": [1]}}, "API_CONFIG.query_params.a"),
        ({"endpoint": "https://a.example", "auth": {"type": "oauth"}}, "API_CONFIG.auth.type"),
        (
            {"endpoint": "https://a.example", "auth": {"type": "bearer", "header_name": "X"}},
            "API_CONFIG.auth.header_name",
        ),
        (
            {"endpoint": "https://a.example", "auth": {"type": "query", "param_name": ""}},
            "API_CONFIG.auth.param_name",
        ),
        ({"endpoint": "https://a.example", "timeout_seconds": 0}, "API_CONFIG.timeout_seconds"),
        ({"endpoint": "https://a.example", "timeout_seconds": "5"}, "API_CONFIG.timeout_seconds"),
        ({"endpoint": "https://a.example", "max_retries": 11}, "API_CONFIG.max_retries"),
        ({"endpoint": "https://a.example", "records_path": ".data"}, "API_CONFIG.records_path"),
        ({"endpoint": "https://a.example", "pagnation": {}}, "API_CONFIG.pagnation"),
        ({"endpoint": "https://a.example", "pagination": "cursor"}, "API_CONFIG.pagination"),
        ({"endpoint": "https://a.example", "pagination": {"type": "token"}}, "API_CONFIG.pagination.type"),
        (
            {"endpoint": "https://a.example", "pagination": {"type": "cursor"}},
            "API_CONFIG.pagination.cursor_path",
        ),
        (
            {"endpoint": "https://a.example", "pagination": {"type": "next_url", "next_url_path": "a..b"}},
            "API_CONFIG.pagination.next_url_path",
        ),
        (
            {"endpoint": "https://a.example", "pagination": {"type": "link_header", "cursor_param": "c"}},
            "API_CONFIG.pagination.cursor_param",
        ),
        ({"endpoint": "https://a.example", "pagination": {"type": "offset"}}, "API_CONFIG.pagination.limit"),
        (
            {"endpoint": "https://a.example", "pagination": {"type": "offset", "limit": 0}},
            "API_CONFIG.pagination.limit",
        ),
        (
            {"endpoint": "https://a.example", "pagination": {"type": "page_number", "max_pages": 1.5}},
            "API_CONFIG.pagination.max_pages",
        ),
        (
            {"endpoint": "https://a.example", "pagination": {"type": "page_number", "page_size": 50}},
            "API_CONFIG.pagination.page_size_param",
        ),
        ({"endpoint": "https://a.example", "content_types": []}, "API_CONFIG.content_types"),
        ({"endpoint": "https://a.example", "content_types": ["json"]}, "API_CONFIG.content_types[0]"),
    ],
)
def test_bad_api_config(api, field):
    with pytest.raises(ConfigError) as error:
        parse_api_config(json.dumps(api))
    assert error.value.field == field


def env_with(endpoint: str, **variables: str) -> dict[str, str]:
    return {**BASE_ENV, "API_CONFIG": json.dumps({"endpoint": endpoint}), **variables}


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::1]", "127.0.0.53"])
def test_plain_http_to_loopback_needs_allow_http_loopback(host):
    endpoint = f"http://{host}:8080/x"
    assert load_config(env_with(endpoint, ALLOW_HTTP_LOOPBACK="true")).api.endpoint == endpoint
    for value in (None, "false", "1", "TRUE", "yes", " true"):
        env = env_with(endpoint) if value is None else env_with(endpoint, ALLOW_HTTP_LOOPBACK=value)
        with pytest.raises(ConfigError) as error:
            load_config(env)
        assert error.value.field == "API_CONFIG.endpoint"
        assert "https" in str(error.value) and "ALLOW_HTTP_LOOPBACK=true" in str(error.value)
        assert "local testing only" in str(error.value)


def test_plain_http_to_another_host_is_refused_even_with_allow_http_loopback():
    with pytest.raises(ConfigError, match="https") as error:
        load_config(env_with("http://api.example.com/x", ALLOW_HTTP_LOOPBACK="true"))
    assert error.value.field == "API_CONFIG.endpoint"


@pytest.mark.parametrize(
    "endpoint",
    [
        "http://127.0.0.1:9001/2018-06-01/runtime/invocation/next",
        "https://127.0.0.1:9001/x",
        "http://localhost:9001/x",
    ],
)
def test_the_lambda_runtime_api_is_never_an_endpoint(endpoint):
    env = env_with(endpoint, ALLOW_HTTP_LOOPBACK="true", AWS_LAMBDA_RUNTIME_API="127.0.0.1:9001")
    with pytest.raises(ConfigError, match="AWS_LAMBDA_RUNTIME_API") as error:
        load_config(env)
    assert error.value.field == "API_CONFIG.endpoint"
    # Another port on loopback is still an ordinary (opted-in) endpoint.
    other = endpoint.replace(":9001", ":9002")
    assert load_config({**env, "API_CONFIG": json.dumps({"endpoint": other})}).api.endpoint == other


CREDENTIAL_LOOKING = [
    "X-Api-Key",
    "Ocp-Apim-Subscription-Key",
    "subscription-key",
    "X-Auth-Key",
    "X-Fastly-Key",
    "X-Auth-Token",
    "X-Session-Id",
    "X-JWT-Assertion",
    "x-amz-signature",
    "api_key",
    "apiKey",
    "token",
    "access_token",
    "X-Amz-Security-Token",
    "client_secret",
    "Password",
    "pwd",
    "X-Auth",
    "auth",
    "key",
    "sig",
    "X-Signature",
    "session.id",
    "PRIVATE-KEY",
    "bearer",
    "Cookie",
    "Authorization",
    "Proxy-Authorization",
    "authorisation",
    "credentials",
]
HARMLESS = [
    "limit",
    "X-Request-Id",
    "page_size",
    "Accept",
    "keyword",
    "author",
    "design",
]


@pytest.mark.parametrize("name", CREDENTIAL_LOOKING)
@pytest.mark.parametrize("where", ["headers", "query_params"])
def test_credential_looking_names_are_refused(where, name):
    with pytest.raises(ConfigError) as error:
        parse_api_config(json.dumps({"endpoint": "https://h.example/x", where: {name: "value"}}))
    assert error.value.field == f"API_CONFIG.{where}.{name}"
    assert "use auth and keep the value in the secret" in str(error.value)


@pytest.mark.parametrize(
    ("endpoint", "named"),
    [
        ("https://h.example/x?api_key=1", "api_key"),
        ("https://h.example/x?limit=5&Access-Token=abc", "Access-Token"),
        ("https://user:pass@h.example/x", "credentials"),
    ],
)
def test_credentials_in_the_endpoint_are_refused(endpoint, named):
    with pytest.raises(ConfigError) as error:
        parse_api_config(json.dumps({"endpoint": endpoint}))
    assert error.value.field == "API_CONFIG.endpoint"
    assert named in str(error.value) and "use auth and keep the value in the secret" in str(error.value)
    assert "pass" not in str(error.value).replace("password", "")


@pytest.mark.parametrize("name", ["Idempotency-Key", "sort_key", "page_token"])
def test_a_name_declared_non_secret_may_carry_a_value_the_rule_would_refuse(name):
    config = {
        "endpoint": f"https://h.example/x?{name}=1",
        "headers": {name: "1"},
        "query_params": {name: "1"},
    }
    with pytest.raises(ConfigError, match=r"list it in non_secret_names"):
        parse_api_config(json.dumps(config))
    declared = {**config, "non_secret_names": [name.upper().replace("-", "_")]}  # case and - _ . ignored
    assert parse_api_config(json.dumps(declared)).non_secret_names == (name.upper().replace("-", "_"),)


def test_the_credential_name_rule_is_the_documented_one():
    """Terraform and the JSON Schema copy this text: it changes only together with the handler's contract
    (docs/handler-contract.md)."""
    from lake_ingest.config import CREDENTIAL_NAME_PATTERN

    contract = (Path(__file__).resolve().parent.parent / "docs" / "handler-contract.md").read_text()
    assert f"`{CREDENTIAL_NAME_PATTERN}`" in contract


def test_harmless_names_pass():
    names = {name: "1" for name in HARMLESS}
    query = "&".join(f"{name}=1" for name in HARMLESS)
    api = parse_api_config(
        json.dumps({"endpoint": f"https://h.example/x?{query}", "headers": names, "query_params": names})
    )
    assert set(api.headers) == set(api.query_params) == set(HARMLESS)


def test_raw_bucket_owner_is_a_twelve_digit_account_id():
    assert load_config(BASE_ENV).raw_bucket_owner is None
    assert load_config({**BASE_ENV, "RAW_BUCKET_OWNER": " 123456789012 "}).raw_bucket_owner == "123456789012"
    for bad in ("12345678901", "1234567890123", "12345678901a", "arn:aws:iam::123456789012:root"):
        with pytest.raises(ConfigError) as error:
            load_config({**BASE_ENV, "RAW_BUCKET_OWNER": bad})
        assert error.value.field == "RAW_BUCKET_OWNER"


def test_pagination_and_content_types():
    api = parse_api_config(
        json.dumps(
            {
                "endpoint": "https://a.example",
                "pagination": {"type": "offset", "limit": 50.0, "total_records_path": "meta.total"},
                "content_types": ["text/CSV", "application/*+json"],
            }
        )
    )
    assert api.pagination.type == "offset" and api.pagination.limit == 50
    assert api.pagination.body_paths == ("meta.total",)
    assert api.pagination.max_pages == 100  # bounded by default
    assert api.accepts("text/csv; charset=utf-8") and api.accepts("application/vnd.api+json")
    assert not api.accepts("application/json") and not api.accepts("text/html")
    assert api.accepts("")  # no Content-Type: the body decides
    default = parse_api_config(json.dumps({"endpoint": "https://a.example"}))
    assert default.pagination.type == "none"
    assert default.accepts("application/json") and not default.accepts("text/html")


SOURCE_ID_RULE = (
    "source_id must be 1-32 characters of lowercase letters, digits and hyphens, "
    'starting and ending with a letter or digit (e.g. "stripe-charges")'
)


@pytest.mark.parametrize("source_id", ["a", "a" * 32, "a" + "-" * 30 + "9"])
def test_source_id_of_up_to_32_characters_is_accepted(source_id):
    assert load_config({**BASE_ENV, "SOURCE_ID": source_id}).source_id == source_id


@pytest.mark.parametrize("source_id", ["a" * 33, "-orders", "orders-", "Orders"])
def test_source_id_has_the_modules_limits_and_message(source_id):
    """The module (variables.tf) allows 1-32 characters; the handler says the same, in the same words."""
    with pytest.raises(ConfigError) as error:
        load_config({**BASE_ENV, "SOURCE_ID": source_id})
    assert str(error.value) == f"invalid configuration: SOURCE_ID: {SOURCE_ID_RULE}"
