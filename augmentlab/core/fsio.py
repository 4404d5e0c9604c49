"""File I/O every layer shares: a file is replaced whole or not at all, JSONL read and written one way.

* :func:`atomic_open` — a context manager yielding a text handle on a temporary file beside the
  target; the target is replaced only when the block ends without an error (``-`` is stdout).
* :func:`atomic_write_text` / :func:`atomic_write_json` / :func:`write_jsonl` — the usual cases.
* :func:`atomic_path` — for writers that want a path (``np.savez``, ``save_pretrained``): a
  temporary path beside the target, moved into place on success, removed on failure.
* :func:`read_jsonl` — rows of a JSONL file with ``path:line`` in the error for a bad row.

The temporary name is unique (``mkstemp``), so two processes writing the same file never share a
temporary; the rename is atomic on POSIX and Windows. A crash leaves the old file intact.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

from augmentlab.core.errors import AugmentlabError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_MODE = 0o666 & ~_umask()
"""What ``open()`` would give a new file: ``mkstemp`` makes its file owner-only (0600)."""


def _parent(path: Path, *, create: bool) -> Path:
    parent = path.parent if str(path.parent) else Path(".")
    if create:
        parent.mkdir(parents=True, exist_ok=True)
    elif not parent.is_dir():
        raise AugmentlabError(f"output folder does not exist: {parent}")
    if path.is_dir():
        raise AugmentlabError(f"output {path} is a directory")
    return parent


@contextmanager
def atomic_open(path: str | os.PathLike[str], *, create_parent: bool = True, fsync: bool = False) -> Iterator[TextIO]:
    """A UTF-8 text handle (``\\n`` line ends) whose content replaces ``path`` on success.

    ``path`` ``-`` yields stdout. ``create_parent=False`` refuses a missing folder with a one-line
    :class:`AugmentlabError` instead of creating it (what a user-named output wants).
    """
    if str(path) == "-":
        yield sys.stdout
        return
    path = Path(path)
    parent = _parent(path, create=create_parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            yield fh
            if fsync:
                fh.flush()
                os.fsync(fh.fileno())
        os.chmod(tmp, _MODE)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def atomic_path(path: str | os.PathLike[str], *, directory: bool = False, suffix: str = "") -> Iterator[Path]:
    """A temporary path beside ``path`` (a fresh folder when ``directory``) for a writer that wants a
    path; it replaces ``path`` when the block ends without an error and is removed otherwise."""
    path = Path(path)
    parent = _parent(path, create=True) if not directory else path.parent
    parent.mkdir(parents=True, exist_ok=True)
    if directory:
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=parent))
    else:
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".tmp{suffix}", dir=parent)
        os.close(fd)
        tmp = Path(name)
    try:
        yield tmp
        if tmp.is_file():
            os.chmod(tmp, _MODE)
        os.replace(tmp, path)
    except BaseException:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | os.PathLike[str], text: str, *, create_parent: bool = True) -> Path:
    """Replace ``path`` with ``text`` (UTF-8) whole or not at all; returns the path."""
    with atomic_open(path, create_parent=create_parent) as fh:
        fh.write(text)
    return Path(path)


def atomic_write_json(path: str | os.PathLike[str], data: Any, *, indent: int | None = 2, **dumps: Any) -> Path:
    """Replace ``path`` with ``data`` as JSON (non-ASCII kept, a final newline)."""
    return atomic_write_text(path, json.dumps(data, ensure_ascii=False, indent=indent, **dumps) + "\n")


def write_jsonl(path: str | os.PathLike[str], rows: Iterable[Any], *, create_parent: bool = True, fsync: bool = False) -> int:
    """Replace ``path`` with one JSON object per line; returns the number of rows written.

    A row may be a dict (``json.dumps``) or a pydantic model (``model_dump_json``)."""
    count = 0
    with atomic_open(path, create_parent=create_parent, fsync=fsync) as fh:
        for row in rows:
            fh.write(row.model_dump_json() if hasattr(row, "model_dump_json") else json.dumps(row, ensure_ascii=False))
            fh.write("\n")
            count += 1
    return count


def read_jsonl(path: str | os.PathLike[str]) -> list[Any]:
    """The rows of a JSONL file (blank lines skipped); a missing file or a bad row is a one-line
    :class:`AugmentlabError` naming ``path:line``."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise AugmentlabError(f"file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise AugmentlabError(f"cannot read {path}: {exc}") from None
    rows = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise AugmentlabError(f"{path}:{number}: not valid JSON ({exc.msg})") from None
    return rows
