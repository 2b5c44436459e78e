"""Shared by `make demo` and the end-to-end tests: loopback servers and the terraform binary."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
LOCAL_REGION = "us-east-1"


def local_client(service: str, endpoint: str, region: str = LOCAL_REGION, config: Any = None) -> Any:
    """A boto3 client for the local AWS, with its fixed dummy credentials (and a botocore Config)."""
    import boto3

    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id="test",
        aws_secret_access_key="test",  # noqa: S106 - the local AWS's dummy credentials
        config=config,
    )


def local_push_url(push_url: str, http_api_base: str) -> str:
    """A push source's URL (https://<api>.execute-api.<region>.amazonaws.com/hooks/<id>) on the local
    AWS's HTTP API front (local_aws writes its base URL to "<port-file>.http-api"): the same path and
    query on the front's scheme and host. The front matches the path against every API's routes."""
    from urllib.parse import urlsplit, urlunsplit

    url, base = urlsplit(push_url), urlsplit(http_api_base)
    if ".execute-api." not in url.netloc:
        raise ValueError(f"not an API Gateway execute-api URL: {push_url}")
    return urlunsplit((base.scheme, base.netloc, base.path.rstrip("/") + url.path, url.query, url.fragment))


class HarnessError(RuntimeError):
    pass


def copy_example(name: str, workdir: Path) -> Path:
    """A copy of examples/<name> whose module sources point back at this checkout (no state in the tree)."""
    import shutil

    config = workdir / name
    shutil.copytree(
        ROOT / "examples" / name, config, ignore=shutil.ignore_patterns(".terraform*", "*.tfstate*")
    )
    # A relative path keeps it a local module (an absolute one would be copied like a download).
    root = os.path.relpath(ROOT, config)
    main_tf = config / "main.tf"
    text = re.sub(r'(source\s*=\s*)"\.\./\.\./modules/', rf'\1"{root}/modules/', main_tf.read_text())
    main_tf.write_text(re.sub(r'(source\s*=\s*)"\.\./\.\."', rf'\1"{root}"', text))
    return config


class Server:
    """A `python -m <module> --port-file F ...` server on 127.0.0.1, in its own process group."""

    def __init__(self, name: str, args: list[str], workdir: Path) -> None:
        self.name = name
        url_file = workdir / f"{name}.url"
        self.url_file = url_file
        url_file.unlink(missing_ok=True)
        http_api_file = url_file.with_name(url_file.name + ".http-api")  # local_aws's HTTP API front
        http_api_file.unlink(missing_ok=True)
        self.log_path = workdir / f"{name}.log"
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", *args, "--port-file", str(url_file)],
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 30
        while not url_file.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise HarnessError(f"{name} did not start; see {self.log_path}")
            time.sleep(0.1)
        self.url = url_file.read_text().strip()
        # Written before the port file, so it is there by now if the server has such a front.
        self.http_api_url = http_api_file.read_text().strip() if http_api_file.exists() else None

    def stop(self) -> None:
        """SIGTERM to its process group; SIGKILL if it has not ended within 10 s (a busy local AWS
        stopping its pollers and warm workers must not fail the test that merely ends it)."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


def record_servers(servers: list[Server], path: Path) -> None:
    """Write down servers left running (`make demo KEEP=1`), so that another process can stop them."""
    path.write_text(
        json.dumps(
            [
                {"name": s.name, "pid": s.process.pid, "url": s.url, "port_file": str(s.url_file)}
                for s in servers
            ],
            indent=2,
        )
    )


def stop_recorded_servers(path: Path) -> list[str]:
    """Stop the servers recorded in `path` (their whole process groups), remove it, and say what happened.

    A recorded pid is signalled only while its command line still names the server's own port file:
    after a reboot or a long time the pid may belong to another program, which is left alone.
    """
    if not path.exists():
        return [f"nothing to stop: no servers recorded in {path} (make demo KEEP=1 records them)"]
    lines = []
    for server in json.loads(path.read_text()):
        name, pid = server["name"], int(server["pid"])
        if not _running(pid):
            lines.append(f"{name} (pid {pid}) was not running any more")
        elif server["port_file"] not in _command_line(pid):
            lines.append(f"left pid {pid} alone: it is no longer {name} (the pid was reused)")
        else:
            _stop_group(pid)
            lines.append(f"stopped {name} (pid {pid}, {server['url']})")
    path.unlink()
    return lines


def _running(pid: int) -> bool:
    """Whether a process with this pid exists and has not exited (a zombie has)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: running, and not ours
    stat = Path(f"/proc/{pid}/stat")
    if stat.exists():
        try:
            return stat.read_text().rsplit(")", 1)[-1].split()[0] != "Z"
        except OSError:  # it exited in between
            return False
    state = subprocess.run(["ps", "-o", "stat=", "-p", str(pid)], capture_output=True, text=True, check=False)
    return not state.stdout.strip().startswith("Z")


def _command_line(pid: int) -> str:
    cmdline = Path(f"/proc/{pid}/cmdline")
    if cmdline.exists():
        try:
            return cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # it exited in between
            return ""
    ps = subprocess.run(["ps", "-o", "command=", "-p", str(pid)], capture_output=True, text=True, check=False)
    return ps.stdout


def _stop_group(pid: int, wait_seconds: float = 10.0) -> None:
    """SIGTERM to the server's process group (it was started as its leader); SIGKILL if it lingers."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait_seconds
        while _running(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if not _running(pid):
            return


class Terraform:
    """The real terraform binary on one configuration, with an empty CLI config and optional mirror."""

    def __init__(self, config_dir: Path, workdir: Path) -> None:
        self.config_dir = config_dir
        self.log_path = workdir / "terraform.log"
        cli_config = workdir / "terraform.rc"
        cli_config.write_text("")  # no stray settings from the machine's CLI config
        self.plugin_dir = os.environ.get("TF_PLUGIN_DIR", "")
        self.env = {
            **os.environ,
            "TF_CLI_CONFIG_FILE": str(cli_config),
            "TF_IN_AUTOMATION": "1",
            "TF_INPUT": "0",
        }

    def __call__(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = ["terraform", f"-chdir={self.config_dir}", *args]
        process = subprocess.run(command, env=self.env, text=True, capture_output=True, check=False)
        with open(self.log_path, "a") as log:
            log.write(f"$ {' '.join(command)}\n{process.stdout}{process.stderr}\n")
        if check and process.returncode != 0:
            raise HarnessError(
                f"terraform {args[0]} failed:\n{process.stdout[-3000:]}{process.stderr[-3000:]}"
            )
        return process

    def init(self) -> None:
        plugin_dir = [f"-plugin-dir={self.plugin_dir}"] if self.plugin_dir else []
        self("init", "-input=false", "-no-color", *plugin_dir)

    def remove_state(self) -> None:
        for state in self.config_dir.glob("terraform.tfstate*"):
            state.unlink()
