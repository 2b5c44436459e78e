"""OAuth2 auth against a real token endpoint on loopback (scripts/oauth2_server.py) and the local AWS.

The API behind it accepts only access tokens the endpoint issued and has not expired, so a run that
kept an expired token, or sent the wrong one, fails here as it would against a real provider.
"""

from __future__ import annotations

import base64
import gzip
import json
import os
import subprocess
import sys
import threading
import time
import tracemalloc
from contextlib import nullcontext
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
from botocore.exceptions import ClientError
from scripts.oauth2_server import TOKEN_PATH, TokenEndpoint
from scripts.upstream import Reply, ScriptedUpstream, SeenRequest

from lake_ingest import auth as auth_module
from lake_ingest import handler, oauth2
from lake_ingest.auth import Authenticator, TokenNotSaved
from lake_ingest.config import ConfigError, load_config
from lake_ingest.http_client import Deadline, DeadlineExceeded, UpstreamHTTPError
from lake_ingest.oauth2 import TokenError
from lake_ingest.refresh_exchange import MIN_REQUEST_SECONDS, SAVE_RESERVE_SECONDS
from lake_ingest.refresh_tokens import RefreshLease, RotationConflict, SecretStore, lock_key
from lake_ingest.state import kms_encryption
from lake_ingest.token_state import TokenStateStore, tokens_key
from tests.conftest import LambdaContext

ROOT = Path(__file__).resolve().parent.parent
CLIENT_ID, CLIENT_SECRET = "lake-client", "cs-Very/Secret+Value=="


class OAuthApi:
    """A token endpoint and a paged API (`pages` pages of 2 records) that wants its access tokens."""

    def __init__(
        self, endpoint: TokenEndpoint, pages: int = 3, page_delay: float = 0.0, token_delay: float = 0.0
    ) -> None:
        self.endpoint = endpoint
        self.pages = pages
        self.page_delay = page_delay
        self.token_delay = token_delay
        self.refused = 0
        self.refuse_next: list[Reply] = []  # answered (in order) to the next API requests, before any page
        self.server = ScriptedUpstream(responder=self.respond).start()

    @property
    def url(self) -> str:
        return self.server.url

    def respond(self, seen: SeenRequest) -> Reply:
        if seen.path == TOKEN_PATH:
            reply = self.endpoint.respond(seen)
            reply.delay = self.token_delay
            return reply
        if self.refuse_next:
            return self.refuse_next.pop(0)
        if not self.endpoint.accepts(seen.headers.get("authorization")):
            self.refused += 1
            return Reply(401, b'{"error": "invalid_token"}')
        page = int(seen.query.get("page", ["1"])[0])
        body = {"data": [{"id": page * 10 + i} for i in range(2)], "pages": self.pages}
        return Reply(200, json.dumps(body).encode(), delay=self.page_delay)

    def api_requests(self) -> list[SeenRequest]:
        return [r for r in self.server.requests if r.path != TOKEN_PATH]


@pytest.fixture(autouse=True)
def fresh_token_cache():
    """Each test starts as a cold process would: no access token cached."""
    oauth2.TOKENS.clear()
    yield
    oauth2.TOKENS.clear()


@pytest.fixture
def oauth_api():
    apis: list[OAuthApi] = []

    def make(
        pages: int = 3, page_delay: float = 0.0, token_delay: float = 0.0, **endpoint_options
    ) -> OAuthApi:
        api = OAuthApi(
            TokenEndpoint(CLIENT_ID, CLIENT_SECRET, **endpoint_options), pages, page_delay, token_delay
        )
        apis.append(api)
        return api

    yield make
    for api in apis:
        api.server.stop()


def config_for(api: OAuthApi, auth: dict, **overrides) -> dict:
    config = {
        "endpoint": f"{api.url}/v1/tickets",
        "auth": {"token_url": f"{api.url}{TOKEN_PATH}", **auth},
        "records_path": "data",
        "pagination": {"type": "page_number", "total_pages_path": "pages"},
        "timeout_seconds": 5,
        "max_retries": 2,
    }
    config.update(overrides)
    return config


def client_credentials(**options) -> dict:
    return {"type": "oauth2_client_credentials", **options}


def refresh_token_auth(**options) -> dict:
    return {"type": "oauth2_refresh_token", **options}


def invoke(run_id: str) -> dict:
    return handler.lambda_handler({"run_id": run_id}, LambdaContext())


def everything_written(source) -> str:
    """Every object in the lake (data, manifests, the refresh lease), as text; not the token state,
    which keeps the shared access token on purpose (tests check what it holds on their own)."""
    texts = []
    for key in source.keys():
        if key.endswith("/_state/oauth2-tokens.json"):
            continue
        body = source.s3.get_object(Bucket=source.bucket, Key=key)["Body"].read()
        if key.endswith(".gz"):
            body = gzip.decompress(body)
        texts.append(key + "\n" + body.decode("utf-8", "replace"))
    return "\n".join(texts)


def current_secret(source) -> dict:
    value = boto3.client("secretsmanager").get_secret_value(
        SecretId=source.secret_arn, VersionStage="AWSCURRENT"
    )
    return json.loads(value["SecretString"])


# -- client credentials ------------------------------------------------------------------------


def test_client_credentials_sends_the_grant_to_the_token_url_and_the_token_to_the_api(
    make_source, oauth_api, log_stream, capfd
):
    api = oauth_api()
    auth = client_credentials(
        scope="tickets:read tickets:export",
        audience="https://api.example",
        token_params={"resource": "tickets"},
    )
    source = make_source(config_for(api, auth), {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET})
    result = invoke("cc-1")
    assert result["status"] == "SUCCESS" and result["records_ingested"] == 6
    [grant] = api.endpoint.seen
    assert grant.client_auth == "basic"
    assert grant.form == {
        "grant_type": "client_credentials",
        "scope": "tickets:read tickets:export",
        "audience": "https://api.example",
        "resource": "tickets",
    }
    [token] = api.endpoint.issued_access_tokens()
    assert [r.headers["authorization"] for r in api.api_requests()] == [f"Bearer {token}"] * 3
    token_request = next(r for r in api.server.requests if r.path == TOKEN_PATH)
    assert token_request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert "authorization" not in token_request.headers or token_request.headers["authorization"].startswith(
        "Basic "
    )
    # Nothing the run wrote or said holds the client secret or the access token.
    said = (
        log_stream.getvalue() + "".join(capfd.readouterr()) + json.dumps(result) + everything_written(source)
    )
    for credential in (
        CLIENT_SECRET,
        token,
        base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode(),
    ):
        assert credential not in said
    assert "access token issued" in log_stream.getvalue()


def test_basic_client_auth_form_encodes_id_and_secret_as_rfc_6749_says(make_source, oauth_api):
    api = oauth_api()
    make_source(
        config_for(api, client_credentials()), {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    )
    invoke("basic")
    token_request = next(r for r in api.server.requests if r.path == TOKEN_PATH)
    sent = base64.b64decode(token_request.headers["authorization"][6:]).decode()
    assert sent == "lake-client:cs-Very%2FSecret%2BValue%3D%3D"  # '/', '+' and '=' form-encoded


@pytest.mark.parametrize(
    ("client_auth", "fields"), [("body", {"client_id", "client_secret"}), ("none", {"client_id"})]
)
def test_client_auth_in_the_form_body(make_source, oauth_api, client_auth, fields):
    api = oauth_api()
    secret = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    if client_auth == "none":
        api.endpoint.client_secret = None  # a public client
        secret = {"client_id": CLIENT_ID}
    make_source(config_for(api, client_credentials(client_auth=client_auth)), secret)
    assert invoke(f"auth-{client_auth}")["status"] == "SUCCESS"
    [grant] = api.endpoint.seen
    assert grant.client_auth == client_auth
    assert fields <= set(grant.form) and "authorization" not in api.server.requests[0].headers


def test_the_access_token_is_reused_by_warm_invocations_until_shortly_before_it_expires(
    make_source, oauth_api
):
    api = oauth_api()
    make_source(
        config_for(api, client_credentials()), {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    )
    invoke("warm-1")
    invoke("warm-2")
    assert len(api.endpoint.seen) == 1  # one token for both runs (expires_in 3600)
    assert len({r.headers["authorization"] for r in api.api_requests()}) == 1


def test_a_token_that_expires_mid_run_is_renewed_before_it_is_refused(make_source, oauth_api):
    # Tokens live 3 s (used for 2.7 s); each page takes 0.5 s; the API refuses expired tokens.
    api = oauth_api(pages=10, page_delay=0.5, expires_in=3)
    make_source(
        config_for(api, client_credentials()), {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    )
    result = invoke("long")
    assert result["status"] == "SUCCESS" and result["records_ingested"] == 20
    assert len(api.endpoint.seen) >= 2  # renewed mid-run...
    assert api.refused == 0  # ...before the API had to refuse an expired one
    assert len({r.headers["authorization"] for r in api.api_requests()}) >= 2


def test_a_401_gets_one_new_token_and_the_page_again(make_source, oauth_api, log_stream):
    api = oauth_api()
    make_source(
        config_for(api, client_credentials()), {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    )
    invoke("first")
    api.endpoint.expire_access_tokens()  # revoked early: the cached token is now refused
    result = invoke("second")
    assert result["status"] == "SUCCESS" and result["records_ingested"] == 6
    assert api.refused == 1 and len(api.endpoint.seen) == 2
    assert "renewing them once" in log_stream.getvalue()


def test_a_401_with_a_fresh_token_fails_the_run_and_writes_nothing(make_source, oauth_api):
    api = oauth_api()
    source = make_source(
        config_for(api, client_credentials()), {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    )
    api.endpoint.accepts = lambda authorization: False  # type: ignore[method-assign] - the API refuses every token
    with pytest.raises(
        UpstreamHTTPError,
        match=r"HTTP 401.*again after a new access token from http://127\.0\.0\.1:\d+ and retrying once",
    ) as error:
        invoke("refused")
    assert error.value.status == 401
    assert len(api.endpoint.seen) == 2
    assert source.keys() == []


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (
            Reply(
                401,
                json.dumps(
                    {"error": "invalid_client", "error_description": f"bad secret {CLIENT_SECRET}"}
                ).encode(),
            ),
            r"refused the client_credentials grant: HTTP 401 invalid_client \(bad secret \*\*\*\)",
        ),
        (
            Reply(400, json.dumps({"error": "invalid_scope"}).encode()),
            r"refused the client_credentials grant: HTTP 400 invalid_scope$",
        ),
        (
            Reply(403, b"<html>forbidden</html>", {"Content-Type": "text/html"}),
            r"refused the client_credentials grant: HTTP 403$",
        ),
        (
            Reply(200, b"<html>login</html>", {"Content-Type": "text/html"}),
            r"answered 200 without a JSON object",
        ),
        (
            Reply(200, b'{"token_type": "Bearer"}'),
            r"answered 200 without an access_token \(fields: token_type\)",
        ),
        (
            Reply(200, b'{"access_token": "at-mac-123456", "token_type": "mac"}'),
            r"token of type 'mac'; only Bearer",
        ),
        (
            Reply(200, b'{"access_token": "at-neg-123456", "expires_in": 0}'),
            r"expires_in 0: the token is already expired",
        ),
        (
            Reply(302, b"", {"Location": "https://evil.example/steal"}),
            r"answered the client_credentials grant with a redirect \(HTTP 302 to "
            r"https://evil\.example/steal\), which is not followed.*Set auth\.token_url to the final URL$",
        ),
        (
            Reply(307, b"", {"Location": "https://login.example.com/tenant/oauth2/v2.0/token"}),
            r"redirect \(HTTP 307 to https://login\.example\.com/tenant/oauth2/v2\.0/token\)",
        ),
    ],
)
def test_a_token_endpoint_error_fails_clearly_and_writes_nothing(
    make_source, oauth_api, log_stream, reply, message
):
    api = oauth_api()
    source = make_source(
        config_for(api, client_credentials()), {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    )
    api.endpoint.failures.append(reply)
    with pytest.raises(TokenError, match=message) as error:
        invoke("token-error")
    assert str(error.value).startswith(f"the token endpoint {api.url}")
    assert CLIENT_SECRET not in str(error.value) + log_stream.getvalue()
    assert api.api_requests() == []  # the API was never called without a token
    assert source.keys() == []
    assert len(api.server.requests) == 1  # not retried, and a redirect is not followed


def test_token_endpoint_5xx_is_retried_then_fails_with_the_attempts(make_source, oauth_api):
    api = oauth_api()
    source = make_source(
        config_for(api, client_credentials()), {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    )
    api.endpoint.failures.extend([Reply(503, b"busy")] * 5)
    with pytest.raises(TokenError, match=r"failed: HTTP 503 after 3 attempt\(s\)"):
        invoke("busy")
    assert len(api.endpoint.seen) == 3 and source.keys() == []
    api.endpoint.failures.clear()
    api.endpoint.failures.append(Reply(503, b"busy"))
    assert invoke("recovers")["status"] == "SUCCESS"


def test_a_missing_client_secret_field_is_named(make_source, oauth_api):
    api = oauth_api()
    make_source(config_for(api, client_credentials(client_secret_field="secret")), {"client_id": CLIENT_ID})
    with pytest.raises(Exception, match=r"field secret is missing \(the secret has: client_id\)"):
        invoke("no-secret")
    assert api.server.requests == []


# -- refresh tokens ----------------------------------------------------------------------------


def refresh_source(make_source, api: OAuthApi, **auth_options):
    first = api.endpoint.issue_refresh_token()
    secret = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "refresh_token": first}
    return make_source(config_for(api, refresh_token_auth(**auth_options)), secret), first


def token_state(source) -> dict:
    """The source's token state object (the shared access token and the write-ahead copy)."""
    config = load_config()
    body = source.s3.get_object(Bucket=source.bucket, Key=tokens_key(config.raw_prefix))["Body"].read()
    return json.loads(body)


def secret_versions(source) -> int:
    return len(boto3.client("secretsmanager").list_secret_version_ids(SecretId=source.secret_arn)["Versions"])


def test_a_rotated_refresh_token_is_saved_and_used_once_the_access_token_expires(
    make_source, oauth_api, log_stream, capfd
):
    api = oauth_api(reuse_revokes_family=True)
    source, first = refresh_source(make_source, api)
    results = [invoke("r-1")]
    oauth2.TOKENS.clear()  # a cold start: the access token is still good, so no exchange
    results.append(invoke("r-2"))
    assert len(api.endpoint.seen) == 1
    assert "access token taken from the source's token state" in log_stream.getvalue()
    api.endpoint.expire_access_tokens()  # the provider ends it: the next run is refused, then exchanges
    oauth2.TOKENS.clear()
    results.append(invoke("r-3"))
    assert [r["status"] for r in results] == ["SUCCESS"] * 3
    presented = [g.form["refresh_token"] for g in api.endpoint.seen]
    assert presented[0] == first and presented[1] != first  # the third run used the rotated one
    stored = current_secret(source)
    assert api.endpoint.live_refresh_tokens() == {stored["refresh_token"]}  # the secret holds the live one
    assert {k: v for k, v in stored.items() if k != "refresh_token"} == {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
    }
    assert secret_versions(source) == 3  # the first and one per rotation
    state = token_state(source)
    assert state["pending"] is None and state["access_token"] == api.endpoint.issued_access_tokens()[-1]
    config = load_config()
    head = source.s3.head_object(Bucket=source.bucket, Key=tokens_key(config.raw_prefix))
    assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == source.key_arn
    said = (
        log_stream.getvalue() + "".join(capfd.readouterr()) + json.dumps(results) + everything_written(source)
    )
    for credential in [
        CLIENT_SECRET,
        first,
        stored["refresh_token"],
        *presented,
        *api.endpoint.issued_access_tokens(),
    ]:
        assert credential not in said
    assert "rotated refresh token saved" in log_stream.getvalue()


def test_a_provider_that_does_not_rotate_leaves_the_secret_alone(make_source, oauth_api):
    api = oauth_api(rotate=False)
    source, first = refresh_source(make_source, api)
    invoke("same-1")
    assert secret_versions(source) == 1 and current_secret(source)["refresh_token"] == first


def test_a_revoked_refresh_token_fails_clearly_and_changes_nothing(make_source, oauth_api):
    api = oauth_api()
    source, first = refresh_source(make_source, api)
    api.endpoint._refresh.clear()  # revoked at the provider (a user removed the app's access)
    with pytest.raises(
        TokenError,
        match=r"invalid_grant.*field refresh_token of secret .* is no longer valid.*authorize again",
    ) as error:
        invoke("revoked")
    assert first not in str(error.value)
    assert current_secret(source)["refresh_token"] == first
    assert [k for k in source.keys() if "/_state/" not in k] == []  # no data, no manifest


def _denied(*args, **kwargs):
    raise ClientError({"Error": {"Code": "LimitExceededException", "Message": "too many versions"}}, "Put")


def test_a_rotated_token_the_secret_refuses_is_kept_ahead_and_saved_by_the_next_run(
    make_source, oauth_api, monkeypatch, log_stream
):
    """Secrets Manager refuses the write (its version quota): the provider has already rotated, so the
    new token must survive in the write-ahead copy until a later run can save it."""
    api = oauth_api(reuse_revokes_family=True)
    source, first = refresh_source(make_source, api)
    real_write = SecretStore.write_after
    monkeypatch.setattr(SecretStore, "write_after", _denied)
    with pytest.raises(
        TokenNotSaved,
        match=r"rotated the refresh token, but writing it to secret .* failed \(ClientError.*LimitExceeded"
        r".*kept in s3://.*/_state/oauth2-tokens\.json \(write-ahead\) and the next run saves it",
    ):
        invoke("not-saved")
    assert [k for k in source.keys() if "/_state/" not in k] == []  # no data written
    [live] = api.endpoint.live_refresh_tokens()
    assert current_secret(source)["refresh_token"] == first  # the secret still holds the spent one...
    assert token_state(source)["pending"]["refresh_token"] == live  # ...the live one is kept ahead
    # Secrets Manager takes writes again: the next run (cold) saves the pending token, then goes on.
    monkeypatch.setattr(SecretStore, "write_after", real_write)
    oauth2.TOKENS.clear()
    assert invoke("recovers")["status"] == "SUCCESS"
    assert len(api.endpoint.seen) == 1  # no second exchange: the shared access token was still good
    assert current_secret(source)["refresh_token"] == live == next(iter(api.endpoint.live_refresh_tokens()))
    assert token_state(source)["pending"] is None
    assert "saved a rotated refresh token that an earlier run could not write" in log_stream.getvalue()
    api.endpoint.expire_access_tokens()
    oauth2.TOKENS.clear()
    assert invoke("later")["status"] == "SUCCESS"  # the recovered token exchanges: the chain goes on
    assert api.endpoint.live_refresh_tokens() == {current_secret(source)["refresh_token"]}


def test_a_token_lost_only_when_both_the_write_ahead_and_the_secret_fail(make_source, oauth_api, monkeypatch):
    api = oauth_api()
    refresh_source(make_source, api)
    monkeypatch.setattr(SecretStore, "write_after", _denied)
    monkeypatch.setattr(TokenStateStore, "write", _denied)
    with pytest.raises(TokenNotSaved, match=r"failed .*; the token in the secret is probably revoked now"):
        invoke("lost")


def test_no_exchange_starts_without_time_to_save_its_result(make_source, oauth_api):
    api = oauth_api()
    refresh_source(make_source, api)
    context = LambdaContext(timeout_seconds=3 + SAVE_RESERVE_SECONDS + MIN_REQUEST_SECONDS - 1)
    with pytest.raises(DeadlineExceeded, match=r"no time left to exchange the refresh token and save"):
        handler.lambda_handler({"run_id": "short"}, context)
    assert api.endpoint.seen == []  # the refresh token was never spent


def test_racing_cold_starts_exchange_once_and_share_the_access_token(make_source, oauth_api):
    """Four runs in four processes (four cold Lambda containers) start at once. The provider revokes
    the whole token family on any reuse; one exchange serves them all, and exchanges follow the access
    token's lifetime, not the number of processes."""
    api = oauth_api(reuse_revokes_family=True, pages=2, token_delay=0.3)
    source, _first = refresh_source(make_source, api)
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'lambda_src'}{os.pathsep}{ROOT}"}
    program = (
        "import json, sys; from lake_ingest import handler; from tests.conftest import LambdaContext; "
        "print(json.dumps(handler.lambda_handler({'run_id': sys.argv[1]}, LambdaContext())))"
    )
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", program, f"c-{i}"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(4)
    ]
    outcomes = [run.communicate(timeout=120) for run in runs]
    for run, (out, err) in zip(runs, outcomes, strict=True):
        assert run.returncode == 0, err[-2000:]
        assert json.loads(out.strip().splitlines()[-1])["status"] == "SUCCESS"
    assert len(api.endpoint.seen) == 1 and api.endpoint.seen[0].status == 200
    assert secret_versions(source) == 2
    stored = current_secret(source)
    assert api.endpoint.live_refresh_tokens() == {stored["refresh_token"]}
    # And the chain goes on: once the access token is refused, one run refreshes with what was saved.
    api.endpoint.expire_access_tokens()
    oauth2.TOKENS.clear()
    assert invoke("after")["status"] == "SUCCESS"
    assert api.endpoint.live_refresh_tokens() == {current_secret(source)["refresh_token"]}
    presented = [g.form["refresh_token"] for g in api.endpoint.seen]
    assert len(presented) == 2 and len(set(presented)) == 2
    for out, err in outcomes:
        for credential in [CLIENT_SECRET, *presented, stored["refresh_token"]]:
            assert credential not in out + err


def _exchanges_in_threads(source, lease_factory, count: int = 4) -> list[BaseException | None]:
    config = load_config()
    deadline = Deadline(lambda: 60_000, 1.0)
    errors: list[BaseException | None] = [None] * count
    barrier = threading.Barrier(count)

    def run(index: int) -> None:
        authenticator = Authenticator.for_run(config, f"t-{index}", deadline, boto3.client("s3"))
        exchange = authenticator._exchange
        exchange._lease = lease_factory()
        barrier.wait()
        try:
            exchange.token()
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors[index] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return errors


def test_the_lease_is_what_keeps_concurrent_exchanges_apart(make_source, oauth_api):
    """The same race with and without the lease: without it the provider sees a token spent twice
    and revokes the family (the test can fail); with it one run exchanges and the others share."""

    class NoLease:
        def held(self, *args):
            return nullcontext()

    api = oauth_api(reuse_revokes_family=True, token_delay=0.3)
    source, _ = refresh_source(make_source, api)
    unguarded = _exchanges_in_threads(source, NoLease)
    assert any(isinstance(e, TokenError) and e.error == "invalid_grant" for e in unguarded)
    assert api.endpoint.live_refresh_tokens() == set()  # the family is revoked: the source is broken

    api = oauth_api(reuse_revokes_family=True, token_delay=0.3)
    source, _ = refresh_source(make_source, api)
    config = load_config()

    def lease() -> RefreshLease:
        return RefreshLease(
            boto3.client("s3"),
            config.raw_bucket,
            lock_key(config.raw_prefix),
            kms_encryption(config.kms_key_arn),
        )

    assert _exchanges_in_threads(source, lease) == [None] * 4
    assert len(api.endpoint.seen) == 1
    assert api.endpoint.live_refresh_tokens() == {current_secret(source)["refresh_token"]}


def test_a_crashed_holder_blocks_only_until_its_lease_runs_out(make_source, oauth_api):
    api = oauth_api()
    _source, _ = refresh_source(make_source, api)
    config = load_config()
    s3 = boto3.client("s3")
    key = lock_key(config.raw_prefix)
    s3.put_object(
        Bucket=config.raw_bucket,
        Key=key,
        Body=json.dumps({"holder": "crashed", "expires_at": time.time() + 1.5}).encode(),
    )
    started = time.monotonic()
    assert invoke("after-crash")["status"] == "SUCCESS"
    assert 1.0 <= time.monotonic() - started < 20
    lease = RefreshLease(s3, config.raw_bucket, key)
    s3.put_object(
        Bucket=config.raw_bucket,
        Key=key,
        Body=json.dumps({"holder": "slow-run", "expires_at": time.time() + 300}).encode(),
    )
    with pytest.raises(
        Exception, match=r"run slow-run is refreshing the OAuth2 token .* waited 1s, fetched nothing"
    ):
        with lease.held("impatient", 30, 1):
            pass


def test_the_secret_moves_only_from_the_version_read(make_source, oauth_api):
    api = oauth_api()
    source, _first = refresh_source(make_source, api)
    store = SecretStore(boto3.client("secretsmanager"), source.secret_arn)
    read = store.read()
    # Two writers rotated from the same version: the first wins, the second cannot write over it.
    store.write_after(read, {**read.value, "refresh_token": "rt-first-writer"})
    assert store.write_after(read, {**read.value, "refresh_token": "rt-first-writer"})  # a retry: no-op
    with pytest.raises(RotationConflict):
        store.write_after(read, {**read.value, "refresh_token": "rt-second-writer"})
    assert current_secret(source)["refresh_token"] == "rt-first-writer"
    # An operator's new token (put by hand) is never demoted by a run that read the old one: the
    # move of AWSCURRENT names the version read, and Secrets Manager refuses it once AWSCURRENT moved.
    newer = store.read()
    boto3.client("secretsmanager").put_secret_value(
        SecretId=source.secret_arn, SecretString=json.dumps({**newer.value, "refresh_token": "rt-operator"})
    )
    with pytest.raises(RotationConflict, match="newer version"):
        store.write_after(newer, {**newer.value, "refresh_token": "rt-stale-run"})
    assert current_secret(source)["refresh_token"] == "rt-operator"


def test_an_operators_token_written_during_an_exchange_is_kept(
    make_source, oauth_api, monkeypatch, log_stream
):
    """No check-then-act gap: the operator's put lands between the run's read and its write."""
    api = oauth_api()
    source, _first = refresh_source(make_source, api)
    real_request = auth_module._request

    def request_then_operator(config, credentials, deadline, *args):
        token = real_request(config, credentials, deadline, *args)
        value = {**current_secret(source), "refresh_token": "rt-operator-reauthorized"}
        boto3.client("secretsmanager").put_secret_value(
            SecretId=source.secret_arn, SecretString=json.dumps(value)
        )
        return token

    monkeypatch.setattr(auth_module, "_request", request_then_operator)
    assert invoke("operator-race")["status"] == "SUCCESS"
    assert current_secret(source)["refresh_token"] == "rt-operator-reauthorized"
    assert token_state(source)["pending"] is None
    assert "rotated refresh token not saved: the secret moved on" in log_stream.getvalue()


# -- when the API refuses a page -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("refusal", "renews"),
    [
        (
            Reply(
                403,
                b'{"error": "insufficient_scope"}',
                {"WWW-Authenticate": 'Bearer error="insufficient_scope"'},
            ),
            False,
        ),
        (Reply(403, b'{"message": "forbidden"}'), False),
        (
            Reply(
                403,
                b'{"error": "invalid_token"}',
                {"WWW-Authenticate": 'Bearer realm="api", error="invalid_token"'},
            ),
            True,
        ),
        (Reply(401, b'{"error": "invalid_token"}'), True),
    ],
    ids=["403-insufficient-scope", "403-plain", "403-invalid-token", "401"],
)
def test_a_refused_page_renews_the_token_only_when_rfc_6750_says_it_is_invalid(
    make_source, oauth_api, refusal, renews
):
    api = oauth_api(pages=1)
    source, _first = refresh_source(make_source, api)
    api.refuse_next = [refusal]
    if renews:
        assert invoke("refused")["status"] == "SUCCESS"
        assert len(api.endpoint.seen) == 2 and secret_versions(source) == 3
    else:
        with pytest.raises(UpstreamHTTPError, match=r"HTTP 403.*\(not retried\)"):
            invoke("refused")
        assert len(api.endpoint.seen) == 1 and secret_versions(source) == 2  # no second exchange


def test_a_403_rate_limit_is_waited_for_not_renewed(make_source, oauth_api):
    """GitHub answers a rate limit with 403 and Retry-After (or X-RateLimit-Remaining: 0)."""
    api = oauth_api(pages=2)
    source, _first = refresh_source(make_source, api)
    api.refuse_next = [
        Reply(403, b'{"message": "API rate limit exceeded"}', {"Retry-After": "0"}),
        Reply(403, b'{"message": "API rate limit exceeded"}', {"X-RateLimit-Remaining": "0"}),
    ]
    result = invoke("rate-limited")
    assert result["status"] == "SUCCESS" and result["records_ingested"] == 4
    assert len(api.endpoint.seen) == 1 and secret_versions(source) == 2


def test_a_token_answer_that_inflates_without_end_is_refused_in_bounded_memory(make_source, oauth_api):
    api = oauth_api()
    make_source(
        config_for(api, client_credentials()), {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    )
    bomb = gzip.compress(b" " * (300 << 20), compresslevel=9)  # 300 MiB of JSON whitespace in ~300 KiB
    api.endpoint.failures.append(
        Reply(200, bomb, {"Content-Type": "application/json", "Content-Encoding": "gzip"})
    )
    tracemalloc.start()
    try:
        with pytest.raises(TokenError, match=r"more than 65536 bytes \(decoded\).*refused unread"):
            invoke("bomb")
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(bomb) < 400 << 10 and peak < 16 << 20, peak


# -- configuration -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("auth", "message"),
    [
        ({"type": "oauth2_client_credentials"}, "API_CONFIG.auth.token_url: is required for auth type"),
        (
            {"type": "oauth2_client_credentials", "token_url": "http://login.example.com/token"},
            "API_CONFIG.auth.token_url: must use https",
        ),
        (
            {"type": "oauth2_client_credentials", "token_url": "https://u:p@login.example.com/token"},
            "API_CONFIG.auth.token_url: is",
        ),
        (
            {
                "type": "oauth2_client_credentials",
                "token_url": "https://login.example.com/token?client_secret=x",
            },
            "query parameter 'client_secret' looks like a credential",
        ),
        (
            {
                "type": "oauth2_client_credentials",
                "token_url": "https://login.example.com/t",
                "token_params": {"client_secret": "x"},
            },
            "API_CONFIG.auth.token_params.client_secret: looks like a credential",
        ),
        (
            {
                "type": "oauth2_client_credentials",
                "token_url": "https://login.example.com/t",
                "client_auth": "jwt",
            },
            'API_CONFIG.auth.client_auth: is "jwt"; it must be one of basic, body, none',
        ),
        (
            {
                "type": "oauth2_client_credentials",
                "token_url": "https://login.example.com/t",
                "refresh_token_field": "rt",
            },
            'is not an option of auth type "oauth2_client_credentials"',
        ),
        (
            {"type": "bearer", "token_url": "https://login.example.com/t"},
            'API_CONFIG.auth.token_url: is not an option of auth type "bearer"',
        ),
        (
            {"type": "oauth2_refresh_token", "token_url": "https://login.example.com/t", "scope": "a  b"},
            "API_CONFIG.auth.scope: is",
        ),
    ],
)
def test_oauth2_configuration_mistakes_are_named(monkeypatch, auth, message):
    from lake_ingest.config import parse_api_config

    with pytest.raises(ConfigError, match=re_escape(message)):
        parse_api_config(json.dumps({"endpoint": "https://api.example.com/v1/x", "auth": auth}))


def re_escape(text: str) -> str:
    import re

    return re.escape(text)


def test_the_token_url_may_not_be_the_lambda_runtime_api():
    from lake_ingest.config import parse_api_config

    config = {
        "endpoint": "https://api.example.com/x",
        "auth": {
            "type": "oauth2_client_credentials",
            "token_url": "http://127.0.0.1:9001/2018-06-01/runtime/invocation/next",
        },
    }
    with pytest.raises(ConfigError, match=r"API_CONFIG.auth.token_url: is the Lambda Runtime API"):
        parse_api_config(
            json.dumps(config), {"AWS_LAMBDA_RUNTIME_API": "127.0.0.1:9001", "ALLOW_HTTP_LOOPBACK": "true"}
        )


def test_the_access_token_never_goes_to_the_token_url_nor_the_client_secret_to_the_api(
    make_source, oauth_api
):
    api = oauth_api()
    make_source(
        config_for(api, client_credentials(client_auth="body")),
        {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
    )
    invoke("split")
    [token] = api.endpoint.issued_access_tokens()
    for request in api.server.requests:
        sent = json.dumps(request.headers) + request.body.decode() + json.dumps(request.query)
        if request.path == TOKEN_PATH:
            assert token not in sent
        else:
            assert CLIENT_SECRET not in sent and "client_secret" not in sent
            assert urlsplit(request.path).path == "/v1/tickets" and parse_qs(request.body.decode()) == {}


# -- the local runner --------------------------------------------------------------------------


def test_try_writes_a_rotated_refresh_token_back_to_the_credentials_file(oauth_api, tmp_path):
    from tests.test_local_runner import try_cli

    api = oauth_api()
    first = api.endpoint.issue_refresh_token()
    credentials = tmp_path / "credentials.json"
    credentials.write_text(
        json.dumps({"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "refresh_token": first})
    )
    credentials.chmod(0o600)
    source = {
        "source_id": "tickets",
        "allow_http_loopback": True,
        "api_config": config_for(api, refresh_token_auth()),
    }
    process = try_cli(tmp_path, source, "--credentials", str(credentials))
    assert process.returncode == 0, process.stderr
    assert json.loads(process.stdout)["status"] == "SUCCESS"
    saved = json.loads(credentials.read_text())
    assert saved["refresh_token"] != first and api.endpoint.live_refresh_tokens() == {saved["refresh_token"]}
    assert saved["client_secret"] == CLIENT_SECRET and oct(credentials.stat().st_mode & 0o777) == "0o600"
    assert f"the new one is saved in {credentials}" in process.stderr
    for credential in (first, saved["refresh_token"], CLIENT_SECRET, *api.endpoint.issued_access_tokens()):
        assert credential not in process.stdout + process.stderr


def test_try_refuses_a_refresh_token_typed_at_the_prompt(oauth_api, tmp_path):
    from tests.test_local_runner import try_cli

    api = oauth_api()
    source = {
        "source_id": "tickets",
        "allow_http_loopback": True,
        "api_config": config_for(api, refresh_token_auth()),
    }
    process = try_cli(tmp_path, source, stdin="id\nsecret\nrt-typed\n")
    assert process.returncode == 1
    assert "needs --credentials FILE: the provider replaces the refresh token" in process.stderr
    assert api.server.requests == []
