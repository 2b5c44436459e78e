#!/usr/bin/env python3
"""Build a byte-identical Lambda zip: the given source files plus pinned pure-Python dependencies.

Called by Terraform (terraform_data + local-exec) and by `make package`. Same inputs give the same
bytes on any machine: entries sorted, fixed timestamps and modes, no directory entries, no
machine-specific files (console scripts, RECORD, INSTALLER, bytecode). Dependencies are pure-Python
wheels only (`--platform any --implementation py`), so one zip serves arm64 and x86_64 alike.
Only the standard library is used; pip must be importable by the interpreter running this.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

FIXED_DATE = (1980, 1, 1, 0, 0, 0)
FILE_MODE = 0o644 << 16
EXCLUDED_DIST_INFO = {"RECORD", "INSTALLER", "REQUESTED", "direct_url.json"}
EXCLUDED_TOP = {"bin", "__pycache__"}


def wanted(relative: Path) -> bool:
    """Whether a path (relative to the install root) belongs in the package."""
    parts = relative.parts
    if parts[0] in EXCLUDED_TOP or "__pycache__" in parts or relative.suffix in (".pyc", ".pyo"):
        return False
    return not (parts[0].endswith(".dist-info") and relative.name in EXCLUDED_DIST_INFO)


def install_dependencies(requirements: Path, python_version: str, cache_dir: Path) -> Path:
    """pip-install the pinned requirements once per (requirements, python version) into cache_dir."""
    key = hashlib.sha256(requirements.read_bytes() + python_version.encode()).hexdigest()[:16]
    target = cache_dir / f"deps-{key}"
    if target.is_dir():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="deps-", dir=cache_dir))
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-deps",
        "--no-compile",
        "--root-user-action=ignore",
        "--only-binary=:all:",
        "--platform",
        "any",
        "--implementation",
        "py",
        "--python-version",
        python_version,
        "--target",
        str(staging),
        "-r",
        str(requirements),
    ]
    subprocess.run(command, check=True)
    try:
        staging.rename(target)
    except OSError:  # a concurrent build got there first: its result is the same
        shutil.rmtree(staging, ignore_errors=True)
    return target


def collect(source_dir: Path, source_files: list[str], deps_dir: Path | None) -> dict[str, Path]:
    """Archive name -> file on disk; sources win over dependencies with the same name."""
    entries: dict[str, Path] = {}
    if deps_dir is not None:
        for path in deps_dir.rglob("*"):
            relative = path.relative_to(deps_dir)
            if path.is_file() and wanted(relative):
                entries[relative.as_posix()] = path
    for name in source_files:
        path = source_dir / name
        if not path.is_file():
            raise SystemExit(f"build.py: source file {path} does not exist")
        entries[Path(name).as_posix()] = path
    return entries


def write_zip(entries: dict[str, Path], output: Path) -> str:
    """Write the zip deterministically (atomically replacing output); return its sha256."""
    output.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=output.name, suffix=".tmp", dir=output.parent)
    os.close(handle)
    with zipfile.ZipFile(temporary, "w") as archive:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=FIXED_DATE)
            info.external_attr = FILE_MODE
            info.create_system = 3
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, entries[name].read_bytes(), compresslevel=6)
    os.chmod(temporary, 0o644)  # mkstemp creates 0600; the zip is an artifact others read
    os.replace(temporary, output)
    return hashlib.sha256(output.read_bytes()).hexdigest()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source-dir", required=True, type=Path)
    parser.add_argument(
        "--files", help="JSON list of source files (relative); default: env LAKE_INGEST_FILES"
    )
    parser.add_argument("--requirements", type=Path, help="pinned requirements file; omit for none")
    parser.add_argument("--python-version", default="3.12")
    parser.add_argument("--cache-dir", type=Path, help="where dependency installs are kept")
    parser.add_argument("--output", required=True, type=Path)
    args = parser.parse_args(argv)

    files = json.loads(args.files or os.environ.get("LAKE_INGEST_FILES", "null") or "null")
    if not isinstance(files, list) or not files:
        raise SystemExit("build.py: no source files given (--files or LAKE_INGEST_FILES)")
    cache_dir = args.cache_dir or args.output.parent
    deps = None
    if args.requirements is not None and args.requirements.read_text().strip():
        deps = install_dependencies(args.requirements, args.python_version, cache_dir)
    digest = write_zip(collect(args.source_dir, files, deps), args.output)
    print(f"built {args.output} ({args.output.stat().st_size} bytes, sha256 {digest})")


if __name__ == "__main__":
    main()
