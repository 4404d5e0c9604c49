"""Reading script files robustly, as a stream of numbered lines.

:func:`open_source` checks the path (missing, directory, empty, binary), settles the encoding
(UTF-8 with or without BOM; otherwise cp1252, or Latin-1 where cp1252 has holes, with a warning)
and returns a :class:`Source`: iterating it yields ``(line_number, text)`` with the line ending
removed (``\\n``, ``\\r\\n`` and a lone ``\\r`` all end a line). Memory stays flat in file size:
the file is read in fixed-size blocks (a line over ``MAX_LINE_CHARS`` is cut into pieces), and
the encoding check runs over fixed-size chunks.
"""

from __future__ import annotations

import codecs
import io
import re
from collections.abc import Callable, Iterable, Iterator
from itertools import chain
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from augmentlab.core.errors import AugmentlabError
from augmentlab.ingest.accounting import Ledger

_CHUNK = 1 << 20
_BLOCK = 1 << 16
"""Characters decoded and split at a time when reading lines (small enough to stay in cache)."""
_SNIFF_BYTES = 8192
MAX_LINE_CHARS = 1 << 20
"""Lines longer than this are cut into pieces of this size (with a warning)."""

_GUTENBERG_START = re.compile(r"^\s*\*{3}\s*START OF (?:THIS|THE) PROJECT GUTENBERG", re.I)
_GUTENBERG_END = re.compile(
    r"^\s*(?:\*{3}\s*END OF (?:THIS|THE) PROJECT GUTENBERG|End of (?:the )?Project Gutenberg)", re.I
)


@dataclass
class Source:
    """A checked script file, iterable as ``(line_number, text)`` pairs (1-based)."""

    path: Path
    encoding: str
    warnings: list[str] = field(default_factory=list)
    size: int = 0
    guess: dict[str, object] = field(default_factory=dict)
    """How the encoding was settled: ``encoding``, ``by`` and, for a guess, ``confidence``."""

    def __iter__(self) -> Iterator[tuple[int, str]]:
        return iter_lines(self.path, self.encoding, self.warnings)

    def script_lines(self, info: dict[str, str] | None = None, ledger: Ledger | None = None) -> Iterator[tuple[int, str]]:
        """The lines without a Project Gutenberg header and footer (see :func:`strip_gutenberg`).

        Reads the header when called; past it, lines flow in blocks with no per-line Python.
        With a ``ledger``, the header and footer lines are reported to it as skipped.
        """
        return _numbered(self.script_blocks(info, ledger))

    def script_blocks(
        self, info: dict[str, str] | None = None, ledger: Ledger | None = None
    ) -> Iterator[tuple[int, list[str]]]:
        """:meth:`script_lines` in blocks: ``(number of the first, [text, ...])``, numbers consecutive."""
        return gutenberg_body_blocks(iter_blocks(self.path, self.encoding, self.warnings), info, ledger)

    def samples(self, windows: int = 3, max_lines: int = 300, max_bytes: int = 24576) -> list[list[str]]:
        """Lines from ``windows`` places further into the file (at 1/4, 2/4, 3/4 of its size):
        a bounded read whatever the file size, for detecting a play inside prose."""
        if self.size < 4 * _SNIFF_BYTES:
            return []
        out: list[list[str]] = []
        try:
            with self.path.open("rb") as fh:
                for k in range(1, windows + 1):
                    unit = 4 if "32" in self.encoding else 2 if "16" in self.encoding else 1
                    fh.seek(self.size * k // (windows + 1) // unit * unit)  # whole code units
                    raw = fh.read(max_bytes)
                    codec = {"utf-16": "utf-16-le", "utf-32": "utf-32-le"}.get(self.encoding, self.encoding)
                    if codec in {"utf-16-le", "utf-32-le"} and self._big_endian():
                        codec = codec.replace("-le", "-be")
                    text = raw.decode(codec.replace("-sig", ""), errors="replace")
                    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")[1:-1]
                    out.append(lines[:max_lines])
        except (OSError, LookupError):
            return []
        return out

    def _big_endian(self) -> bool:
        with self.path.open("rb") as fh:
            start = fh.read(4)
        return start.startswith((codecs.BOM_UTF16_BE, codecs.BOM_UTF32_BE)) and not start.startswith(codecs.BOM_UTF32_LE)

    def head(self, max_lines: int = 400, max_chars: int = 65536) -> list[str]:
        """The first lines (for format detection), without the Gutenberg header."""
        out: list[str] = []
        total = 0
        for _, text in strip_gutenberg(iter(self)):
            out.append(text[:2000])
            total += len(out[-1])
            if len(out) >= max_lines or total >= max_chars:
                break
        return out


def open_source(path: str | Path, encoding: str | None = None) -> Source:
    """Check ``path`` and settle its encoding; raise :class:`AugmentlabError` on bad input.

    A given ``encoding`` always wins (also over the binary check). Otherwise a BOM (UTF-8,
    UTF-16, UTF-32) decides; then UTF-16 without BOM (NUL bytes in every other position);
    then UTF-8; then a guess among legacy encodings (:func:`_guess_legacy`), recorded with its
    confidence in :attr:`Source.guess`.
    """
    p = Path(path)
    if not p.exists():
        raise AugmentlabError(f"script file not found: {p}")
    if p.is_dir():
        raise AugmentlabError(f"{p} is a directory, not a script file")
    try:
        size = p.stat().st_size
        with p.open("rb") as fh:
            head = fh.read(_SNIFF_BYTES)
    except OSError as exc:
        raise AugmentlabError(f"cannot read {p}: {exc.strerror or exc}") from exc
    if size == 0 or not head.strip(b" \t\r\n\xef\xbb\xbf\xff\xfe\x00"):
        raise AugmentlabError(f"{p} is empty")
    warnings: list[str] = []
    guess: dict[str, object] = {}
    if encoding is not None:
        try:
            codecs.lookup(encoding)
        except LookupError as exc:
            raise AugmentlabError(f"unknown text encoding: {encoding!r}") from exc
        guess = {"encoding": encoding, "by": "given"}
    else:
        encoding = _bom_encoding(head)
        if encoding is not None:
            guess = {"encoding": encoding, "by": "byte order mark"}
        elif b"\x00" in head:
            encoding = _utf16_without_bom(head)
            if encoding is None:
                raise AugmentlabError(
                    f"{p} looks like a binary file (it contains NUL bytes), not a script; "
                    "if it is text, pass --encoding"
                )
            guess = {"encoding": encoding, "by": "NUL bytes in every other position (UTF-16 without BOM)"}
        else:
            encoding = _detect_encoding(p, head, warnings, guess)
    return Source(path=p, encoding=encoding, warnings=warnings, size=size, guess=guess)


_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def _bom_encoding(head: bytes) -> str | None:
    for bom, name in _BOMS:  # UTF-32 LE first: its BOM starts with UTF-16 LE's
        if head.startswith(bom):
            return None if name == "utf-8-sig" else name  # UTF-8 with BOM: the UTF-8 check below
    return None


def _utf16_without_bom(head: bytes) -> str | None:
    """``utf-16-le`` / ``utf-16-be`` when NUL bytes fill the odd / even positions of ``head``."""
    sample = head[: len(head) // 2 * 2]
    pairs = len(sample) // 2
    if pairs < 2:
        return None
    odd = sample[1::2].count(0) / pairs
    even = sample[0::2].count(0) / pairs
    for share, other, name in ((odd, even, "utf-16-le"), (even, odd, "utf-16-be")):
        if share >= 0.3 and other <= 0.05:
            try:
                sample.decode(name)
            except UnicodeDecodeError:
                return None
            return name
    return None


_LEGACY = ["cp932", "shift_jis", "euc_jp", "gb18030", "gbk", "big5", "cp1252", "latin_1"]
"""Encodings a non-UTF-8 file is guessed among (charset-normalizer, over a sample)."""
_GUESS_BYTES = 1 << 18


def _guess_legacy(path: Path) -> tuple[str, float] | None:
    """The most plausible legacy encoding of ``path`` and a confidence in 0..1, or ``None``."""
    try:
        from charset_normalizer import from_bytes
    except ImportError:  # pragma: no cover - a declared dependency
        return None
    with path.open("rb") as fh:
        sample = fh.read(_GUESS_BYTES)
    best = from_bytes(sample, cp_isolation=_LEGACY).best()
    if best is None:
        return None
    return codecs.lookup(best.encoding).name, round(1.0 - float(best.chaos), 2)


def _decodes(path: Path, encoding: str) -> bool:
    decoder = codecs.getincrementaldecoder(encoding)()
    try:
        with path.open("rb") as fh:
            while chunk := fh.read(_CHUNK):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _detect_encoding(path: Path, head: bytes, warnings: list[str], guess: dict[str, object]) -> str:
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        with path.open("rb") as fh:
            while chunk := fh.read(_CHUNK):
                if b"\x00" in chunk:
                    raise AugmentlabError(
                        f"{path} looks like a binary file (it contains NUL bytes), not a script; "
                        "if it is text, pass --encoding"
                    )
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        found = _guess_legacy(path)
        if found is not None and _decodes(path, found[0]):
            fallback, confidence = found
        else:
            fallback = "cp1252" if _decodes(path, "cp1252") else "latin-1"
            confidence = 0.0
        guess.update(encoding=fallback, by="guessed (charset-normalizer)", confidence=confidence)
        warnings.append(
            f"{path.name} is not valid UTF-8; decoded as {fallback} "
            f"(a guess, confidence {confidence:.0%}; pass --encoding if the text looks wrong)"
        )
        return fallback
    guess.update(encoding="utf-8", by="valid UTF-8")
    return "utf-8-sig"


def iter_lines(path: Path, encoding: str, warnings: list[str] | None = None) -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, text)``; universal newlines, BOM stripped, huge lines cut."""
    return _numbered(iter_blocks(path, encoding, warnings))


def _numbered(blocks: Iterable[tuple[int, list[str]]]) -> Iterator[tuple[int, str]]:
    """``(first, [text, ...])`` blocks as ``(number, text)`` pairs, iterated in C."""
    return chain.from_iterable(zip(range(first, first + len(lines)), lines) for first, lines in blocks)


def iter_blocks(path: Path, encoding: str, warnings: list[str] | None = None) -> Iterator[tuple[int, list[str]]]:
    """The lines of :func:`iter_lines` in blocks: ``(number of the first, [text, ...])``.

    The file is decoded in blocks of ``_CHUNK`` characters and split on ``\n`` (the text layer
    has already turned ``\r\n`` and a lone ``\r`` into ``\n``). From the first line of
    ``MAX_LINE_CHARS`` characters or more on, the rest of the file is read line by line
    (:func:`_iter_long`, one line or piece per block), so such a line is cut into pieces and
    memory stays bounded.
    """
    number = 0
    with path.open("r", encoding=encoding, errors="replace", newline=None) as fh:
        read = fh.read
        tail = ""
        while block := read(_BLOCK):
            if tail:
                block = tail + block
            lines = block.split("\n")
            tail = lines.pop()
            # No line of a block shorter than MAX_LINE_CHARS can be that long itself.
            if len(block) >= MAX_LINE_CHARS and (
                len(tail) >= MAX_LINE_CHARS or max(map(len, lines), default=0) >= MAX_LINE_CHARS
            ):
                offset = short = 0
                for text in lines:
                    if len(text) >= MAX_LINE_CHARS:
                        break
                    offset += len(text) + 1
                    short += 1
                if short:
                    if number == 0:
                        lines[0] = lines[0].lstrip("\ufeff")
                    yield number + 1, lines[:short]
                    number += short
                for item in _iter_long(_Chained(block[offset:], fh).readline, number, warnings):
                    yield item[0], [item[1]]
                return
            if lines:
                if number == 0:
                    lines[0] = lines[0].lstrip("\ufeff")
                yield number + 1, lines
                number += len(lines)
        if tail:
            yield number + 1, [tail.lstrip("\ufeff") if number == 0 else tail]


class _Chained:
    """``readline(limit)`` over text already read (``head``) and then the rest of ``fh``."""

    def __init__(self, head: str, fh: IO[str]) -> None:
        self._head = io.StringIO(head)
        self._fh = fh
        self._head_done = not head

    def readline(self, limit: int) -> str:
        if self._head_done:
            return self._fh.readline(limit)
        text = self._head.readline(limit)
        if len(text) == limit or text.endswith("\n"):
            return text
        self._head_done = True
        return text + self._fh.readline(limit - len(text))


def _iter_long(
    readline: Callable[[int], str], number: int, warnings: list[str] | None
) -> Iterator[tuple[int, str]]:
    """Line by line from ``readline`` (numbers going on from ``number``), huge lines cut."""
    warned = False
    while text := readline(MAX_LINE_CHARS):
        number += 1
        if text[-1] == "\n":
            if number == 1:
                text = text.lstrip("\ufeff")
            yield number, text[:-1]
            continue
        if number == 1:
            text = text.lstrip("\ufeff")
        if len(text) < MAX_LINE_CHARS:
            yield number, text
            continue
        # A line longer than MAX_LINE_CHARS: yield it in pieces so memory stays bounded.
        if not warned and warnings is not None:
            warnings.append(f"line {number} is longer than {MAX_LINE_CHARS} characters; split into pieces")
            warned = True
        carry = ""
        while True:
            piece = carry + text
            if not text or piece.endswith("\n"):
                if piece.strip():
                    yield number, piece.rstrip("\n")
                break
            cut = piece.rfind(" ")  # cut between words, never inside one
            if cut <= 0:
                cut = len(piece)
            yield number, piece[:cut]
            carry = piece[cut + 1 :]
            text = readline(MAX_LINE_CHARS)


_END_FIRST_CHARS = frozenset("*eE")
_TITLE_RE = re.compile(r"^\s*Title:\s*(\S.*?)\s*$")


def strip_gutenberg(
    lines: Iterator[tuple[int, str]], info: dict[str, str] | None = None
) -> Iterator[tuple[int, str]]:
    """Drop a Project Gutenberg header (up to ``*** START OF ...``) and footer.

    Files without a START marker pass through unchanged (the first 300 lines are buffered
    to look for it). The header's ``Title:`` goes into ``info["title"]`` when given.
    """
    lines = iter(lines)
    buffered: list[tuple[int, str]] = []
    started = False
    for item in lines:
        if not started:
            title = _TITLE_RE.match(item[1])
            if title and info is not None and "title" not in info:
                info["title"] = title.group(1)
            if _GUTENBERG_START.match(item[1]):
                if info is not None:
                    info["gutenberg"] = "yes"
                started = True
                buffered.clear()
                continue
            buffered.append(item)
            if len(buffered) < 300:
                continue
            started = True
            yield from buffered
            buffered.clear()
            continue
        break
    else:
        yield from buffered
        return
    # Past the header: only a line starting (after spaces) with ``*`` or ``E`` can end the book.
    end_match = _GUTENBERG_END.match
    first_chars = _END_FIRST_CHARS
    if end_match(item[1]):
        return
    yield item
    for item in lines:
        text = item[1]
        if text and (text[0] in first_chars or text[0].isspace()) and end_match(text):
            return
        yield item


# ``_GUTENBERG_END`` over a block of lines joined by ``\n``: the same test on every line.
_GUTENBERG_END_IN_BLOCK = re.compile(
    r"^[^\S\n]*(?:\*{3}[^\S\n]*END OF (?:THIS|THE) PROJECT GUTENBERG|End of (?:the )?Project Gutenberg)",
    re.I | re.M,
)


def strip_gutenberg_blocks(
    blocks: Iterable[tuple[int, list[str]]], info: dict[str, str] | None = None
) -> Iterator[tuple[int, str]]:
    """:func:`strip_gutenberg` over :func:`iter_blocks` blocks, giving the same lines.

    The header part (at most 300 lines) is read when called, line by line; past it, each
    block is searched for the footer at once and its lines flow on without per-line Python.
    """
    return _numbered(gutenberg_body_blocks(blocks, info))


def gutenberg_body_blocks(
    blocks: Iterable[tuple[int, list[str]]], info: dict[str, str] | None = None, ledger: Ledger | None = None
) -> Iterator[tuple[int, list[str]]]:
    """:func:`strip_gutenberg_blocks`, still in blocks (the header part as one-line blocks).

    With a ``ledger``, the header (to the START line) and the footer (from the END line to the
    end of the file) are counted into it and reported as skipped.
    """
    blocks = iter(blocks)
    buffered: list[tuple[int, str]] = []
    for first, lines in blocks:
        for i, text in enumerate(lines):
            title = _TITLE_RE.match(text)
            if title and info is not None and "title" not in info:
                info["title"] = title.group(1)
            if _GUTENBERG_START.match(text):
                if info is not None:
                    info["gutenberg"] = "yes"
                if ledger is not None:
                    header = 1 + sum(1 for _, line in buffered if line.strip())
                    ledger.count(header)
                    ledger.skip("Project Gutenberg header", 1, header, last=first + i)
                buffered.clear()
                break
            buffered.append((first + i, text))
            if len(buffered) >= 300:
                break
        else:
            continue
        rest = chain(((first + i + 1, lines[i + 1 :]),), blocks)
        return chain([(number, [text]) for number, text in buffered], _until_footer(rest, ledger))
    return iter([(number, [text]) for number, text in buffered])


def _until_footer(
    blocks: Iterable[tuple[int, list[str]]], ledger: Ledger | None = None
) -> Iterator[tuple[int, list[str]]]:
    search = _GUTENBERG_END_IN_BLOCK.search
    blocks = iter(blocks)
    for first, lines in blocks:
        if not lines:
            continue
        joined = "\n".join(lines)
        # Every footer contains "gutenberg" in some letter case (none of its letters has a
        # case-insensitive match outside ASCII), so most blocks skip the slower regex.
        found = search(joined) if "gutenberg" in joined.lower() else None
        if found is not None:
            cut = joined.count("\n", 0, found.start())
            if cut:
                yield first, lines[:cut]
            if ledger is not None:
                _skip_footer(first + cut, chain([(first + cut, lines[cut:])], blocks), ledger)
            return
        yield first, lines


def _skip_footer(start: int, blocks: Iterable[tuple[int, list[str]]], ledger: Ledger) -> None:
    """Count the footer's non-blank lines (from line ``start`` to the end) as skipped licence text."""
    count = last = 0
    for first, lines in blocks:
        count += len(lines) - list(map(str.strip, lines)).count("")
        last = first + len(lines) - 1
    ledger.count(count)
    ledger.skip("Project Gutenberg footer (licence)", start, count, last=last)
