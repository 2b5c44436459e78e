"""A loopback HTTP server that streams a JSON array of order records of any size, never held whole.

`GET /orders?bytes=N` answers with a JSON array of about N bytes (exact Content-Length),
`Content-Type: application/json; charset=utf-8`, written as one pre-rendered block of 1000
distinct records repeated (deflate's 32 KiB window cannot see the repeats, so it compresses
like real data).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

RECORDS_PER_BLOCK = 1000


def record(i: int) -> dict:
    return {
        "id": i,
        "customer": {
            "id": i * 7 % 100_003,
            "name": f"Customer {i % 9973}",
            "email": f"c{i % 9973}@example.com",
        },
        "amount_cents": i * 37 % 100_000,
        "currency": "EUR",
        "status": ("paid", "open", "refunded")[i % 3],
        "created_at": f"2026-01-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:00Z",
        "lines": [{"sku": f"SKU-{i % 503}", "qty": 1 + i % 4}],
    }


def block(start: int) -> bytes:
    """RECORDS_PER_BLOCK records, each followed by ', '."""
    return "".join(json.dumps(record(i)) + ", " for i in range(start, start + RECORDS_PER_BLOCK)).encode()


def plan(target: int) -> tuple[int, bytes, int]:
    """(whole blocks, last record, total bytes, records) for a body of about `target` bytes."""
    sample = block(0)
    blocks = max(0, (target - 2) // len(sample))
    last = json.dumps(record(blocks * RECORDS_PER_BLOCK)).encode()
    return blocks, last, 2 + blocks * len(sample) + len(last)


def body_size_and_records(target: int) -> tuple[int, int]:
    blocks, _, total = plan(target)
    return total, blocks * RECORDS_PER_BLOCK + 1


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        target = int(parse_qs(urlsplit(self.path).query).get("bytes", ["1000000"])[0])
        blocks, last, total = plan(target)
        template = block(0)  # rendered once: the server must outrun both handlers
        self.send_response(200)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(total))
        self.end_headers()
        try:
            self.wfile.write(b"[")
            for _ in range(blocks):
                self.wfile.write(template)
            self.wfile.write(last + b"]")
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def log_message(self, format: str, *args: object) -> None:
        return


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port-file", required=True)
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    host, port = server.server_address[:2]
    with open(args.port_file + ".tmp", "w") as handle:
        handle.write(f"http://{host}:{port}")
    os.replace(args.port_file + ".tmp", args.port_file)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        time.sleep(0)


if __name__ == "__main__":
    main()
