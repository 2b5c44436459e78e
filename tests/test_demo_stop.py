"""`make stop` ends what `make demo KEEP=1` left running; `make demo` ends with what to do next.

The servers are started the way the demo starts them (scripts.harness.Server, each its own process
group) by a process that then exits, as the demo does with KEEP=1, so they are really orphaned.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from scripts.demo import TRY_TEMPLATE, next_steps
from scripts.harness import ROOT, stop_recorded_servers

LEAVE_SERVERS_RUNNING = """
import sys
from pathlib import Path
from scripts.harness import Server, record_servers
work = Path(sys.argv[1])
servers = [Server(name, ["scripts.upstream", "--token", "t"], work) for name in ("sample-api", "other-api")]
record_servers(servers, work / "servers.json")
"""


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def port_is_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().rsplit(")", 1)[-1].split()[0] == "Z")


def stop_cli(servers_file: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "scripts.demo", "--stop", "--servers-file", str(servers_file)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )


def test_stop_ends_the_servers_a_kept_demo_left_running(tmp_path):
    subprocess.run(
        [sys.executable, "-c", LEAVE_SERVERS_RUNNING, str(tmp_path)], cwd=ROOT, check=True, timeout=60
    )
    servers_file = tmp_path / "servers.json"
    recorded = json.loads(servers_file.read_text())
    assert [s["name"] for s in recorded] == ["sample-api", "other-api"]
    assert all(port_is_open(port_of(s["url"])) and pid_exists(s["pid"]) for s in recorded)

    process = stop_cli(servers_file)

    for server in recorded:
        assert f"stopped {server['name']} (pid {server['pid']}, {server['url']})" in process.stdout
        assert not port_is_open(port_of(server["url"]))
        assert not pid_exists(server["pid"])
    assert not servers_file.exists()
    again = stop_cli(servers_file)
    assert again.stdout.startswith("nothing to stop: no servers recorded in")


def test_stop_leaves_a_reused_pid_alone(tmp_path):
    """A recorded pid now held by another program (a reboot, a long time) is not signalled."""
    stranger = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        servers_file = tmp_path / "servers.json"
        gone = subprocess.Popen(["true"])
        gone.wait()
        servers_file.write_text(
            json.dumps(
                [
                    {
                        "name": "sample-api",
                        "pid": stranger.pid,
                        "url": "http://127.0.0.1:1",
                        "port_file": "x.url",
                    },
                    {"name": "local-aws", "pid": gone.pid, "url": "http://127.0.0.1:2", "port_file": "y.url"},
                ]
            )
        )
        lines = stop_recorded_servers(servers_file)
        assert lines == [
            f"left pid {stranger.pid} alone: it is no longer sample-api (the pid was reused)",
            f"local-aws (pid {gone.pid}) was not running any more",
        ]
        time.sleep(0.2)
        assert stranger.poll() is None  # still running
        assert not servers_file.exists()
    finally:
        stranger.send_signal(signal.SIGTERM)
        stranger.wait(timeout=10)


def test_the_demo_ends_with_next_steps_that_exist():
    steps = next_steps(None)
    assert steps.startswith("\n==> next steps\n")
    assert f"copy {TRY_TEMPLATE}" in steps and "make try SOURCE=" in steps
    assert "make test" in steps and "examples/basic" in steps
    assert "make stop" not in steps  # nothing was left running
    assert "make demo KEEP=1" in steps  # how to keep it up to look around
    assert "make try SOURCE=my-source.json LAKE=lake" in steps and "--lake lake" in steps  # a kept local lake
    assert "docs/README.md" in steps and (ROOT / "docs" / "README.md").is_file()
    assert (ROOT / TRY_TEMPLATE).is_file() and (ROOT / "examples" / "basic" / "README.md").is_file()
    makefile = (ROOT / "Makefile").read_text()
    assert "\ntry: " in makefile and "\nstop: " in makefile and "\ntest: " in makefile


def test_a_kept_demo_says_where_its_servers_are_and_how_to_stop_them():
    steps = next_steps({"local-aws": "http://127.0.0.1:4566", "sample-api": "http://127.0.0.1:8080"})
    assert "local AWS http://127.0.0.1:4566, sample API http://127.0.0.1:8080" in steps
    assert "aws --endpoint-url http://127.0.0.1:4566 s3 ls" in steps
    assert steps.rstrip().endswith("stop them: make stop")
