"""docs/push.md's signing snippets sign as the ingress checks: each ```python block is run, and the
headers it makes for a body pass lake_ingest.push.verify for its style (and fail with another secret,
or another body). GitHub's documented test vector is checked through the GitHub snippet."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from lake_ingest.push import verify
from lake_ingest.push.config import parse_push_config
from lake_ingest.push.verify import Rejection, SigningSecret
from tests.readme_examples import ROOT, fenced_blocks

PAGE = ROOT / "docs" / "push.md"
STYLES = ("stripe", "slack", "github", "header")


def snippets() -> dict[str, Any]:
    """Every python block of the page run in one namespace: the <style>_headers functions it defines."""
    namespace: dict[str, Any] = {}
    for _, text, _ in fenced_blocks(PAGE, "python"):
        exec(compile(text, str(PAGE), "exec"), namespace)  # noqa: S102 - the docs' own examples
    return namespace


def config_for(style: str) -> Any:
    header = {"header_name": "X-Webhook-Token"} if style == "header" else {}
    return parse_push_config(json.dumps({"signature": style, **header}))


def accepted(style: str, headers: dict[str, str], body: bytes, secret: str) -> bool:
    signed = verify.presented(config_for(style), headers)
    verify.check_timestamp(signed, time.time(), 300)
    return verify.matches(signed, body, [SigningSecret(secret)], datetime.now(UTC))


def test_the_page_has_one_snippet_per_style():
    found = snippets()
    assert {f"{style}_headers" for style in STYLES} <= set(found)


@pytest.mark.parametrize("style", STYLES)
def test_each_snippet_signs_as_the_ingress_checks(style):
    make = snippets()[f"{style}_headers"]
    body = json.dumps({"id": "evt_1", "created": int(time.time())}).encode()
    headers = make("whsec_doc", body)
    assert accepted(style, headers, body, "whsec_doc")
    assert not accepted(style, headers, body, "whsec_other")
    if style != "header":  # the header style signs no body: its secret is the whole proof
        assert not accepted(style, headers, body + b" ", "whsec_doc")


@pytest.mark.parametrize("style", ["stripe", "slack"])
def test_a_timestamp_snippet_signed_ten_minutes_ago_is_expired(style):
    body = b'{"id":"evt_old"}'
    headers = snippets()[f"{style}_headers"]("whsec_doc", body, time.time() - 600)
    with pytest.raises(Rejection) as refused:
        accepted(style, headers, body, "whsec_doc")
    assert refused.value.reason == "expired"


def test_githubs_documented_vector_through_the_snippet():
    headers = snippets()["github_headers"]("It's a Secret to Everybody", b"Hello, World!")
    assert headers["X-Hub-Signature-256"] == (
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    )
    assert "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17" in PAGE.read_text()
