"""Where the operator commands find a source's lake: its bucket on AWS, or a local lake in a folder.

A **local lake** is a folder holding a bucket's objects as files, one per key (`DIR/<raw_prefix>/...`).
`try --lake DIR` starts from it and writes back what the run left, so a cursor source's second try
reads the cursor its first one stored; `runs`, `records`, `state`, `query`... `--lake DIR` read it the
same way. Each command loads the folder into a local AWS in this process (moto, a dev dependency, as
`try` uses it) and runs the very code it runs against AWS; a command that writes (`state set`, `schema
accept`) saves the bucket back to the folder. Nothing outlives the command.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import aws_clients
from .local import InputError

LOCAL_BUCKET = "lake-ingest-try"


@dataclass(frozen=True)
class Lake:
    """A source's lake as a command reaches it: an S3 client, the bucket and the source's prefix."""

    client: Any
    bucket: str
    prefix: str
    expected_owner: str | None = None
    kms_key_arn: str | None = None
    where: str = ""  # said to people: the bucket, or the folder

    @property
    def target(self) -> dict[str, str]:
        """Bucket (and ExpectedBucketOwner) arguments of every request."""
        target = {"Bucket": self.bucket}
        return {**target, "ExpectedBucketOwner": self.expected_owner} if self.expected_owner else target


def source_prefix(source: Mapping[str, Any]) -> str:
    return str(source.get("raw_prefix") or source.get("source_id") or "try")


def load_folder(client: Any, bucket: str, folder: Path) -> int:
    """Put every file below `folder` into `bucket` under its relative path; how many."""
    count = 0
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        key = path.relative_to(folder).as_posix()
        client.put_object(Bucket=bucket, Key=key, Body=path.read_bytes())
        count += 1
    return count


def save_folder(client: Any, bucket: str, folder: Path) -> int:
    """Write every object of `bucket` to `folder` (a file per key, replaced whole); how many."""
    count = 0
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            target = folder / item["Key"]
            if folder.resolve() not in target.resolve().parents:
                raise InputError("--lake", [f"the key {item['Key']!r} would leave {folder}"])
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(f".{target.name}.part")
            partial.write_bytes(client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read())
            partial.replace(target)
            count += 1
    return count


@contextmanager
def local_lake(folder: Path, writes: bool = False) -> Iterator[Any]:
    """An S3 client on a local AWS whose bucket LOCAL_BUCKET holds the folder's objects; saved back to
    the folder afterwards when the command `writes` (and did not fail)."""
    from .trial import local_aws, moto_server_class  # moto: only for a local lake

    if not folder.is_dir():
        raise InputError("--lake", [f"{folder} is not a folder: `try --lake {folder}` makes one"])
    with local_aws(moto_server_class(), quiet=True):
        client = aws_clients.client("s3")
        client.create_bucket(Bucket=LOCAL_BUCKET)
        load_folder(client, LOCAL_BUCKET, folder)
        yield client
        if writes:
            save_folder(client, LOCAL_BUCKET, folder)


@contextmanager
def open_lake(source: Mapping[str, Any], args: argparse.Namespace, writes: bool = False) -> Iterator[Lake]:
    """The source's lake: the folder `--lake`, else its `raw_bucket` through the usual AWS chain."""
    prefix = source_prefix(source)
    folder = getattr(args, "lake", None)
    if folder is not None:
        with local_lake(Path(folder), writes) as client:
            yield Lake(client, LOCAL_BUCKET, prefix, where=f"the local lake {folder}")
        return
    if "raw_bucket" not in source:
        raise InputError(
            str(args.config), ["raw_bucket: is required to reach the lake (or give --lake DIR, a local lake)"]
        )
    import boto3

    session = boto3.session.Session(profile_name=args.profile, region_name=args.region)
    client = aws_clients.client("s3", session, args.endpoint_url)
    yield Lake(
        client,
        source["raw_bucket"],
        prefix,
        expected_owner=source.get("raw_bucket_owner"),
        kms_key_arn=source.get("kms_key_arn"),
        where=f"s3://{source['raw_bucket']}/{prefix}/",
    )


def add_lake_options(parser: argparse.ArgumentParser) -> None:
    """--lake DIR, or the usual AWS options."""
    parser.add_argument("--lake", type=Path, help="a local lake folder (try --lake DIR) instead of AWS")
    for flag, text in (
        ("--profile", "AWS profile"),
        ("--region", "AWS region"),
        ("--endpoint-url", "AWS endpoint"),
    ):
        parser.add_argument(flag, help=text)
