"""Warm Lambda workers: a deployed function's zip unpacked once, its handler imported once, events
answered over a pipe, as a warm Lambda execution environment does.

scripts/run_deployed.py starts a fresh Python process per invocation (a cold start every time), which
is right for a scheduled run and far too slow for an HTTP API taking hundreds of requests. A
WarmWorker runs scripts/lambda_bootstrap.py in its --serve mode with the function's environment
(run_deployed.runtime_environment); a WarmPool keeps up to `per_function` of them per function, one
request at a time each (as Lambda gives one execution environment one request at a time), and starts
a fresh one when a worker died, timed out, or the function's code changed.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path
from typing import Any

from scripts.run_deployed import BOOTSTRAP, Invocation, Runtime, runtime_environment


class WarmWorker:
    """One long-lived process running one function's handler."""

    def __init__(self, code: bytes, runtime: Runtime, endpoint: str, region: str) -> None:
        self.runtime = runtime
        self._workdir = Path(tempfile.mkdtemp(prefix="lake-ingest-warm-"))
        task_root = self._workdir / "task"
        zipfile.ZipFile(io.BytesIO(code)).extractall(task_root)
        self._log_path = self._workdir / "output.log"
        self._log_offset = 0
        request_read, self._requests = os.pipe()
        self._responses, response_write = os.pipe()
        with open(self._log_path, "wb") as log:
            self._process = subprocess.Popen(
                [
                    sys.executable,
                    str(BOOTSTRAP),
                    "--serve",
                    runtime.handler,
                    str(runtime.timeout),
                    str(request_read),
                    str(response_write),
                ],
                env=runtime_environment(runtime, task_root, endpoint, region),
                cwd=task_root,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                pass_fds=(request_read, response_write),
            )
        os.close(request_read)
        os.close(response_write)  # so that the worker's exit reads as the end of its answers
        self._pending = b""
        self._stopped = False

    @property
    def pid(self) -> int:
        return self._process.pid

    def alive(self) -> bool:
        return not self._stopped and self._process.poll() is None

    def invoke(self, event: Any) -> Invocation:
        """Send one event and wait for its answer, up to the function's timeout."""
        deadline = time.monotonic() + self.runtime.timeout + 1
        try:
            os.write(self._requests, json.dumps(event).encode() + b"\n")
            line = self._read_line(deadline)
        except OSError:  # the worker is gone (broken pipe)
            line = b""
        if line is None:
            self.stop()
            answer: dict[str, Any] = {
                "error": {
                    "errorType": "Sandbox.Timedout",
                    "errorMessage": f"Task timed out after {self.runtime.timeout:.2f} seconds",
                }
            }
        elif not line:
            answer = {"error": {"errorType": "Runtime.ExitError", "errorMessage": "the worker exited"}}
        else:
            answer = json.loads(line)
        return Invocation(
            result=answer.get("result"),
            error=answer.get("error"),
            module_file=answer.get("module_file"),
            logs=self._new_logs(),
            code_sha256=self.runtime.code_sha256,
            handler=self.runtime.handler,
            timeout=self.runtime.timeout,
        )

    def _read_line(self, deadline: float) -> bytes | None:
        """One answer line; b"" when the worker exited, None past the deadline."""
        while b"\n" not in self._pending:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([self._responses], [], [], remaining)[0]:
                return None
            chunk = os.read(self._responses, 65536)
            if not chunk:
                return b""
            self._pending += chunk
        line, self._pending = self._pending.split(b"\n", 1)
        return line

    def _new_logs(self) -> str:
        """What the handler printed since the last answer (the worker flushes before answering)."""
        with contextlib.suppress(OSError), open(self._log_path, "rb") as log:
            log.seek(self._log_offset)
            text = log.read()
            self._log_offset += len(text)
            return text.decode(errors="replace")
        return ""

    def stop(self) -> None:
        """End the worker and remove its files. Idempotent: a pipe's fd number, once closed, may
        already belong to another thread's file, so it is never closed twice."""
        if self._stopped:
            return
        self._stopped = True
        with contextlib.suppress(OSError):
            os.close(self._requests)  # the worker's loop ends at the end of its input
        if self._process.poll() is None:
            try:
                self._process.wait(timeout=2)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        with contextlib.suppress(OSError):
            os.close(self._responses)
        shutil.rmtree(self._workdir, ignore_errors=True)


class WarmPool:
    """Up to `per_function` warm workers per function ARN; each serves one request at a time."""

    def __init__(self, endpoint: str, per_function: int = 2) -> None:
        self._endpoint = endpoint
        self._per_function = per_function
        self._lock = threading.Lock()
        self._idle: dict[str, list[WarmWorker]] = {}
        self._slots: dict[str, threading.Semaphore] = {}
        self._closed = False

    def invoke(self, code: bytes, runtime: Runtime, region: str, event: Any) -> Invocation:
        with self._slots_for(runtime.function_arn):
            worker = self._take(code, runtime, region)
            try:
                return worker.invoke(event)
            finally:
                self._give_back(worker)

    def _slots_for(self, function_arn: str) -> threading.Semaphore:
        with self._lock:
            return self._slots.setdefault(function_arn, threading.Semaphore(self._per_function))

    def _take(self, code: bytes, runtime: Runtime, region: str) -> WarmWorker:
        """An idle worker running this very code and configuration, else a new one (stale ones stop)."""
        with self._lock:
            idle = self._idle.get(runtime.function_arn, [])
            fitting = [w for w in idle if w.runtime == runtime and w.alive()]
            stale = [w for w in idle if w not in fitting]
            self._idle[runtime.function_arn] = fitting[1:]
        for worker in stale:
            worker.stop()
        return fitting[0] if fitting else WarmWorker(code, runtime, self._endpoint, region)

    def _give_back(self, worker: WarmWorker) -> None:
        with self._lock:
            keep = worker.alive() and not self._closed
            if keep:
                self._idle.setdefault(worker.runtime.function_arn, []).append(worker)
        if not keep:
            worker.stop()

    def close(self) -> None:
        """Stop every idle worker; a busy one stops when its request ends."""
        with self._lock:
            self._closed = True
            workers = [w for idle in self._idle.values() for w in idle]
            self._idle.clear()
        for worker in workers:
            worker.stop()
