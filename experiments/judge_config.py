"""A spec's ``[judge]`` table: which evidence decides the run's verdict.

```toml
[judge]
kind = "lm"                  # composite (default) | lm | human
prompt = "judge/pairwise"    # lm: the rubric, a variant file under prompts/ (default judge/pairwise)
margin = 1                   # lm: least margin (0-4, the 5-point scale) a win needs; less is a tie

[judge.lm]                   # lm: the judge's own LM, the keys of [lm]
kind = "endpoint"
model = "openai/qwen2.5-7b-instruct"
api_base = "http://127.0.0.1:8080/v1"
```

``kind = "human"`` takes ``verdicts`` (default ``out/<spec name>/verdicts/human.jsonl``, what
``augmentlab judge serve`` writes). The embedded SmolLM2-135M default cannot judge (it answers "A"
whatever the order), so a ``[judge.lm]`` without a ``gguf`` of its own is refused.

:func:`check_sources` and :func:`check_metrics` validate what needs the whole spec: a spec without ``gold`` compares
variants by verdicts only, so it needs ``kind = "lm"`` or ``"human"``; a variant's
``metric = "judge"`` (an optimizer climbing the judge) needs ``kind = "lm"``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from augmentlab.core.errors import AugmentlabError
from augmentlab.lm import LMConfig

if TYPE_CHECKING:
    from experiments.spec import ExperimentSpec

JudgeKind = Literal["composite", "lm", "human"]
DEFAULT_PROMPT = "judge/pairwise"
HUMAN_VERDICTS = "verdicts/human.jsonl"
"""Under the spec's out folder: where ``augmentlab judge serve`` writes human verdicts."""
#: Optimizers that use no metric (they cannot climb the judge).
NO_METRIC = ("labeled",)


class JudgeSpec(BaseModel):
    """``[judge]``: ``kind`` and, for ``lm``, ``[judge.lm]`` / ``prompt`` / ``margin``; for ``human``, ``verdicts``."""

    model_config = ConfigDict(extra="forbid")

    kind: JudgeKind = "composite"
    lm: LMConfig | None = None
    prompt: str | None = None
    margin: float | None = Field(None, ge=0, le=4)
    verdicts: str | None = None

    @model_validator(mode="after")
    def _keys_of_the_kind(self) -> JudgeSpec:
        if self.kind != "lm":
            for key in ("lm", "prompt", "margin"):
                if getattr(self, key) is not None:
                    raise ValueError(f"'{key}' is for kind = \"lm\", not {self.kind!r}")
        if self.kind != "human" and self.verdicts is not None:
            raise ValueError(f"'verdicts' is for kind = \"human\", not {self.kind!r}")
        if self.kind == "lm":
            if self.lm is None:
                raise ValueError('kind = "lm" needs a [judge.lm] table: the judge\'s own LM (the keys of [lm])')
            if self.lm.kind == "embedded" and not self.lm.gguf:
                raise ValueError(
                    "the embedded SmolLM2-135M default cannot judge (it answers the same letter in both orders): "
                    "give [judge.lm] an endpoint (kind = \"endpoint\", model, api_base) or a capable gguf"
                )
        return self

    @property
    def decides(self) -> bool:
        """True when verdicts (not the composite) decide the run."""
        return self.kind in ("lm", "human")

    @property
    def rubric(self) -> str:
        return self.prompt or DEFAULT_PROMPT

    @property
    def min_margin(self) -> float:
        return 1.0 if self.margin is None else self.margin


def check_sources(spec: ExperimentSpec) -> None:
    """The rules between ``[judge]``, ``gold`` and ``script`` (one line each)."""
    judge = spec.judge
    if not spec.gold:
        if not spec.script:
            raise AugmentlabError("a spec needs 'gold' (a gold set) or a 'script' to sample scenes from")
        if not judge.decides:
            raise AugmentlabError(
                "a spec without 'gold' compares variants by verdicts: add [judge] kind = \"lm\" (with [judge.lm]) "
                "or kind = \"human\" (verdicts from `augmentlab judge serve`); the composite without a reference "
                "disagrees with careful readers too often to decide alone"
            )
        if spec.task == "actions":
            raise AugmentlabError("task 'actions' reads the gold scenario: without 'gold' use task 'both' or 'scenario'")


def check_metrics(spec: ExperimentSpec) -> None:
    """A variant's ``metric = "judge"`` against its optimizer and ``[judge]`` (after the variants are checked)."""
    judge = spec.judge
    for v in spec.variants:
        if v.metric != "judge":
            continue
        label = f"variant {v.name!r}"
        if not v.optimized:
            raise AugmentlabError(f"{label}: metric = \"judge\" is what an optimizer climbs: it needs an 'optimizer'")
        if v.optimizer in NO_METRIC:
            raise AugmentlabError(f"{label}: optimizer {v.optimizer!r} uses no metric, so it cannot climb the judge")
        if judge.kind != "lm":
            raise AugmentlabError(f"{label}: metric = \"judge\" needs [judge] kind = \"lm\" (a person cannot be in the loop)")


__all__ = ["DEFAULT_PROMPT", "HUMAN_VERDICTS", "JudgeKind", "JudgeSpec", "check_metrics", "check_sources"]
