"""What API Gateway does in front of an HTTP API's Lambda proxy integration, on a loopback port.

moto stores HTTP APIs (routes, integrations, stages) and serves none of them. This front takes a
request, asks a resolver (scripts/local_aws.py reads moto's store) which route and function it
reaches, applies the stage's throttling, builds the payload format 2.0 event, calls an invoker and
maps the function's answer to the HTTP response the way API Gateway documents it:
https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html
https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-throttling.html

Which request bodies arrive as text: API Gateway's docs only say "binary" bodies are base64-encoded.
Measured on AWS (https://github.com/ministackorg/ministack/pull/766): only text/*, application/json,
application/xml and application/javascript arrive as text; anything else, a missing Content-Type and
application/x-www-form-urlencoded included, arrives base64-encoded. A body that is not UTF-8 is
base64-encoded whatever its type.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

TEXT_TYPES = ("application/json", "application/xml", "application/javascript")
MAX_REQUEST_BYTES = 10 * 1024 * 1024  # an HTTP API's payload quota
HOST_API_ID = re.compile(r"^([a-z0-9]+)\.execute-api\.", re.IGNORECASE)


@dataclass(frozen=True)
class Throttle:
    """A route's steady rate (requests per second) and burst, as the stage sets them."""

    rate: float
    burst: int


@dataclass(frozen=True)
class Target:
    """Where a request goes: the API and route it matched, and the route's integration and stage."""

    api_id: str
    account_id: str
    route_key: str
    function_arn: str | None  # None: the integration is not an AWS_PROXY 2.0 Lambda integration
    path_parameters: dict[str, str] = field(default_factory=dict)
    stage_variables: dict[str, str] = field(default_factory=dict)
    throttle: Throttle | None = None


@dataclass(frozen=True)
class Answer:
    """What the invoker reports of one invocation: the handler's result, or its error."""

    result: Any
    error: dict[str, Any] | None


# (api id from the Host header or None, method, path) -> the target, or None for "no route".
Resolver = Callable[[str | None, str, str], Target | None]
Invoker = Callable[[str, dict[str, Any]], Answer]


def match_route(route_key: str, method: str, path: str) -> dict[str, str] | None:
    """The path parameters if `route_key` ("POST /hooks/{id}", "ANY /{proxy+}", "$default") matches."""
    if route_key == "$default":
        return {}
    route_method, _, route_path = route_key.partition(" ")
    if route_method not in ("ANY", method):
        return None
    want, got = route_path.strip("/").split("/"), path.strip("/").split("/")
    parameters: dict[str, str] = {}
    for index, segment in enumerate(want):
        if segment.startswith("{") and segment.endswith("+}"):
            rest = got[index:]
            if not rest or rest == [""]:
                return None
            parameters[segment[1:-2]] = "/".join(rest)
            return parameters
        if index >= len(got):
            return None
        if segment.startswith("{") and segment.endswith("}"):
            if not got[index]:
                return None
            parameters[segment[1:-1]] = got[index]
        elif segment != got[index]:
            return None
    return parameters if len(got) == len(want) else None


def route_precedence(route_key: str) -> tuple[int, int, int, int]:
    """Sort key, most specific first: $default last, then greedy paths, then fewer literal
    segments, then ANY after a named method (API Gateway's "most specific route wins")."""
    if route_key == "$default":
        return (1, 0, 0, 0)
    method, _, path = route_key.partition(" ")
    segments = path.strip("/").split("/")
    literal = sum(1 for s in segments if not s.startswith("{"))
    return (0, int(any(s.endswith("+}") for s in segments)), -literal, int(method == "ANY"))


def is_text(content_type: str | None) -> bool:
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    return media_type.startswith("text/") or media_type in TEXT_TYPES


def payload_event(
    target: Target, method: str, raw_target: str, headers: list[tuple[str, str]], body: bytes, source_ip: str
) -> dict[str, Any]:
    """The payload format 2.0 event for one request."""
    raw_path, _, raw_query = raw_target.partition("?")
    joined: dict[str, str] = {}
    for name, value in headers:
        name = name.lower()
        joined[name] = f"{joined[name]},{value}" if name in joined else value
    cookies = [c.strip() for c in joined.pop("cookie", "").split(";") if c.strip()]
    query: dict[str, str] = {}
    for name, value in parse_qsl(raw_query, keep_blank_values=True):
        query[name] = f"{query[name]},{value}" if name in query else value
    now = time.time()
    host = joined.get("host", "")
    request_id = str(uuid.uuid4())
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": target.route_key,
        "rawPath": raw_path,
        "rawQueryString": raw_query,
        "headers": joined,
        "requestContext": {
            "accountId": target.account_id,
            "apiId": target.api_id,
            "domainName": host,
            "domainPrefix": host.split(".", 1)[0],
            "http": {
                "method": method,
                "path": raw_path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": joined.get("user-agent", ""),
            },
            "requestId": request_id,
            "routeKey": target.route_key,
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": False,
    }
    optional = {
        "cookies": cookies,
        "queryStringParameters": query,
        "pathParameters": target.path_parameters,
        "stageVariables": target.stage_variables,
    }
    event.update({k: v for k, v in optional.items() if v})
    if body:
        text = _utf8(body) if is_text(joined.get("content-type")) else None
        event["body"] = text if text is not None else base64.b64encode(body).decode()
        event["isBase64Encoded"] = text is None
    return event


def _utf8(body: bytes) -> str | None:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return None


def http_response(answer: Answer) -> tuple[int, list[tuple[str, str]], bytes]:
    """Status, headers and body API Gateway sends for a payload 2.0 function's answer."""
    if answer.error is not None:
        return error_response(500, "Internal Server Error")
    result = answer.result
    if not (isinstance(result, dict) and "statusCode" in result):
        # No statusCode: API Gateway assumes 200, application/json, and the answer as the body.
        inferred = result if isinstance(result, str) else json.dumps(result)
        return 200, [("Content-Type", "application/json")], inferred.encode()
    try:
        status = int(result["statusCode"])
        headers = [(str(k), str(v)) for k, v in (result.get("headers") or {}).items()]
        headers += [("Set-Cookie", str(c)) for c in result.get("cookies") or []]
        body_text = result.get("body") or ""
        if not isinstance(body_text, str):
            raise TypeError("body must be a string")
        encoded = bool(result.get("isBase64Encoded"))
        body = base64.b64decode(body_text, validate=True) if encoded else body_text.encode()
    except (ValueError, TypeError, AttributeError, binascii.Error):
        return error_response(500, "Internal Server Error")  # a malformed answer, as API Gateway says
    return status, headers, body


def error_response(status: int, message: str) -> tuple[int, list[tuple[str, str]], bytes]:
    return status, [("Content-Type", "application/json")], json.dumps({"message": message}).encode()


class TokenBucket:
    """`burst` requests at once, refilled at `rate` per second (API Gateway's token bucket)."""

    def __init__(self, throttle: Throttle) -> None:
        self.throttle = throttle
        self._tokens = float(throttle.burst)
        self._at = time.monotonic()
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self.throttle.burst, self._tokens + (now - self._at) * self.throttle.rate)
            self._at = now
            if self._tokens < 1:
                return False
            self._tokens -= 1
            return True


class Throttles:
    """One token bucket per (API, route), replaced when the stage's settings change."""

    def __init__(self) -> None:
        self._buckets: dict[tuple[str, str], TokenBucket] = {}
        self._lock = threading.Lock()

    def allow(self, target: Target) -> bool:
        if target.throttle is None:
            return True
        key = (target.api_id, target.route_key)
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None or bucket.throttle != target.throttle:
                bucket = self._buckets[key] = TokenBucket(target.throttle)
        return bucket.take()


class FrontServer(ThreadingHTTPServer):
    """The HTTP server, holding what its request handlers need."""

    daemon_threads = True
    # A burst of senders queues like API Gateway's front door, not reset at the default backlog of 5.
    request_queue_size = 256

    def __init__(self, port: int, resolve: Resolver, invoke: Invoker) -> None:
        super().__init__(("127.0.0.1", port), FrontHandler)
        self.resolve = resolve
        self.invoke = invoke
        self.throttles = Throttles()


class FrontHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FrontServer

    def serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_REQUEST_BYTES:
            self.close_connection = True  # the body is left unread
            self.send(*error_response(413, "Request Entity Too Large"))
            return
        body = self.rfile.read(length) if length else b""
        host = HOST_API_ID.match(self.headers.get("Host", ""))
        path = unquote(urlsplit(self.path).path)
        target = self.server.resolve(host.group(1).lower() if host else None, self.command, path)
        if target is None:
            self.send(*error_response(404, "Not Found"))
        elif not self.server.throttles.allow(target):
            self.send(*error_response(429, "Too Many Requests"))
        elif target.function_arn is None:
            self.send(*error_response(500, "Internal Server Error"))
        else:
            headers = list(self.headers.items())
            event = payload_event(target, self.command, self.path, headers, body, self.client_address[0])
            status, answer_headers, answer = http_response(self.server.invoke(target.function_arn, event))
            request_id = event["requestContext"]["requestId"]
            self.send(status, [*answer_headers, ("Apigw-Requestid", request_id)], answer)

    # API Gateway routes every method (ANY, $default), so every one is served the same way.
    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = serve

    def send(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.send_response(status)
        for name, value in headers:
            if name.lower() != "content-length":
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """No request lines on the server's output: they would carry paths and query strings."""


class HttpApiFront:
    """The front on 127.0.0.1 (a free port unless given), served from a daemon thread."""

    def __init__(self, resolve: Resolver, invoke: Invoker, port: int = 0) -> None:
        self._server = FrontServer(port, resolve, invoke)
        self._thread = threading.Thread(target=self._server.serve_forever, name="http-api-front", daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> HttpApiFront:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
