"""Stream-scanning a JSON body in bounded memory: count the records, pick out pagination values.

The scanner is fed the body chunk by chunk as it streams to S3. It walks the document only along
the paths it was asked about, counts the elements of the records array one at a time with the C
decoder (about 100 MB/s, faster than `json.loads` on the whole body, and without holding it), and
never materialises a single value larger than `max_value_bytes`.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, cast

from .paths import candidates

_WHITESPACE = re.compile(r"[ \t\n\r]*")
# The pattern matches everywhere (possibly empty), so the match is never None.
_skip_whitespace = cast(Callable[[str, int], "re.Match[str]"], _WHITESPACE.match)
_DECODER = json.JSONDecoder()
# For a number cursor: decimals decoded exactly (a float would round 12345678901234567.89 up, past the
# largest value really seen, and the next run would skip what lies between).
EXACT_DECODER = json.JSONDecoder(parse_float=Decimal)
# A decode that fails this close to the end of the buffer may only be missing the next chunk.
_TAIL = 8
_DELIMITERS = frozenset(" \t\n\r,]}")
_SPACES = frozenset(" \t\n\r")
_KINDS = {"{": "object", '"': "string", "t": "boolean", "f": "boolean", "n": "null"}

Path = tuple[str, ...]
# What a record the decoder could not build is handed to `on_record` as (it is still counted and stored).
UNREADABLE: Any = object()
_NeedMore = Generator[None, None, Any]


class Collected:
    """Records handed over into two lists, texts and decoded values, in order (the hot loop appends;
    the owner takes them a batch at a time). An `on_record` that is a Collected costs the scanner two
    list appends per record instead of a Python call."""

    def __init__(self, keep_elements: bool = True) -> None:
        self.texts: list[str | None] = []
        self.elements: list[Any] = []
        # Decoded values are large (several times their text): kept only for an owner that reads them.
        self.keep_elements = keep_elements

    def __call__(self, text: str | None, element: Any) -> None:
        self.texts.append(text)
        if self.keep_elements:
            self.elements.append(element)


class ScanError(ValueError):
    """The body is not valid JSON (or not UTF-8)."""


class ValueTooLarge(ValueError):
    """One JSON value is larger than the scanner may hold."""


class Undecodable(ValueTooLarge):
    """A valid JSON value Python's decoder cannot build: nested deeper than it recurses, or an integer
    past the int-to-text digit limit (4300 digits). A record like that is stepped over (and counted)."""


def split_path(dot_path: str) -> Path:
    """'data.items' -> ('data', 'items'); '' -> () (the top level). The first meaning of the path."""
    return candidates(dot_path)[-1]


@dataclass
class ScanResult:
    """What the scan found. `records` is None when there is no array at the records path."""

    records: int | None = None
    records_problem: str | None = None  # why records is None, as a whole sentence
    values: dict[str, Any] = field(default_factory=dict)  # dot path -> value found there
    invalid: str | None = None  # the body is not JSON: why (the page is quarantined)
    gave_up: str | None = None  # valid so far, but the scan could not follow it (too large, not JSON): why

    @property
    def complete(self) -> bool:
        return self.invalid is None and self.gave_up is None


class JsonScanner:
    """Feed body chunks with `feed`, then call `close` for the result."""

    def __init__(
        self,
        records_path: str,
        capture: Iterable[str] = (),
        max_value_bytes: int = 8 << 20,
        on_record: Callable[[str | None, Any], None] | None = None,
        decoder: json.JSONDecoder = _DECODER,
    ) -> None:
        # on_record sees each element of the records array, one at a time: its exact text and its
        # decoded value (the elements are decoded to be counted anyway).
        self._on_record = on_record
        self._raw_decode = decoder.raw_decode
        self._scan_once = decoder.scan_once  # type: ignore[attr-defined] # set by JSONDecoder.__init__
        self._counting_records = False
        # Every meaning a path may have (paths.py: a key with dots is tried whole first).
        self._records = frozenset(candidates(records_path))
        self._records_where = (
            f"records_path '{records_path}'" if records_path else "the top level (records_path is empty)"
        )
        self._capture = {keys: (p, rank) for p in capture if p for rank, keys in enumerate(candidates(p))}
        self._captured_rank: dict[str, int] = {}
        self._targets = [*self._records, *self._capture]
        self._max_value = max(max_value_bytes, 1024)
        self._utf8 = codecs.getincrementaldecoder("utf-8")()
        self._buf = ""
        self._pos = 0
        self._eof = False
        self._offset = 0  # characters dropped from the front of the buffer
        self._bytes_fed = 0
        self._done = False
        self.result = ScanResult()
        self._parser = self._document()
        self._resume()

    @property
    def invalid(self) -> str | None:
        """Why the body is not JSON, as soon as that is known."""
        return self.result.invalid

    # -- feeding -------------------------------------------------------------------------------

    def feed(self, chunk: bytes) -> None:
        if self._done or not chunk:
            return
        try:
            text = self._utf8.decode(chunk)
            self._bytes_fed += len(chunk)
        except UnicodeDecodeError as exc:
            where = self._bytes_fed + exc.start
            self._stop(invalid=f"body is not valid UTF-8 ({exc.reason} at byte {where})")
            return
        self._buf = self._buf[self._pos :] + text
        self._offset += self._pos
        self._pos = 0
        self._resume()

    def close(self) -> ScanResult:
        if not self._done:
            try:
                self._buf = self._buf[self._pos :] + self._utf8.decode(b"", final=True)
                self._offset += self._pos
                self._pos = 0
            except UnicodeDecodeError as exc:
                self._stop(invalid=f"body is not valid UTF-8 ({exc.reason} at the end)")
                return self.result
            self._eof = True
            self._resume()
            if not self._done:  # pragma: no cover - the parser always finishes at end of input
                self._stop(invalid="body ended inside a JSON value")
        return self.result

    def _resume(self) -> None:
        try:
            next(self._parser)
        except StopIteration:
            self._finish()
        except ScanError as exc:
            self._stop(invalid=str(exc))
        except ValueTooLarge as exc:
            self._stop(gave_up=str(exc))

    def _finish(self) -> None:
        if self.result.records is None and self.result.records_problem is None:
            self.result.records_problem = f"{self._records_where} not found in the body"
        self._stop()

    def _stop(self, invalid: str | None = None, gave_up: str | None = None) -> None:
        self._done = True
        self._buf, self._pos = "", 0
        self.result.invalid = self.result.invalid or invalid
        self.result.gave_up = gave_up
        if invalid or gave_up:
            self.result.records = None

    def _where(self) -> int:
        return self._offset + self._pos

    # -- primitives (generators that yield while they wait for more input) -----------------------

    def _peek(self) -> _NeedMore:
        """Skip whitespace; return the next character without consuming it."""
        while True:
            self._pos = _skip_whitespace(self._buf, self._pos).end()
            if self._pos < len(self._buf):
                return self._buf[self._pos]
            if self._eof:
                raise ScanError(f"body ended early at character {self._where()}")
            yield

    def _decode(self) -> _NeedMore:
        """Decode one whole value at the current position."""
        while True:
            buf, pos = self._buf, self._pos
            try:
                value, end = self._raw_decode(buf, pos)
            except json.JSONDecodeError as exc:
                if self._eof or not (exc.pos >= len(buf) - _TAIL or exc.msg.startswith("Unterminated")):
                    raise ScanError(f"{exc.msg} at character {self._offset + exc.pos}") from None
            except (ValueError, RecursionError) as exc:
                raise Undecodable(
                    f"the JSON value at character {self._where()} cannot be decoded ({type(exc).__name__}: "
                    f"{str(exc)[:80]})"
                ) from None
            else:
                # A number that ends near the end of the buffer may continue in the next chunk
                # ("1." + "5e3"): take it only once a delimiter follows.
                if (
                    self._eof
                    or buf[pos] in '{["'
                    or end < len(buf) - _TAIL
                    or buf[end : end + 1] in _DELIMITERS
                ):
                    self._pos = end
                    return value
            if len(buf) - pos > self._max_value:
                raise ValueTooLarge(
                    f"a single JSON value at character {self._where()} is larger than "
                    f"{self._max_value} bytes (API_CONFIG.max_parse_bytes)"
                )
            yield

    def _key(self) -> _NeedMore:
        if (yield from self._peek()) != '"':
            raise ScanError(f"expected an object key at character {self._where()}")
        key = yield from self._decode()
        if not isinstance(key, str):
            raise ScanError(f"expected an object key at character {self._where()}")
        if (yield from self._peek()) != ":":
            raise ScanError(f"expected ':' at character {self._where()}")
        self._pos += 1
        return key

    def _separator(self, closing: str) -> _NeedMore:
        """Consume ',' (returns True) or the closing bracket (returns False)."""
        char = yield from self._peek()
        self._pos += 1
        if char == ",":
            return True
        if char == closing:
            return False
        raise ScanError(f"expected ',' or '{closing}' at character {self._where() - 1}")

    # -- the walk ------------------------------------------------------------------------------

    def _document(self) -> _NeedMore:
        yield from self._value(())
        while True:  # only whitespace may follow the document
            self._pos = _skip_whitespace(self._buf, self._pos).end()
            if self._pos < len(self._buf):
                raise ScanError(f"unexpected data after the JSON document at character {self._where()}")
            if self._eof:
                return
            yield

    def _leads_to_target(self, path: Path) -> bool:
        return any(len(t) > len(path) and t[: len(path)] == path for t in self._targets)

    def _captured(self, path: Path, value: Any) -> None:
        """A value at a capture path: kept unless a meaning tried earlier (a whole key) was found."""
        name, rank = self._capture[path]
        if rank <= self._captured_rank.get(name, rank):
            self.result.values[name] = value
            self._captured_rank[name] = rank

    def _value(self, path: Path) -> _NeedMore:
        char = yield from self._peek()
        on_records = path in self._records and self.result.records is None
        if char in "[{" and path in self._capture:  # say what is there, without holding it
            self._captured(path, [] if char == "[" else {})
        if char == "[" and not self._leads_to_target(path):
            self._counting_records = on_records
            count = yield from self._count_elements()
            self._counting_records = False
            if on_records:
                self.result.records, self.result.records_problem = count, None
            return
        if char == "[":
            yield from self._array(path)
        elif char == "{":
            yield from self._object(path)
        else:
            value = yield from self._decode()
            if path in self._capture:
                self._captured(path, value)
        if on_records and self.result.records is None:
            kind = _KINDS.get(char, "number")
            self.result.records_problem = f"{self._records_where} holds a JSON {kind}, not a list of records"

    def _object(self, path: Path) -> _NeedMore:
        self._pos += 1
        if (yield from self._peek()) == "}":
            self._pos += 1
            return
        more = True
        while more:
            key = yield from self._key()
            yield from self._value((*path, key))
            more = yield from self._separator("}")

    def _array(self, path: Path) -> _NeedMore:
        self._pos += 1
        if (yield from self._peek()) == "]":
            self._pos += 1
            return
        index, more = 0, True
        while more:
            yield from self._value((*path, str(index)))
            index += 1
            more = yield from self._separator("]")

    def _skip_value(self) -> _NeedMore:
        """Step over one value without decoding it, in bounded memory (a record the decoder cannot build);
        return its text when it is at most max_value_bytes long (None otherwise: not held).

        Strings are stepped over with their escapes, brackets counted; the value's inner syntax is not
        checked (the decoder got past it, or failed only on depth or digits).
        """
        depth, in_string, escaped = 0, False, False
        kept: list[str] | None = [] if self._on_record is not None else None
        kept_size = 0
        while True:
            buf, i = self._buf, self._pos
            begin = i
            done = False
            while i < len(buf):
                char = buf[i]
                if in_string:
                    if escaped:
                        escaped = False
                    elif char == "\\":
                        escaped = True
                    elif char == '"':
                        in_string = False
                        if depth == 0:
                            i, done = i + 1, True
                            break
                elif char == '"':
                    in_string = True
                elif char in "[{":
                    depth += 1
                elif char in "]}":
                    if depth == 0:  # the end of the enclosing array: a scalar ended here
                        done = True
                        break
                    depth -= 1
                    if depth == 0:
                        i, done = i + 1, True
                        break
                elif depth == 0 and char in _DELIMITERS:
                    done = True
                    break
                i += 1
            if kept is not None:
                kept_size += i - begin
                if kept_size > self._max_value:
                    kept = None
                else:
                    kept.append(buf[begin:i])
            self._pos = i
            if done:
                return "".join(kept) if kept is not None else None
            if self._eof:
                if depth or in_string:
                    raise ScanError("body ended inside a JSON value")
                return "".join(kept) if kept is not None else None
            yield

    def _record(self, text: str | None, element: Any) -> None:
        if self._on_record is not None and self._counting_records:
            self._on_record(text, element)

    def _count_elements(self) -> _NeedMore:
        """Step over an array one element at a time (the hot loop); return its length.

        With `on_record`, each element is handed over with its exact text (a slice of the body as it
        arrived: no re-serialization) and its decoded value.
        """
        self._pos += 1
        if (yield from self._peek()) == "]":
            self._pos += 1
            return 0
        count = 0
        skip_space, spaces = _skip_whitespace, _SPACES
        scan_once = self._scan_once  # the C scanner itself: raw_decode without its Python frame
        handing = self._on_record is not None and self._counting_records
        record = self._record
        # A Collected hand-over is two list appends per record, no Python call (see Collected).
        collected = self._on_record if handing and isinstance(self._on_record, Collected) else None
        add_text = collected.texts.append if collected else None
        add_element = collected.elements.append if collected and collected.keep_elements else None
        while True:
            buf, pos = self._buf, self._pos
            size = len(buf)
            # Fast path: decode elements back to back while they are whole in the buffer.
            try:
                while True:
                    if buf[pos] in spaces:
                        pos = skip_space(buf, pos).end()
                    element, end = scan_once(buf, pos)
                    if end >= size - 1:
                        break  # the element or its separator may continue in the next chunk
                    after = end
                    if buf[after] in spaces:
                        after = skip_space(buf, end).end()
                        if after >= size:
                            break
                    char = buf[after]
                    if char != "," and char != "]":
                        break  # a number cut by the chunk end, or an error: the slow path decides
                    if add_text is not None:
                        add_text(buf[pos:end])
                        if add_element is not None:
                            add_element(element)
                    elif handing:
                        record(buf[pos:end], element)
                    pos = self._pos = after + 1
                    if char == "]":
                        return count + 1
                    count += 1
            except (StopIteration, IndexError, ValueError, RecursionError):
                pass  # the C scanner's error (or the buffer's end): the slow path decides
            # Slow path: one element that may span chunks.
            yield from self._peek()
            began = self._where()
            try:
                element = yield from self._decode()
                text: str | None = self._buf[began - self._offset : self._pos]
            except (Undecodable, ValueTooLarge):
                # A record the decoder cannot build, or larger than max_parse_bytes: stepped over in
                # bounded memory, still counted (its text is handed over only if it could be held).
                text = yield from self._skip_value()
                element = UNREADABLE
            record(text, element)
            count += 1
            if not (yield from self._separator("]")):
                return count
