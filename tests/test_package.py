"""The module's package builder: byte-identical zips, nothing machine-specific inside."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "modules" / "package" / "build.py"
SOURCES = sorted(
    p.relative_to(ROOT / "lambda_src").as_posix()
    for p in (ROOT / "lambda_src").rglob("*.py")
    if "__pycache__" not in p.parts
)


def build(source_dir: Path, output: Path, cache: Path) -> bytes:
    subprocess.run(
        [
            sys.executable,
            str(BUILD),
            "--source-dir",
            str(source_dir),
            "--files",
            json.dumps(SOURCES),
            "--requirements",
            str(source_dir / "requirements.txt"),
            "--cache-dir",
            str(cache),
            "--output",
            str(output),
        ],
        check=True,
        capture_output=True,
    )
    return output.read_bytes()


@pytest.fixture(scope="module")
def two_builds(tmp_path_factory):
    first_dir = tmp_path_factory.mktemp("first")
    second_dir = tmp_path_factory.mktemp("second")
    # The second build runs from a copy of the sources with other mtimes and modes, elsewhere on disk.
    copied = second_dir / "src"
    shutil.copytree(ROOT / "lambda_src", copied, ignore=shutil.ignore_patterns("__pycache__"))
    for path in copied.rglob("*"):
        if path.is_file():
            path.chmod(0o600)
    first = build(ROOT / "lambda_src", first_dir / "a" / "package.zip", first_dir / "cache")
    second = build(copied, second_dir / "b" / "other-name.zip", second_dir / "cache")
    return first, second, first_dir / "a" / "package.zip"


def test_two_builds_are_byte_identical(two_builds):
    first, second, _ = two_builds
    assert hashlib.sha256(first).hexdigest() == hashlib.sha256(second).hexdigest()


def test_entries_are_sorted_with_fixed_dates_and_modes(two_builds):
    _, _, path = two_builds
    assert path.stat().st_mode & 0o777 == 0o644
    with zipfile.ZipFile(path) as archive:
        infos = archive.infolist()
    names = [i.filename for i in infos]
    assert names == sorted(names)
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert {i.external_attr >> 16 for i in infos} == {0o644}
    assert not any(n.endswith("/") for n in names)  # no directory entries


def test_contents_are_the_handler_and_pure_python_dependencies_only(two_builds):
    _, _, path = two_builds
    names = zipfile.ZipFile(path).namelist()
    assert "lake_ingest/handler.py" in names
    assert all(f"lake_ingest/{s.split('/', 1)[1]}" in names for s in SOURCES)
    assert any(n.startswith("requests/") for n in names)
    assert any(n.startswith("aws_lambda_powertools/") for n in names)
    assert not any(n.startswith(("boto3/", "botocore/")) for n in names)  # the runtime provides them
    assert not any(n.endswith((".pyc", ".so")) or "__pycache__" in n for n in names)
    assert not any(n.startswith("bin/") or n.endswith(("/RECORD", "/INSTALLER")) for n in names)
    assert "requirements.txt" not in names


def test_a_source_change_changes_the_zip(two_builds, tmp_path):
    first, _, _ = two_builds
    changed = tmp_path / "src"
    shutil.copytree(ROOT / "lambda_src", changed, ignore=shutil.ignore_patterns("__pycache__"))
    (changed / "lake_ingest" / "__init__.py").write_text('__version__ = "9.9.9"\n')
    assert build(changed, tmp_path / "c.zip", tmp_path / "cache") != first
