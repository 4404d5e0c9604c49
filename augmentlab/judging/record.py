"""Where a person's choice goes: a :class:`~augmentlab.core.verdicts.Verdict` in the verdicts file
(one appended line per verdict, on disk before the page moves on) and MLflow feedback.

- :data:`CHOICES` — the five buttons and the winner / margin each one means (the margin on the
  verdicts' 0–4 scale: "better" is 2, *clearly*; "much better" is 3, *much*);
- :func:`make_verdict` — a choice on a shown pair as a ``Verdict(kind="human", source="human:<name>")``;
- :class:`VerdictLog` — the verdicts file: read once, then appended with one ``write`` + ``fsync``
  per verdict (``O_APPEND``, so two annotators' servers can share a file); a line torn by a crash
  mid-write is cut off when the file is opened again (that verdict was never acknowledged);
- :func:`log_to_mlflow` — the verdict as MLflow feedback with a ``HUMAN`` source
  (``source_id`` = the annotator) on the trace of each side's scene when the run traced it
  (value: 1 won, 0.5 tie, 0 lost; the note as rationale; the opponent, winner and margin as
  metadata), and the verdicts file as an artifact (``verdicts/``) of the execution's run, so the
  run carries its human verdicts even when it has no traces.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import os
import re
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from augmentlab.core.errors import AugmentlabError
from augmentlab.core.verdicts import Verdict, read_verdicts
from augmentlab.judging.pairs import JudgingSet, Shown

logger = logging.getLogger(__name__)

CHOICES: dict[str, tuple[str, float, str]] = {
    "a_much": ("a", 3.0, "A is much better"),
    "a": ("a", 2.0, "A is better"),
    "same": ("tie", 0.0, "About the same"),
    "b": ("b", 2.0, "B is better"),
    "b_much": ("b", 3.0, "B is much better"),
}
"""``choice -> (winner, margin, button label)``, in the order the page shows them."""

FEEDBACK_NAME = "human_preference"
VERDICTS_ARTIFACT_DIR = "verdicts"
NOTE_MAX = 2000
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")


def check_annotator(name: str) -> str:
    """The annotator's name, or one error line: letters, digits, ``_ . @ -``, up to 64."""
    name = name.strip()
    if not _NAME.match(name):
        raise AugmentlabError(
            f"annotator name {name!r}: use letters, digits, '_', '.', '@' or '-' (up to 64, no spaces)"
        )
    return name


def default_verdicts_path(spec_name: str) -> Path:
    """``out/<spec>/verdicts/human.jsonl``: where ``[judge] kind = "human"`` reads verdicts."""
    return Path("out") / spec_name / "verdicts" / "human.jsonl"


def make_verdict(shown: Shown, choice: str, *, annotator: str, note: str, judging: JudgingSet) -> Verdict:
    """A choice on a shown pair as a human :class:`Verdict`; an unknown choice is an error."""
    if choice not in CHOICES:
        raise AugmentlabError(f"unknown choice {choice!r} (one of {', '.join(CHOICES)})")
    winner, margin, label = CHOICES[choice]
    note = " ".join(note.split())[:NOTE_MAX]
    return Verdict(
        scene=shown.pair.scene,
        a=shown.a,
        b=shown.b,
        winner=winner,  # type: ignore[arg-type]
        margin=margin,
        why=note,
        source=f"human:{annotator}",
        kind="human",
        extra={
            "choice": label,
            "shown": {"A": shown.a, "B": shown.b},
            "baseline": judging.baseline,
            "experiment": judging.experiment,
            "run_id": judging.run_id,
            "at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        },
    )


class VerdictLog:
    """A verdicts file that grows one verdict (one line, flushed to disk) at a time."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.repaired = _cut_torn_tail(self.path)
        self.verdicts: list[Verdict] = read_verdicts(self.path) if self.path.is_file() else []
        self._lock = threading.Lock()

    def judged(self, source: str) -> set[tuple[str, frozenset[str]]]:
        """``(scene, {a, b})`` of every pair ``source`` has judged."""
        return {(v.scene, frozenset((v.a, v.b))) for v in self.verdicts if v.source == source}

    def append(self, verdict: Verdict) -> None:
        """Write ``verdict`` as one line: a single ``write`` on an ``O_APPEND`` handle, then ``fsync``."""
        line = (json.dumps(verdict.model_dump(mode="json"), ensure_ascii=False) + "\n").encode("utf-8")
        with self._lock:
            created = not self.path.exists()
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                written = os.write(fd, line)
                if written != len(line):
                    raise OSError(f"short write to {self.path} ({written} of {len(line)} bytes)")
                os.fsync(fd)
            finally:
                os.close(fd)
            if created:
                _fsync_dir(self.path.parent)
            self.verdicts.append(verdict)

    def extend(self, verdicts: Iterable[Verdict]) -> int:
        n = 0
        for v in verdicts:
            self.append(v)
            n += 1
        return n


def _cut_torn_tail(path: Path) -> str:
    """Drop a last line without its newline that is not a whole verdict (a write cut by a crash)."""
    if not path.is_file():
        return ""
    data = path.read_bytes()
    if not data or data.endswith(b"\n"):
        return ""
    head, _, tail = data.rpartition(b"\n")
    try:
        Verdict.model_validate_json(tail)
    except ValueError:
        with open(path, "r+b") as fh:
            fh.truncate(len(head) + 1 if head else 0)
            fh.flush()
            os.fsync(fh.fileno())
        return f"{path}: dropped a torn last line ({len(tail)} bytes) left by an interrupted write"
    with open(path, "ab") as fh:
        fh.write(b"\n")
        fh.flush()
        os.fsync(fh.fileno())
    return ""


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory handles
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


# ------------------------------------------------------------------------------- MLflow
def log_to_mlflow(verdict: Verdict, judging: JudgingSet, verdicts_file: Path | None = None) -> list[str]:
    """The verdict as HUMAN feedback on each side's trace, and ``verdicts_file`` on the execution's
    run; returns what failed, in words (MLflow being away never loses the verdict: the file has it)."""
    problems = log_feedback(verdict, judging)
    if verdicts_file is not None:
        problems += upload_verdicts(verdicts_file, judging)
    return problems


def log_feedback(verdict: Verdict, judging: JudgingSet) -> list[str]:
    """:func:`log_to_mlflow`'s feedback part; returns what failed, in words."""
    try:
        _feedback(verdict, judging)
    except Exception as exc:
        return [_problem("MLflow feedback not logged", exc)]
    return []


def upload_verdicts(verdicts_file: Path, judging: JudgingSet) -> list[str]:
    """The verdicts file as an artifact (``verdicts/``) of the execution's run; what failed, in words."""
    if not judging.run_id:
        return []
    try:
        from mlflow import MlflowClient

        MlflowClient(judging.tracking_uri).log_artifact(judging.run_id, str(verdicts_file), VERDICTS_ARTIFACT_DIR)
    except Exception as exc:
        return [_problem("verdicts file not logged to MLflow", exc)]
    return []


def _problem(what: str, exc: Exception) -> str:
    text = f"{what} ({type(exc).__name__}: {' '.join(str(exc).split())[:200]})"
    logger.warning(text)
    return text


def _feedback(verdict: Verdict, judging: JudgingSet) -> int:
    """One ``human_preference`` feedback on each side's trace; returns how many were logged."""
    from mlflow.entities import AssessmentSource, Feedback
    from mlflow.tracing.client import TracingClient

    sides = [(v, judging.outputs.get((verdict.scene, v))) for v in (verdict.a, verdict.b)]
    sides = [(v, c) for v, c in sides if c is not None and c.trace_id]
    if not sides:
        return 0
    tracing = TracingClient(judging.tracking_uri)
    name = verdict.source.split(":", 1)[1] if ":" in verdict.source else verdict.source
    source = AssessmentSource(source_type="HUMAN", source_id=name)
    for variant, candidate in sides:
        assert candidate is not None
        metadata: dict[str, Any] = {
            "opponent": verdict.b if variant == verdict.a else verdict.a,
            "winner": verdict.preferred() or "tie",
            "margin": str(verdict.margin),
            "shown_as": "A" if variant == verdict.a else "B",
            "verdict_source": verdict.source,
        }
        feedback = Feedback(
            name=FEEDBACK_NAME, value=verdict.score_for(variant), source=source,
            rationale=verdict.why or None, metadata=metadata,
        )
        tracing.log_assessment(candidate.trace_id, feedback)
    return len(sides)


__all__ = [
    "CHOICES",
    "FEEDBACK_NAME",
    "VerdictLog",
    "check_annotator",
    "default_verdicts_path",
    "log_feedback",
    "log_to_mlflow",
    "make_verdict",
    "upload_verdicts",
]
