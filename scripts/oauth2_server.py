"""An OAuth2 token endpoint (RFC 6749) for ScriptedUpstream: the tests' and the sample API's.

It issues bearer access tokens for the client credentials and refresh token grants, checks the
client (HTTP Basic as RFC 6749 2.3.1 encodes it, or form fields), and rotates refresh tokens the
strict way: every refresh token works once, and its successor is issued with the access token. With
`reuse_revokes_family` a second use of a spent refresh token revokes everything issued from it
(Auth0's and Okta's theft detection), which is what two runs refreshing at once must never cause.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote_plus

from scripts.upstream import Reply, SeenRequest

TOKEN_PATH = "/oauth2/token"  # noqa: S105 - a path, not a secret


@dataclass
class TokenRequest:
    """What one token request sent: its form (secrets included, for the tests' assertions) and client auth."""

    form: dict[str, str]
    client_auth: str  # basic, body or none
    status: int = 0


@dataclass
class TokenEndpoint:
    client_id: str
    client_secret: str
    expires_in: float | str | None = 3600
    rotate: bool = True
    reuse_revokes_family: bool = False
    token_path: str = TOKEN_PATH
    seen: list[TokenRequest] = field(default_factory=list)
    failures: deque[Reply] = field(default_factory=deque)  # answered (in order) before any real work
    _access: dict[str, float] = field(default_factory=dict)  # access token -> expires at (monotonic)
    _refresh: dict[str, str] = field(default_factory=dict)  # live refresh token -> family
    _spent: dict[str, str] = field(default_factory=dict)  # used refresh token -> family
    _revoked: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # -- what tests ask -------------------------------------------------------------------------

    def issue_refresh_token(self, token: str | None = None) -> str:
        """A refresh token as an authorization would give it: the start of a new family."""
        token = token or "rt-" + secrets.token_urlsafe(24)
        with self._lock:
            self._refresh[token] = token
        return token

    def live_refresh_tokens(self) -> set[str]:
        with self._lock:
            return {t for t, family in self._refresh.items() if family not in self._revoked}

    def accepts(self, authorization: str | None) -> bool:
        """Whether `Authorization: Bearer <token>` names an access token issued and not expired."""
        token = (authorization or "").removeprefix("Bearer ")
        with self._lock:
            expires = self._access.get(token)
        return expires is not None and time.monotonic() < expires

    def expire_access_tokens(self) -> None:
        """Every access token issued so far stops working (the 401 path)."""
        with self._lock:
            self._access.clear()

    def issued_access_tokens(self) -> list[str]:
        with self._lock:
            return list(self._access)

    # -- the endpoint ---------------------------------------------------------------------------

    def respond(self, seen: SeenRequest) -> Reply:
        form = {k: v[0] for k, v in parse_qs(seen.body.decode(), keep_blank_values=True).items()}
        client_id, secret, how = self._client(seen, form)
        request = TokenRequest(form, how)
        with self._lock:
            self.seen.append(request)
            reply = self.failures.popleft() if self.failures else None
        if reply is None:
            reply = self._grant(form, client_id, secret)
        request.status = reply.status
        return reply

    def _client(self, seen: SeenRequest, form: dict[str, str]) -> tuple[str | None, str | None, str]:
        header = seen.headers.get("authorization", "")
        if header.startswith("Basic "):
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
            return unquote_plus(user), unquote_plus(password), "basic"
        if "client_secret" in form:
            return form.get("client_id"), form["client_secret"], "body"
        return form.get("client_id"), None, "none"

    def _grant(self, form: dict[str, str], client_id: str | None, secret: str | None) -> Reply:
        if client_id != self.client_id or secret != self.client_secret:
            return _error(401, "invalid_client", "Client authentication failed.")
        grant = form.get("grant_type")
        if grant == "client_credentials":
            return self._tokens(None)
        if grant != "refresh_token":
            return _error(400, "unsupported_grant_type", f"grant_type {grant!r} is not supported")
        presented = form.get("refresh_token", "")
        with self._lock:
            family = self._refresh.pop(presented, None) if self.rotate else self._refresh.get(presented)
            if family is None or family in self._revoked:
                if presented in self._spent and self.reuse_revokes_family:
                    self._revoked.add(self._spent[presented])
                return _error(400, "invalid_grant", "The refresh token is invalid or has been used.")
            self._spent[presented] = family
        return self._tokens(family)

    def _tokens(self, family: str | None) -> Reply:
        access = "at-" + secrets.token_urlsafe(24)
        lifetime = float(self.expires_in) if self.expires_in is not None else 3600.0
        body: dict[str, object] = {"access_token": access, "token_type": "Bearer"}
        if self.expires_in is not None:
            body["expires_in"] = self.expires_in
        with self._lock:
            self._access[access] = time.monotonic() + lifetime
            if family is not None and self.rotate:
                successor = "rt-" + secrets.token_urlsafe(24)
                self._refresh[successor] = family
                body["refresh_token"] = successor
        return Reply(
            200, json.dumps(body).encode(), {"Content-Type": "application/json", "Cache-Control": "no-store"}
        )


def _error(status: int, error: str, description: str) -> Reply:
    """An RFC 6749 5.2 error answer."""
    return Reply(status, json.dumps({"error": error, "error_description": description}).encode())
