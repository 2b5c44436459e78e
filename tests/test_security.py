"""Where credentials must not go (issue 11): redirects, echoed tokens, partial and escaped redaction,
and the bucket the pages land in. A real upstream on loopback, moto for AWS.
"""

from __future__ import annotations

import json
import re
import uuid

import boto3
import pytest
from scripts.upstream import Reply

from lake_ingest import handler, sink
from lake_ingest.http_client import ERROR_BODY_EXCERPT, UpstreamHTTPError
from tests.test_faults import incompressible_json, open_uploads, page_of, paged
from tests.test_handler import ORDERS_BYTES, api, invoke, read_object

HEADER_AUTH = {"type": "header", "secret_field": "api_key", "header_name": "X-Api-Token"}
QUERY_AUTH = {"type": "query", "secret_field": "api_key", "param_name": "api_key"}


def manifests(source) -> list[str]:
    return [k for k in source.keys() if k.endswith("_manifest.json")]


# -- redirects -------------------------------------------------------------------------------------


def test_a_redirect_to_another_origin_is_refused_before_the_credential_travels(
    make_source, upstream, other_upstream
):
    source = make_source(api(upstream, auth=HEADER_AUTH, max_retries=2))
    secret = source.secret_value["api_key"]
    other_upstream.default = Reply(200, ORDERS_BYTES)  # would be stored as data if followed
    upstream.default = Reply(302, b"", {"Location": f"{other_upstream.url}/collect/path?api_key={secret}"})

    with pytest.raises(UpstreamHTTPError) as error:
        invoke({"run_id": "cross-origin"})

    assert other_upstream.requests == []  # the other origin saw nothing, so no credential either
    assert len(upstream.requests) == 1  # a refused redirect is not retried
    message = str(error.value)
    assert error.value.status == 302 and "HTTP 302" in message
    assert f"({other_upstream.url})" in message  # the other origin, and only its origin
    assert "/collect" not in message and "api_key" not in message and secret not in message
    assert "does not follow redirects to another origin" in message and "credentials" in message
    assert source.keys() == []  # nothing stored, so no manifest claims anything


def test_a_same_origin_redirect_is_followed_with_the_credentials_applied_again(make_source, upstream):
    source = make_source(api(upstream, auth=QUERY_AUTH))
    secret = source.secret_value["api_key"]

    def respond(seen):
        if seen.query.get("api_key") != [secret]:
            return Reply(401, b'{"error": "missing or repeated api_key"}')
        if seen.path == "/v1/orders":  # the Location echoes the key: it must be sent once, not twice
            return Reply(302, b"", {"Location": f"/v2/orders?since=1&api_key={secret}"})
        if seen.path == "/v2/orders":
            return Reply(307, b"", {"Location": "/v3/orders?since=1"})  # and this one drops it
        return Reply(200, ORDERS_BYTES)

    upstream.responder = respond
    result = invoke({"run_id": "moved"})

    assert result["status"] == "SUCCESS" and result["records_ingested"] == 3
    assert [r.path for r in upstream.requests] == ["/v1/orders", "/v2/orders", "/v3/orders"]
    assert [r.query for r in upstream.requests[1:]] == [{"since": ["1"], "api_key": [secret]}] * 2
    page = json.loads(read_object(source, result["manifest"])[1])["pages"][0]
    assert page["url"] == f"{upstream.url}/v3/orders?since=1"  # the final URL, credentials removed


@pytest.mark.parametrize(
    ("status", "method", "body"),
    [
        (301, "GET", b""),
        (302, "GET", b""),
        (303, "GET", b""),
        (307, "POST", b'{"q": 1}'),
        (308, "POST", b'{"q": 1}'),
    ],
)
def test_a_redirected_post_continues_as_its_status_says(make_source, upstream, status, method, body):
    source = make_source(api(upstream, method="POST", body={"q": 1}))
    upstream.script(Reply(status, b"", {"Location": "/v1/orders/next"}), Reply(200, ORDERS_BYTES))
    assert invoke({"run_id": "post-moved"})["status"] == "SUCCESS"
    first, second = upstream.requests
    assert (first.method, json.loads(first.body)) == ("POST", {"q": 1})
    assert (second.path, second.method, second.body) == ("/v1/orders/next", method, body)
    assert second.headers["authorization"] == f"Bearer {source.secret_value['api_key']}"


def test_a_redirect_loop_stops_after_five_hops(make_source, upstream):
    source = make_source(api(upstream, max_retries=2))
    upstream.default = Reply(302, b"", {"Location": "/v1/orders?again=1"})
    with pytest.raises(UpstreamHTTPError, match="more than 5 redirects") as error:
        invoke({"run_id": "loop"})
    assert error.value.status == 302
    assert len(upstream.requests) == 6  # the request and five hops; not retried
    assert source.keys() == []


def test_a_redirect_without_location_raises(make_source, upstream):
    source = make_source(api(upstream))
    upstream.default = Reply(302, b"", {"Content-Type": "text/plain"})
    with pytest.raises(UpstreamHTTPError, match="HTTP 302 without a Location") as error:
        invoke({"run_id": "nowhere"})
    assert error.value.status == 302 and len(upstream.requests) == 1
    assert source.keys() == []


def test_an_https_to_http_redirect_is_another_origin():
    from lake_ingest.redirects import RedirectRefused, next_hop

    with pytest.raises(RedirectRefused, match=r"another origin \(http://api\.example\.com\)") as error:
        next_hop("https://api.example.com/v1/x", "GET", 301, "http://api.example.com/v1/x", 0)
    assert error.value.status == 301
    # Explicit default ports are the same origin; userinfo is never shown.
    assert next_hop("https://api.example.com/a", "GET", 302, "https://api.example.com:443/b", 0).url == (
        "https://api.example.com:443/b"
    )
    with pytest.raises(RedirectRefused, match=r"\(https://evil\.example:8443\)"):
        next_hop("https://api.example.com/a", "GET", 302, "https://u:pw@evil.example:8443/x?k=1", 0)


# -- a credential the API repeats in its next link ----------------------------------------------------


@pytest.mark.parametrize("resume_from", ["result", "manifest"])
def test_a_token_echoed_in_the_next_link_stays_out_of_the_resume_event(make_source, upstream, resume_from):
    source = make_source(
        api(
            upstream,
            records_path="data",
            pagination={"type": "next_url", "next_url_path": "paging.next", "max_pages": 1},
        )
    )
    token = source.secret_value["api_key"]

    def graph(seen):
        """Like Graph APIs: the next link repeats access_token; a wrong access_token is refused."""
        if seen.headers.get("authorization") != f"Bearer {token}":
            return Reply(401, b'{"error": "no bearer"}')
        if seen.query.get("access_token", [token]) != [token]:
            return Reply(401, b'{"error": {"message": "Invalid OAuth access token"}}')
        page = int(seen.query.get("page", ["1"])[0])
        nxt = f"{upstream.url}/v1/orders?page=2&access_token={token}" if page == 1 else None
        body = {"data": [{"id": 2 * page - 1}, {"id": 2 * page}], "paging": {"next": nxt}}
        return Reply(200, json.dumps(body).encode())

    upstream.responder = graph
    first = invoke({"run_id": f"graph-{resume_from}", "partition_date": "2026-02-03"})

    assert first["status"] == "PARTIAL_SUCCESS" and first["stop_reason"] == "max_pages"
    manifest = json.loads(read_object(source, first["manifest"])[1])
    for text in (json.dumps(first), json.dumps(manifest)):
        assert token not in text and "***" not in text
    event = first["resume_event"] if resume_from == "result" else manifest["resume_event"]
    assert event == first["resume_event"]

    resumed = invoke(event)
    assert resumed["status"] == "SUCCESS" and resumed["records_ingested"] == 4
    assert all("access_token" not in r.query for r in upstream.requests)  # auth went as configured
    assert token not in json.dumps(json.loads(read_object(source, resumed["manifest"])[1]))


# -- partial and escaped redaction ---------------------------------------------------------------------


@pytest.mark.parametrize("inside", [1, 2, 3, 8, 20, 39, 40])
def test_an_error_excerpt_cut_inside_a_secret_shows_none_of_it(make_source, upstream, inside):
    """The excerpt is cut at ERROR_BODY_EXCERPT characters; `inside` of the secret's 40 come before it."""
    source = make_source(api(upstream, max_retries=0))
    secret = source.secret_value["api_key"]
    assert len(secret) == 40 and secret.startswith("sk")
    body = "x" * (ERROR_BODY_EXCERPT - inside) + secret + " and more text after it"
    upstream.default = Reply(500, body.encode(), {"Content-Type": "text/plain"})
    with pytest.raises(UpstreamHTTPError) as error:
        invoke({"run_id": "cut"})
    message = str(error.value)
    assert "x" * 200 in message  # the excerpt is there
    assert secret[:2] not in message, message


def test_truncate_leaves_no_beginning_of_any_spelling_at_a_cut():
    from lake_ingest.redaction import MASK, Redactor, spellings

    redactor = Redactor()
    secret = "sk/live&\u00fc-" + uuid.uuid4().hex
    redactor.add([secret])
    forms = spellings(secret)
    assert len(forms) >= 8 and redactor.longest >= len(secret)
    for form in forms:
        for inside in range(1, len(form)):
            # The text was read only up to the middle of the secret: its end is a cut.
            assert redactor.truncate("x" * 50 + form[:inside], 100, cut_before=True) == "x" * 50 + MASK
            # The secret is whole in the text, and the limit falls inside it.
            cut = redactor.truncate("x" * 50 + form + "y" * 20, 50 + inside)
            assert cut.startswith("x" * 50) and form[:1] not in cut[50:], (form, inside, cut)
    assert redactor.truncate("short and whole", 100) == "short and whole"
    assert redactor.truncate("x" * 120, 100) == "x" * 100


ESCAPERS = {
    # PHP's json_encode: '/' as '\/', non-ASCII as lowercase \u escapes.
    "php": lambda doc: json.dumps(doc).replace("/", "\\/"),
    # Jackson with ESCAPE_NON_ASCII: uppercase hex.
    "java": lambda doc: re.sub(r"\\u([0-9a-f]{4})", lambda m: "\\u" + m.group(1).upper(), json.dumps(doc)),
    # Go's encoding/json: <, > and & as \u escapes, other characters as they are.
    "go": lambda doc: json.dumps(doc, ensure_ascii=False).replace("&", "\\u0026"),
}


@pytest.mark.parametrize("encoder", list(ESCAPERS))
def test_a_secret_echoed_json_escaped_is_masked_everywhere(make_source, upstream, log_stream, encoder):
    tail = uuid.uuid4().hex
    secret = f"sk/live&\u00fc-{tail}"
    make_source(api(upstream, auth=QUERY_AUTH, max_retries=1), secret_value={"api_key": secret})
    body = ESCAPERS[encoder]({"error": f"invalid key {secret}"})
    assert secret not in body and "\\u" in body  # really an escaped spelling
    upstream.default = Reply(500, body.encode(), {"Content-Type": "application/json"})

    with pytest.raises(UpstreamHTTPError) as error:
        invoke({"run_id": "escaped"})

    logs = log_stream.getvalue()
    assert "retrying" in logs and "run failed" in logs  # both log lines carry the excerpt
    assert "***" in str(error.value)
    for text in [str(error.value), *logs.splitlines()]:
        assert tail not in text, text


# -- the bucket's owner ------------------------------------------------------------------------------

OWNER = "123456789012"


@pytest.fixture
def s3_requests(aws_endpoint, monkeypatch):
    """The handler's S3 requests as sent: (operation, x-amz-expected-bucket-owner header).

    moto 5.2.5 ignores ExpectedBucketOwner (it never answers 403 for a wrong owner), so these tests
    check what the handler sends, not what S3 would do with it.
    """
    seen: list[tuple[str, str | None]] = []

    def record(request, event_name, **_):
        owner = request.headers.get("x-amz-expected-bucket-owner")
        seen.append((event_name.rsplit(".", 1)[-1], owner.decode() if isinstance(owner, bytes) else owner))

    client = boto3.client("s3")
    client.meta.events.register("before-send.s3", record)
    monkeypatch.setattr(handler, "_s3", client)
    return seen


def test_every_s3_request_names_the_expected_bucket_owner(make_source, upstream, monkeypatch, s3_requests):
    monkeypatch.setattr(sink, "PART_SIZE", 5 * 1024 * 1024)
    source = make_source(
        api(
            upstream,
            records_path="",
            max_parse_bytes=1024 * 1024,
            pagination={"type": "page_number", "max_pages": 2},
        ),
        RAW_BUCKET_OWNER=OWNER,
    )
    paged(upstream, page_of(1, 2), Reply(200, incompressible_json(8 * 1024 * 1024)))
    first = invoke({"run_id": "owned", "partition_date": "2026-02-03"})  # a small page, a multipart one
    resumed = invoke(first["resume_event"])  # reads the manifest back
    assert resumed["status"] == "SUCCESS" and len(resumed["objects"]) == 3

    operations = {operation for operation, _ in s3_requests}
    assert {"PutObject", "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload", "GetObject"} <= (
        operations
    )
    assert [r for r in s3_requests if r[1] != OWNER] == []
    assert len(manifests(source)) == 1


def test_an_aborted_upload_names_the_expected_bucket_owner(make_source, upstream, monkeypatch, s3_requests):
    monkeypatch.setattr(sink, "PART_SIZE", 5 * 1024 * 1024)
    source = make_source(api(upstream, records_path="", max_retries=0), RAW_BUCKET_OWNER=OWNER)
    body = incompressible_json(12 * 1024 * 1024)
    upstream.default = Reply(200, body, truncate_to=11 * 1024 * 1024)
    with pytest.raises(Exception, match="broke off"):
        invoke({"run_id": "aborted"})
    assert "AbortMultipartUpload" in {operation for operation, _ in s3_requests}
    assert [r for r in s3_requests if r[1] != OWNER] == []
    assert open_uploads(source) == [] and source.keys() == []
