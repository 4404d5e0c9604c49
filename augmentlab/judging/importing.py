"""``augmentlab judge import``: a verdicts file made elsewhere, checked against the run, copied in.

Every verdict must be a human one (``kind = "human"``) about a test scene of the execution and two
of its variants; one bad verdict stops the import before anything is written (one error line
naming the file and the verdict). A verdict the destination already has from the same source for
the same scene and pair is skipped, so importing twice adds nothing. Imported verdicts keep their
source and get ``extra.imported_from``; they are logged to MLflow like the page's.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from augmentlab.core.errors import AugmentlabError
from augmentlab.core.verdicts import Verdict, read_verdicts
from augmentlab.judging.pairs import JudgingSet
from augmentlab.judging.record import VerdictLog, log_feedback, upload_verdicts

_SHOWN_PROBLEMS = 3


@dataclass(frozen=True)
class ImportResult:
    added: int
    skipped: int
    destination: Path
    problems: tuple[str, ...] = ()
    """MLflow logging problems (the verdicts are in the file regardless)."""


def check_against_run(verdicts: list[Verdict], judging: JudgingSet, name: str) -> None:
    """One error listing the first bad verdicts (1-based position in the file), if any."""
    scenes, variants = judging.scene_ids(), set(judging.variants)
    problems = []
    for i, v in enumerate(verdicts, start=1):
        if v.kind != "human":
            problems.append(f"verdict {i}: kind {v.kind!r}, not 'human'")
        elif v.scene not in scenes:
            problems.append(f"verdict {i}: scene {v.scene!r} is not a test scene of the run")
        else:
            unknown = [c for c in (v.a, v.b) if c not in variants]
            if unknown:
                problems.append(f"verdict {i}: {', '.join(repr(c) for c in unknown)} is not a variant of the run "
                                f"({', '.join(judging.variants)})")
    if problems:
        more = f" (and {len(problems) - _SHOWN_PROBLEMS} more)" if len(problems) > _SHOWN_PROBLEMS else ""
        raise AugmentlabError(f"{name}: {'; '.join(problems[:_SHOWN_PROBLEMS])}{more}; nothing imported")


def import_verdicts(judging: JudgingSet, source: str | Path, destination: str | Path, *, mlflow: bool = True) -> ImportResult:
    """Check ``source`` against the run and append its new verdicts to ``destination``."""
    source, destination = Path(source), Path(destination)
    if source.resolve() == destination.resolve():
        raise AugmentlabError(f"{source} is already the run's verdicts file")
    incoming = read_verdicts(source)
    if not incoming:
        raise AugmentlabError(f"{source} holds no verdicts")
    check_against_run(incoming, judging, str(source))
    log = VerdictLog(destination)
    seen = {(v.source, v.scene, frozenset((v.a, v.b))) for v in log.verdicts}
    new = []
    for v in incoming:
        key = (v.source, v.scene, frozenset((v.a, v.b)))
        if key in seen:
            continue
        seen.add(key)
        new.append(v.model_copy(update={"extra": {**v.extra, "imported_from": source.name}}))
    problems: list[str] = []
    for v in new:
        log.append(v)
        if mlflow:
            problems.extend(log_feedback(v, judging))
    if new and mlflow:
        problems.extend(upload_verdicts(destination, judging))
    return ImportResult(added=len(new), skipped=len(incoming) - len(new), destination=destination,
                        problems=tuple(dict.fromkeys(problems)))


__all__ = ["ImportResult", "check_against_run", "import_verdicts"]
