"""Scrubbing of credential values from anything that leaves the process as text, and from page bodies.

A credential can come back in many spellings: the API echoes it in an error body (JSON-escaped by
whatever encoder the vendor uses), in a next-page link (URL-encoded), or as the Basic token.
Every spelling is registered, so a scrub masks all of them; a cut text (an error excerpt) is cut
so that no beginning of any spelling survives at the cut either.

Two tiers: every value of the secret is masked in logs, messages and manifests (`add`); the values
that are secrets in themselves (API keys, passwords, client secrets, tokens: `add_secret`) are also
masked in the page bodies an API sends back (a `links.self` with `?api_key=...`), so they never reach
the lake. A user name or client id is not masked in data: it may be an ordinary word in the records.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from collections.abc import Iterable, Iterator
from urllib.parse import parse_qsl, quote, quote_plus, urlencode, urlsplit, urlunsplit

MASK = "***"
# Very short values would mask ordinary words; no real credential is this short.
MIN_SECRET_LENGTH = 4
# Masked in page bodies only from this length: shorter values would hit ordinary data too often.
MIN_BODY_SECRET_LENGTH = 8
_JSON_ESCAPE = re.compile(r"\\(u[0-9a-f]{4}|.)")


def _upper_hex(escaped: str) -> str:
    """A JSON-escaped string with uppercase \\u escapes (Java's Jackson writes them so)."""
    return _JSON_ESCAPE.sub(
        lambda m: "\\" + m.group(1) if len(m.group(1)) == 1 else "\\u" + m.group(1)[1:].upper(), escaped
    )


def spellings(value: str) -> set[str]:
    """Every form `value` takes in text an API sends back or lake-ingest writes.

    JSON as Python, PHP, Go and Java encoders write it (non-ASCII as \\u escapes or not, Go's
    \\u0026-style escapes of < > &, uppercase hex, '/' as '\\/' as PHP does by default), and
    URL-encoded (percent and form encoding).
    """
    ascii_json = json.dumps(value)[1:-1]
    unicode_json = json.dumps(value, ensure_ascii=False)[1:-1]
    html_safe = unicode_json.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    escaped = {ascii_json, unicode_json, html_safe}
    escaped |= {_upper_hex(form) for form in escaped}
    escaped |= {form.replace("/", "\\/") for form in escaped}
    return {value, quote(value, safe=""), quote_plus(value), *escaped}


class Redactor:
    """Replaces every known credential value, in every spelling, with a mask."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: frozenset[str] = frozenset()
        # Longest first, so a spelling that contains another is masked whole. Replaced, never
        # mutated: concurrent runs in one process read a consistent tuple.
        self._forms: tuple[str, ...] = ()
        # The spellings of the values masked in page bodies too, as UTF-8, longest first.
        self._body_forms: tuple[bytes, ...] = ()

    def add(self, values: Iterable[str]) -> None:
        """Register credential values (the secret's fields) in every spelling they can take."""
        wanted = {v for v in values if isinstance(v, str) and len(v) >= MIN_SECRET_LENGTH}
        with self._lock:
            new = wanted - self._values
            if not new:
                return
            forms = set(self._forms).union(*(spellings(v) for v in new))
            self._values = self._values | new
            self._forms = tuple(sorted(forms, key=len, reverse=True))

    def add_secret(self, values: Iterable[str]) -> None:
        """Register values that are secrets in themselves: masked everywhere `add` masks, and in bodies."""
        wanted = {v for v in values if isinstance(v, str) and len(v) >= MIN_SECRET_LENGTH}
        self.add(wanted)
        in_bodies = {v for v in wanted if len(v) >= MIN_BODY_SECRET_LENGTH}
        if not in_bodies:
            return
        with self._lock:
            forms = set(self._body_forms).union(*({f.encode() for f in spellings(v)} for v in in_bodies))
            self._body_forms = tuple(sorted(forms, key=len, reverse=True))

    def add_basic_auth(self, username: str, password: str) -> None:
        """Register the base64 token of an HTTP Basic Authorization header."""
        self.add_secret([base64.b64encode(f"{username}:{password}".encode()).decode()])

    def body_masker(self) -> BodyMasker:
        """A masker for one page body, with the secrets known now."""
        return BodyMasker(self._body_forms)

    def holds(self, value: str) -> bool:
        """Whether `value` (decoded, e.g. a query parameter's value) is a known credential."""
        return value in self._values

    @property
    def longest(self) -> int:
        """Bytes (UTF-8) of the longest registered spelling: read this much past a cut to see it whole."""
        return max((len(form.encode()) for form in self._forms), default=0)

    def scrub(self, text: str) -> str:
        for form in self._forms:
            if form in text:
                text = text.replace(form, MASK)
        return text

    def truncate(self, text: str, limit: int, *, cut_before: bool = False) -> str:
        """`text` scrubbed and cut to `limit` characters, with nothing of a credential left at the cut.

        A credential crossing the cut would show its first characters: whole spellings are masked
        first, then any ending of the cut text that begins a spelling is masked too. Give the text
        with enough after `limit` (`longest` more) for spellings that start before it to be whole;
        `cut_before`: the text itself was already cut short (more followed it), so its end is a cut.
        """
        scrubbed = self.scrub(text)
        if len(scrubbed) <= limit and not cut_before:
            return scrubbed
        cut = scrubbed[:limit]
        partial = max((_overlap(cut, form) for form in self._forms), default=0)
        return cut[: len(cut) - partial] + MASK if partial else cut

    def without_credentials(self, url: str, param: str | None = None) -> str:
        """`url` without query parameter `param` and without any parameter whose value is a credential.

        APIs echo the credential into the links they hand back (`access_token=...` in a next link);
        such a link is page state (resume events, manifests), so the value must not stay in it.
        The request carries the credential as configured instead. Without `param`, a query with
        nothing to drop is kept as it is; with it, the query is always re-encoded, so URLs with
        and without the auth parameter compare equal (loop detection).
        """
        parts = urlsplit(url)
        pairs = parse_qsl(parts.query, keep_blank_values=True)
        # A credential echoed in a page body is masked before the link is read: drop the mask too.
        kept = [(k, v) for k, v in pairs if k != param and not self.holds(v) and v != MASK]
        if param is None and len(kept) == len(pairs):
            return url
        return urlunsplit(parts._replace(query=urlencode(kept)))


class BodyMasker:
    """Masks secrets in a body that arrives in chunks, a spelling cut by a chunk boundary included.

    The last (longest spelling - 1) bytes are held back until the next chunk shows whether they begin a
    secret. `masked` counts the spellings replaced (the manifest records it per page).
    """

    def __init__(self, forms: tuple[bytes, ...]) -> None:
        self._forms = forms
        self._hold = max((len(f) for f in forms), default=1) - 1
        self._tail = b""
        self.masked = 0

    def filter(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        """The chunks with every secret masked; passes them through untouched when there is none."""
        if not self._forms:
            yield from chunks
            return
        for chunk in chunks:
            data = self._mask(self._tail + chunk)
            cut = len(data) - self._hold
            self._tail = data[cut:] if cut > 0 else data
            if cut > 0:
                yield data[:cut]
        if self._tail:
            yield self._mask(self._tail)
            self._tail = b""

    def _mask(self, data: bytes) -> bytes:
        for form in self._forms:
            found = data.count(form)
            if found:
                self.masked += found
                data = data.replace(form, MASK_BYTES)
        return data


MASK_BYTES = MASK.encode()


def _overlap(text: str, form: str) -> int:
    """Length of the longest end of `text` that is a beginning of `form`."""
    for size in range(min(len(form), len(text)), 0, -1):
        if text.endswith(form[:size]):
            return size
    return 0


# One per process: it only ever grows with values this function has already been given.
REDACTOR = Redactor()
