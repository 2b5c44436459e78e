"""`python -m lake_ingest try source.json`: one source tried end to end, without an AWS account.

What a deployment gives the function is made locally for one run: a moto server in this process on
127.0.0.1 (S3, KMS and Secrets Manager, as the tests use it), a bucket, a KMS key and, when the auth
type reads one, a secret holding the credentials (from --credentials FILE, or typed at a prompt:
never echoed, never printed). The handler then runs once through lambda_handler, as `run` does, and
the result is printed with what landed per page, read back from the run's manifest. The server is
stopped whatever happens (an error, Ctrl-C); nothing outlives the command.

moto is a dev dependency, imported here only when `try` runs: the handler never imports this module,
so the Lambda package does not need moto.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import logging
import os
import sys
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from . import aws_clients
from .config import ApiConfig, AuthConfig, parse_api_config
from .local import (
    EXIT_FAILED,
    InputError,
    emit,
    error_document,
    exit_status,
    invoke_handler,
    source_environment,
)
from .local_lake import LOCAL_BUCKET, load_folder, save_folder
from .redaction import REDACTOR
from .s3_reads import read_body

REGION = "us-east-1"
BUCKET = LOCAL_BUCKET
DEFAULT_SOURCE_ID = "try"
# What try makes itself: these keys of source.json (written for `run`) are not used.
LOCAL_RESOURCES = {
    "raw_bucket": "RAW_BUCKET",
    "secret_arn": "SECRET_ARN",
    "kms_key_arn": "KMS_KEY_ARN",
    "raw_bucket_owner": "RAW_BUCKET_OWNER",
}
MOTO_MISSING = (
    "moto is not installed; try runs a local AWS with it (a dev dependency): use "
    "`make try SOURCE=...` (it creates .venv), or `pip install -r requirements-dev.txt`"
)


def say(message: str) -> None:
    """A line for the person trying the source (stderr: stdout is the result's)."""
    print(f"try: {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class LocalLake:
    """The resources of one local run: what the module would create for the source."""

    bucket: str
    kms_key_arn: str
    secret_arn: str  # "" when the auth type reads no secret

    def environment(self) -> dict[str, str]:
        env = {"RAW_BUCKET": self.bucket, "KMS_KEY_ARN": self.kms_key_arn}
        return {**env, "SECRET_ARN": self.secret_arn} if self.secret_arn else env


def moto_server_class() -> Any:
    """moto's in-process server class; InputError with what to do when moto is not installed."""
    try:
        from moto.server import ThreadedMotoServer
    except ImportError:
        raise InputError("try", [MOTO_MISSING]) from None
    return ThreadedMotoServer


def use_local_credentials() -> None:
    """Point every AWS client of this process at nothing but the local AWS, with dummy credentials.

    Only this process's environment changes. Every AWS_* variable goes first (a profile, a session
    token, a per-service endpoint such as AWS_ENDPOINT_URL_S3 would otherwise win), and the shared
    config and credentials files are not read, so a real account is never called.
    """
    for name in [name for name in os.environ if name.startswith("AWS_")]:
        del os.environ[name]
    os.environ.update(
        AWS_ACCESS_KEY_ID="test",
        AWS_SECRET_ACCESS_KEY="test",  # noqa: S106 - the local AWS's dummy credentials
        AWS_DEFAULT_REGION=REGION,
        AWS_REGION=REGION,
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
    )


@contextmanager
def local_aws(server_class: Any, quiet: bool = False) -> Iterator[str]:
    """A moto server on 127.0.0.1 and a free port while the block runs; stopped however it ends."""
    use_local_credentials()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request on stderr
    server = server_class(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    endpoint = "http://{}:{}".format(*server.get_host_and_port())
    try:
        os.environ["AWS_ENDPOINT_URL"] = endpoint
        yield endpoint
    finally:
        server.stop()
        # moto's stop() ends serving but leaves the listening socket open until exit: close it.
        listener = getattr(server, "_server", None)
        if listener is not None:
            listener.server_close()
        if not quiet:
            say(f"stopped the local AWS on {endpoint}")


def create_lake(source_id: str, credentials: Mapping[str, Any] | None) -> LocalLake:
    """The bucket, the KMS key and (with credentials) the secret, on the local AWS."""
    import boto3

    boto3.client("s3").create_bucket(Bucket=BUCKET)
    key_arn: str = boto3.client("kms").create_key(Description=f"lake-ingest try {source_id}")["KeyMetadata"][
        "Arn"
    ]
    secret_arn = ""
    if credentials is not None:
        secret_arn = boto3.client("secretsmanager").create_secret(
            Name=f"lake-ingest/{source_id}", SecretString=json.dumps(dict(credentials)), KmsKeyId=key_arn
        )["ARN"]
    return LocalLake(BUCKET, key_arn, secret_arn)


def read_credentials(
    auth: AuthConfig, path: Path | None, stdin: TextIO | None = None
) -> dict[str, Any] | None:
    """The secret's value: the JSON object in `path`, else each field the auth type reads, asked for.

    None when the auth type reads no secret. The values are checked by the handler, as on AWS (a
    missing, empty or non-string field is reported there); they are never echoed or printed.
    """
    if not auth.secret_fields:
        if path is not None:
            say(f"auth type {auth.type!r} reads no secret: {path} is not used")
        return None
    if path is not None:
        return _credentials_file(path, auth)
    if auth.rotates:
        raise InputError(
            "try",
            [
                "auth type 'oauth2_refresh_token' needs --credentials FILE: the provider replaces the "
                "refresh token when it is used, and try writes the new one back to FILE (typed at a "
                "prompt, it would be lost with the local AWS)"
            ],
        )
    stdin = stdin or sys.stdin
    return {name: _ask(name, auth, stdin) for name in auth.secret_fields}


def _credentials_file(path: Path, auth: AuthConfig) -> dict[str, Any]:
    where = f"--credentials {path}"
    try:
        value = json.loads(path.read_text())
    except OSError as error:
        raise InputError(where, [f"cannot be read ({error.strerror or error})"]) from None
    except json.JSONDecodeError as error:  # its message names the place, never the text
        raise InputError(where, [f"is not JSON ({error.msg} at line {error.lineno})"]) from None
    if not isinstance(value, dict):
        example = ", ".join(f'"{name}": "..."' for name in auth.secret_fields)
        raise InputError(where, [f"must be a JSON object of the secret's fields, e.g. {{{example}}}"])
    return value


def _ask(name: str, auth: AuthConfig, stdin: TextIO) -> str:
    """One field, typed at the terminal without echo, or one line of piped input (which no one sees)."""
    prompt = f"{name} for auth type {auth.type!r} (not echoed): "
    if stdin.isatty():
        return getpass.getpass(prompt, stream=sys.stderr)
    print(prompt, file=sys.stderr, flush=True)
    line = stdin.readline()
    if not line:
        raise InputError("try", [f"no value for {name}: the input ended; or give --credentials FILE"])
    return line.rstrip("\r\n")


def keep_rotated_refresh_token(
    secret_arn: str, path: Path, credentials: Mapping[str, Any], auth: AuthConfig
) -> None:
    """Write a refresh token the provider rotated during the run back to the --credentials file.

    The local secret goes away with the local AWS; the file is where the user keeps the token, so
    the next try (or the real secret) starts from the live one. Written whole to a new file that only
    the owner can read (created exclusively: never through a link someone left at that name), then
    renamed over the file's real location (a symbolic link to the file keeps pointing at it).
    """
    import boto3

    field = auth.refresh_token_field
    answer = boto3.client("secretsmanager").get_secret_value(SecretId=secret_arn, VersionStage="AWSCURRENT")
    current = json.loads(answer["SecretString"])
    if current.get(field) == credentials.get(field):
        return
    target = path.resolve()
    write_private(target, json.dumps({**credentials, field: current[field]}, indent=2) + "\n")
    say(f"the provider rotated the refresh token: the new one is saved in {path} (field {field}; mode 0600)")


def write_private(target: Path, text: str) -> None:
    """Replace `target` with `text` atomically, as a file only its owner can read or write."""
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".new", dir=target.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, 0o600)
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def landed(bucket: str, manifest_key: str) -> dict[str, Any]:
    """Per page (stored or quarantined) what a person trying a source asks first, from the manifest."""
    body = read_body(aws_clients.client("s3"), {"Bucket": bucket}, manifest_key)
    manifest = json.loads(body)
    pages = []
    for entry in sorted([*manifest["pages"], *manifest["quarantined"]], key=lambda e: e["index"]):
        page = {"page": entry["index"], "key": entry["key"], "records": entry["records"]}
        page |= {"raw_bytes": entry["raw_bytes"], "content_type": entry["content_type"]}
        page |= {
            k: entry[k] for k in ("records_note", "quarantine_reason", "credentials_masked") if entry.get(k)
        }
        pages.append(page)
    total = sum(p["records"] for p in manifest["pages"] if isinstance(p["records"], int))
    return {"page_details": pages, "total_records": total}


def _open_lake_folder(lake: LocalLake, folder: Path | None, api: ApiConfig) -> None:
    """Start the bucket from the folder's objects (or say what is lost without one)."""
    incremental = api.incremental.type if api.incremental else None
    if folder is None:
        if incremental == "cursor":
            say(
                "the cursor this run stores is discarded with the local AWS, so the next try starts from "
                "initial_value again: give --lake DIR to keep the lake (and the cursor) between tries"
            )
        return
    folder.mkdir(parents=True, exist_ok=True)
    loaded = load_folder(aws_clients.client("s3"), lake.bucket, folder)
    say(f"the local lake {folder}: {loaded} object(s) loaded" + (", a new lake" if not loaded else ""))


def summary(document: Mapping[str, Any]) -> str:
    """One line saying how the run ended, and why when it stopped early."""
    status, pages = document["status"], document.get("page_details", [])
    line = (
        f"{status} ({document['stop_reason']}): {document['pages']} page(s) stored, "
        f"{document.get('total_records', document.get('records_ingested') or 0)} record(s), "
        f"{document['bytes']} raw bytes"
    )
    reasons = [
        f"page {p['page']} quarantined: {p['quarantine_reason']}" for p in pages if "quarantine_reason" in p
    ]
    rejected = (document.get("incremental") or {}).get("rejected") or {}
    if rejected:
        counts = ", ".join(f"{n} {reason}" for reason, n in sorted(rejected.items()))
        reasons.append(f"cursor values not adopted: {counts} (incremental.rejected_example)")
    masked = sum(p.get("credentials_masked", 0) for p in pages)
    if masked:
        reasons.append(f"{masked} credential(s) the API echoed in page bodies were masked before storing")
    return "; ".join([line, *reasons])


def try_source(
    source: Mapping[str, Any],
    event: Any,
    credentials_path: Path | None,
    timeout: float,
    lake_folder: Path | None = None,
) -> int:
    """Try a (checked) source against a local AWS; print the result; return the exit status.

    With `lake_folder`, the local lake starts from what the folder holds and the run's objects are
    written back to it (local_lake.py): a cursor source's next try reads the cursor this one stored.
    """
    server_class = moto_server_class()  # before asking for credentials that could not be used
    env = {k: v for k, v in source_environment(source).items() if k not in LOCAL_RESOURCES.values()}
    api = parse_api_config(env["API_CONFIG"], env)
    source_id = source.get("source_id") or DEFAULT_SOURCE_ID
    unused = [key for key in LOCAL_RESOURCES if source.get(key)]
    if unused:
        say(f"not using {', '.join(unused)} from the source file: try makes its own, locally")
    credentials = read_credentials(api.auth, credentials_path)
    # Masked from here on, in whatever this process prints (the handler does the same on reading them).
    REDACTOR.add(str(v) for v in (credentials or {}).values() if isinstance(v, str))
    with local_aws(server_class) as endpoint:
        lake: LocalLake | None = None
        try:
            lake = create_lake(source_id, credentials)
            say(
                f"local AWS (moto) on {endpoint}: bucket {lake.bucket}, a KMS key, "
                + ("a secret" if lake.secret_arn else "no secret (auth type none)")
            )
            _open_lake_folder(lake, lake_folder, api)
            os.environ.update({**env, "SOURCE_ID": source_id, **lake.environment()})
            result = invoke_handler(event, f"try-{source_id}", timeout)
            document = {**result, **landed(lake.bucket, result["manifest"])}
        except Exception as error:  # noqa: BLE001 - reported, like Lambda's errorType/errorMessage
            document = error_document(error)
            if getattr(error, "error", None) == "invalid_grant":
                say(
                    "the secret named above is try's own local copy of --credentials "
                    f"{credentials_path}: put a refresh token that is still valid in that file (one made "
                    "for trying, not the one a deployed source uses)"
                )
        finally:
            if lake is not None and api.auth.rotates and credentials_path and credentials is not None:
                keep_rotated_refresh_token(lake.secret_arn, credentials_path, credentials, api.auth)
            if lake is not None and lake_folder is not None:
                saved = save_folder(aws_clients.client("s3"), lake.bucket, lake_folder)
                say(f"the local lake {lake_folder} holds {saved} object(s)")
    emit(document)
    if "error" in document:
        say(f"FAILED: {document['error']['errorType']}: {document['error']['errorMessage']}")
        return EXIT_FAILED
    say(summary(document))
    return exit_status(document)
