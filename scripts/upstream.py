"""A real HTTP server on 127.0.0.1 that plays an upstream REST API.

Tests script its replies one by one (status, headers, body, delay, truncation); `make demo` runs
it as a small sample API (`python -m scripts.upstream --port N`) that requires a bearer token.
"""

from __future__ import annotations

import argparse
import json
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


@dataclass
class Reply:
    """One scripted response."""

    status: int = 200
    body: bytes = b"[]"
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "application/json"})
    delay: float = 0.0  # seconds before the status line is sent
    truncate_to: int | None = None  # send only this many body bytes, then close
    reset: bool = False  # with truncate_to: close with a TCP reset instead of a clean close
    trickle: tuple[int, float] | None = None  # send the body in pieces of this size, pausing between


@dataclass
class SeenRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    at: float


class ScriptedUpstream:
    """Serves scripted replies in order; the last one (or `default`) repeats once the script is used up."""

    def __init__(self, default: Reply | None = None, responder: Callable[[SeenRequest], Reply] | None = None):
        self.replies: deque[Reply] = deque()
        self.default = default or Reply()
        self.responder = responder
        self.requests: list[SeenRequest] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def script(self, *replies: Reply) -> None:
        with self._lock:
            self.replies.extend(replies)

    def start(self) -> ScriptedUpstream:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _next_reply(self, seen: SeenRequest) -> Reply:
        with self._lock:
            self.requests.append(seen)
            if self.replies:
                return self.replies.popleft()
        return self.responder(seen) if self.responder else self.default

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                parts = urlsplit(self.path)
                seen = SeenRequest(
                    method=self.command,
                    path=parts.path,
                    query=parse_qs(parts.query),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=self.rfile.read(length) if length else b"",
                    at=time.monotonic(),
                )
                reply = upstream._next_reply(seen)
                if reply.delay:
                    time.sleep(reply.delay)
                try:
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(reply.body)))
                    if reply.truncate_to is not None:
                        self.send_header("Connection", "close")
                    self.end_headers()
                    body = reply.body if reply.truncate_to is None else reply.body[: reply.truncate_to]
                    piece, pause = reply.trickle or (len(body) or 1, 0.0)
                    for start in range(0, len(body), piece):
                        if start and pause:
                            time.sleep(pause)
                        self.wfile.write(body[start : start + piece])
                        self.wfile.flush()
                    if reply.truncate_to is not None:
                        self.close_connection = True
                        if reply.reset:  # SO_LINGER 0: close() sends RST
                            self.connection.setsockopt(
                                socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                            )
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True

            do_GET = _serve
            do_POST = _serve

            def log_message(self, format: str, *args: object) -> None:
                return

        return Handler


class SampleOrders:
    """The sample API's data: orders with an `updated_at`, and new ones added on request.

    `updated_since` (ISO 8601) returns only orders updated after that instant, so an incremental
    source's second run fetches only what is new; `updated_from` / `updated_to` return the orders of
    a window [from, to), as a window source (and a backfill) asks for them.
    """

    BASE = datetime(2026, 1, 1, tzinfo=UTC)

    def __init__(self, count: int, spacing: timedelta = timedelta(minutes=1)) -> None:
        self._lock = threading.Lock()
        self.items = [self._order(i, self.BASE + i * spacing) for i in range(count)]

    @staticmethod
    def _order(i: int, updated: datetime) -> dict[str, object]:
        stamp = updated.isoformat().replace("+00:00", "Z")
        return {"id": i, "amount_cents": (i * 37) % 10_000, "currency": "EUR", "updated_at": stamp}

    def add(self, count: int) -> int:
        with self._lock:
            latest = max((_instant(str(o["updated_at"])) for o in self.items), default=self.BASE)
            start = len(self.items)
            self.items += [self._order(start + i, latest + timedelta(seconds=i + 1)) for i in range(count)]
            return len(self.items)

    def matching(
        self, updated_since: str | None = None, updated_from: str | None = None, updated_to: str | None = None
    ) -> list[dict[str, object]]:
        """Orders updated after `updated_since`, and in [updated_from, updated_to) (each optional)."""
        since, start, end = (_instant(v) if v else None for v in (updated_since, updated_from, updated_to))
        with self._lock:
            return [
                o
                for o in self.items
                if (since is None or _instant(str(o["updated_at"])) > since)
                and (start is None or _instant(str(o["updated_at"])) >= start)
                and (end is None or _instant(str(o["updated_at"])) < end)
            ]

    def since(self, updated_since: str | None) -> list[dict[str, object]]:
        return self.matching(updated_since)


def _instant(text: str) -> datetime:
    """An ISO 8601 instant (Z or an offset; epoch seconds too), as an aware datetime."""
    if text.lstrip("-").replace(".", "", 1).isdigit():
        return datetime.fromtimestamp(float(text), UTC)
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


SAMPLE_CLIENT_ID = "sample-client"


def sample_refresh_token(token: str) -> str:
    """The sample API's first refresh token for client SAMPLE_CLIENT_ID (client secret: `token`)."""
    return f"rt0-{token}"


def sample_oauth2_secret(token: str) -> dict[str, str]:
    """The secret value of an oauth2_refresh_token source of the sample API (before any rotation)."""
    return {
        "client_id": SAMPLE_CLIENT_ID,
        "client_secret": token,
        "refresh_token": sample_refresh_token(token),
    }


def sample_api(token: str, pages: int = 3, per_page: int = 50) -> Callable[[SeenRequest], Reply]:
    """A tiny paged API with two collections that requires `Authorization: Bearer <token>`, or an
    access token from its OAuth2 token endpoint, POST /oauth2/token (scripts/oauth2_server.py: client
    SAMPLE_CLIENT_ID with client secret `token`, tokens for 300 s; refresh tokens rotate on every use,
    the first is sample_refresh_token(token)).

    GET /v1/events?...: 720 events, one an hour from 2026-01-01T00:00Z for 30 days (for windows and
    backfills); GET <any other path>?...: pages x per_page orders, one a minute from 2026-01-01T00:00Z.
    Both take page=N, per_page=N (default `per_page`, at most 100), updated_since=ISO, updated_from=ISO
    and updated_to=ISO; `total` counts the matches.
    POST /admin/orders?count=N adds N orders updated now (the incremental demo); POST
    /admin/fail?updated_from=ISO makes requests for that window answer 503 until POST /admin/heal;
    POST /admin/latency?seconds=S delays every answer by S seconds (a slow API, for benchmarks); GET
    /admin/oauth2 counts the token endpoint's answers by status and lists its live refresh tokens;
    GET /admin/requests?path=P lists the data requests it answered (method, path, query), oldest first.
    GET /v2/<anything>: the same orders as an OData service pages them (Microsoft Graph, Dynamics):
    {"value": [...], "@odata.nextLink": "<absolute URL with $skiptoken>"} until the last page, whose
    answer has no next link; `$top` sets the page size (default `per_page`).
    """
    from scripts.oauth2_server import TOKEN_PATH, TokenEndpoint

    data = SampleOrders(pages * per_page)
    events = SampleOrders(30 * 24, timedelta(hours=1))
    failing: set[str] = set()
    latency = [0.0]
    answered: list[dict[str, object]] = []  # the data requests (not the token or admin endpoints)
    oauth2 = TokenEndpoint(SAMPLE_CLIENT_ID, token, expires_in=300)
    oauth2.issue_refresh_token(sample_refresh_token(token))

    def respond(seen: SeenRequest) -> Reply:
        if seen.method == "POST" and seen.path == TOKEN_PATH:
            return oauth2.respond(seen)
        authorization = seen.headers.get("authorization")
        if authorization != f"Bearer {token}" and not oauth2.accepts(authorization):
            return Reply(401, b'{"error": "unauthorized"}')
        arg = {k: v[0] for k, v in seen.query.items()}
        if seen.path == "/admin/oauth2":
            statuses = [request.status for request in oauth2.seen]
            state = {
                "token_requests": {str(code): statuses.count(code) for code in sorted(set(statuses))},
                "live_refresh_tokens": sorted(oauth2.live_refresh_tokens()),
            }
            return Reply(200, json.dumps(state).encode())
        if seen.path == "/admin/requests":
            wanted = [r for r in list(answered) if arg.get("path") in (None, r["path"])]
            return Reply(200, json.dumps({"requests": wanted}).encode())
        if seen.method == "POST" and seen.path == "/admin/latency":
            latency[0] = float(arg.get("seconds", "0"))
            return Reply(200, json.dumps({"latency_seconds": latency[0]}).encode())
        if seen.method == "POST" and seen.path.startswith("/admin/"):
            return _admin(seen.path, arg, data, failing)
        answered.append({"method": seen.method, "path": seen.path, "query": seen.query})
        if arg.get("updated_from") in failing:
            return Reply(503, b'{"error": "temporarily unavailable"}', {"Retry-After": "0"})
        if seen.path.startswith("/v2/"):
            return _odata_page(seen, arg, data.matching(), per_page)
        collection = events if seen.path == "/v1/events" else data
        try:
            page, size = int(arg.get("page", 1)), min(100, int(arg.get("per_page", per_page)))
            found = collection.matching(
                arg.get("updated_since"), arg.get("updated_from"), arg.get("updated_to")
            )
        except ValueError as error:
            return Reply(400, json.dumps({"error": str(error)}).encode())
        total_pages = max(1, -(-len(found) // size))
        items = found[(page - 1) * size : page * size]
        body = {"data": {"items": items}, "page": page, "pages": total_pages, "total": len(found)}
        return Reply(200, json.dumps(body).encode(), delay=latency[0])

    return respond


def _odata_page(seen: SeenRequest, arg: dict[str, str], found: list[dict[str, object]], size: int) -> Reply:
    """One page of an OData collection: `value`, and `@odata.nextLink` (absolute) while more follow."""
    try:
        skip, top = int(arg.get("$skiptoken", 0)), min(100, int(arg.get("$top", size)))
    except ValueError as error:
        return Reply(400, json.dumps({"error": {"code": "BadRequest", "message": str(error)}}).encode())
    body: dict[str, object] = {"@odata.context": "$metadata#tickets", "value": found[skip : skip + top]}
    if skip + top < len(found):
        body["@odata.nextLink"] = (
            f"http://{seen.headers.get('host')}{seen.path}?$skiptoken={skip + top}&$top={top}"
        )
    return Reply(200, json.dumps(body).encode(), {"Content-Type": "application/json; odata.metadata=minimal"})


def _admin(path: str, arg: dict[str, str], orders: SampleOrders, failing: set[str]) -> Reply:
    if path == "/admin/orders":
        return Reply(200, json.dumps({"orders": orders.add(int(arg.get("count", "10")))}).encode())
    if path == "/admin/fail":
        failing.add(arg["updated_from"])
    elif path == "/admin/heal":
        failing.clear()
    else:
        return Reply(404, b'{"error": "no such admin action"}')
    return Reply(200, json.dumps({"failing": sorted(failing)}).encode())


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve the sample upstream API on 127.0.0.1")
    parser.add_argument("--token", required=True, help="bearer token the API accepts")
    parser.add_argument("--port-file", required=True, help="write the chosen URL here once listening")
    args = parser.parse_args()
    server = ScriptedUpstream(responder=sample_api(args.token)).start()
    with open(args.port_file, "w") as handle:
        handle.write(server.url)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
