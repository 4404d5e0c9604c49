"""One answer to "is A better data than B for this scene?", whoever gives it.

Every evaluator — the composite (no LM), the pairwise LM judge, a person at the judging page, an
imported verdicts file — answers with a :class:`Verdict`. Verdicts are data: a verdicts file is
JSONL, one :class:`Verdict` per line (``read_verdicts`` / ``write_verdicts``), so verdicts made
anywhere count like any other judge's.

Fields:

- ``scene`` — the scene (gold example) id both candidates annotate;
- ``a``, ``b`` — the two candidates' ids: a variant name for a run's outputs, a candidate id in a
  preference set;
- ``winner`` — ``"a"``, ``"b"`` or ``"tie"``;
- ``margin`` — how strongly, 0 (tie) to 4 (on the 5-point scale: 0 = same, 1 = slightly,
  2 = clearly, 3 = much, 4 = overwhelmingly better); a composite's verdict may give the score
  difference times 4 instead;
- ``why`` — the evaluator's reason in words (may be empty);
- ``source`` — who decided: ``"composite"``, ``"lm:<identity>"``, ``"human:<name>"``,
  ``"import:<file>"``;
- ``kind`` — ``"composite"`` | ``"lm"`` | ``"human"``: the evidence class a spec's ``[judge]`` names;
- ``extra`` — anything else worth keeping (the two orders' raw answers, a flip, a note).

Aggregation (win rate against a baseline, its interval, Bradley–Terry) reads lists of these.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from augmentlab.core.errors import AugmentlabError
from augmentlab.core.fsio import read_jsonl, write_jsonl

Winner = Literal["a", "b", "tie"]
Kind = Literal["composite", "lm", "human"]
MAX_MARGIN = 4.0


class Verdict(BaseModel):
    """One pairwise decision between candidates ``a`` and ``b`` for ``scene``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    scene: str = Field(min_length=1)
    a: str = Field(min_length=1)
    b: str = Field(min_length=1)
    winner: Winner
    margin: float = Field(default=0.0, ge=0.0, le=MAX_MARGIN)
    why: str = ""
    source: str = Field(min_length=1)
    kind: Kind
    extra: dict[str, Any] = Field(default_factory=dict)

    @field_validator("b")
    @classmethod
    def _two_candidates(cls, b: str, info: Any) -> str:
        if info.data.get("a") == b:
            raise ValueError("a verdict compares two different candidates")
        return b

    def preferred(self) -> str | None:
        """The id of the preferred candidate, or ``None`` for a tie."""
        return None if self.winner == "tie" else (self.a if self.winner == "a" else self.b)

    def swapped(self) -> "Verdict":
        """The same decision with ``a`` and ``b`` exchanged."""
        flip = {"a": "b", "b": "a", "tie": "tie"}[self.winner]
        return self.model_copy(update={"a": self.b, "b": self.a, "winner": flip})

    def score_for(self, candidate: str) -> float:
        """1 when ``candidate`` won, 0 when it lost, 0.5 for a tie."""
        if candidate not in (self.a, self.b):
            raise ValueError(f"{candidate!r} is not in this verdict")
        if self.winner == "tie":
            return 0.5
        return 1.0 if self.preferred() == candidate else 0.0


def write_verdicts(path: str | Path, verdicts: Iterable[Verdict]) -> int:
    """Write ``verdicts`` as JSONL (atomically); returns how many were written."""
    return write_jsonl(path, (v.model_dump(mode="json") for v in verdicts))


def read_verdicts(path: str | Path) -> list[Verdict]:
    """Read a verdicts file; a bad row is one :class:`AugmentlabError` naming the file and line."""
    path = Path(path)
    if not path.is_file():
        raise AugmentlabError(f"no verdicts file at {path}")
    out: list[Verdict] = []
    for number, row in enumerate(read_jsonl(path), start=1):
        try:
            out.append(Verdict.model_validate(row))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ())) or "row"
            raise AugmentlabError(f"{path}:{number}: bad verdict ({where}: {first['msg']})") from None
    return out
