"""augmentlab.core.fsio: one way to replace a file whole, and to read/write JSONL."""

import json

import pytest

from augmentlab.core.errors import AugmentlabError
from augmentlab.core.fsio import atomic_open, atomic_path, atomic_write_json, atomic_write_text, read_jsonl, write_jsonl


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old", encoding="utf-8")
    with pytest.raises(RuntimeError):
        with atomic_open(target) as fh:
            fh.write("half")
            raise RuntimeError("crash")
    assert target.read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_write_and_read_jsonl_round_trip_with_unicode(tmp_path):
    rows = [{"id": "a", "text": "Ça va — «oui»"}, {"id": "b", "n": 2}]
    assert write_jsonl(tmp_path / "sub" / "rows.jsonl", rows) == 2
    assert read_jsonl(tmp_path / "sub" / "rows.jsonl") == rows
    assert "Ça va" in (tmp_path / "sub" / "rows.jsonl").read_text(encoding="utf-8")


def test_read_jsonl_names_the_bad_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"a": 1}\n\n{"a": \n', encoding="utf-8")
    with pytest.raises(AugmentlabError, match=r"bad\.jsonl:3: not valid JSON"):
        read_jsonl(path)
    with pytest.raises(AugmentlabError, match="file not found"):
        read_jsonl(tmp_path / "missing.jsonl")


def test_user_named_output_in_a_missing_folder_is_refused(tmp_path):
    with pytest.raises(AugmentlabError, match="output folder does not exist"):
        atomic_write_text(tmp_path / "nope" / "x.txt", "x", create_parent=False)
    with pytest.raises(AugmentlabError, match="is a directory"):
        atomic_write_text(tmp_path, "x")


def test_atomic_json_and_path(tmp_path):
    atomic_write_json(tmp_path / "d.json", {"k": "é"})
    assert json.loads((tmp_path / "d.json").read_text(encoding="utf-8")) == {"k": "é"}
    with atomic_path(tmp_path / "folder", directory=True) as tmp:
        (tmp / "f").write_text("1", encoding="utf-8")
    assert (tmp_path / "folder" / "f").read_text(encoding="utf-8") == "1"
    with pytest.raises(ValueError):
        with atomic_path(tmp_path / "never.bin") as tmp:
            tmp.write_bytes(b"x")
            raise ValueError
    assert not (tmp_path / "never.bin").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.json", "folder"]


def test_a_new_file_gets_the_mode_open_would_give(tmp_path):
    """mkstemp makes its file owner-only; the replaced file must be readable as open() makes it."""
    import os

    mask = os.umask(0o022)
    try:
        import importlib

        import augmentlab.core.fsio as fsio

        importlib.reload(fsio)
        written = fsio.atomic_write_text(tmp_path / "a.txt", "x")
        with fsio.atomic_path(tmp_path / "b.bin") as tmp:
            tmp.write_bytes(b"x")
    finally:
        os.umask(mask)
        importlib.reload(fsio)
    assert written.stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "b.bin").stat().st_mode & 0o777 == 0o644
