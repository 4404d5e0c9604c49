"""The experiment spec: one TOML file says what to compare, and on what.

```toml
name = "quickstart"                      # optional; defaults to the file name
task = "both"                            # scenario | actions | both
gold = ["gold/handwritten.jsonl"]        # paths relative to this file; none: scenes from `script`, judged
script = "scripts/sample.txt"            # optional: augmented with the winner at the end
seed = 0

[split]                                  # fractions of source scenes; caps keep runs small
train = 0.5
dev = 0.2
test = 0.3
max_test = 6

[lm]                                     # augmentlab.lm.LMConfig
kind = "embedded"
max_tokens = 384

[metrics]                                # metrics.composite weights, pass threshold, person
threshold = 0.5
[metrics.weights]
similarity = 0.5

[judge]                                  # which evidence decides: composite | lm | human
kind = "composite"                       # (see experiments.judge_config)

[[variants]]                             # hand-written: variant files (or a saved program)
name = "baseline"
scenario = "prompts/scenario/seed.md"
actions = "prompts/actions/seed.md"

[[variants]]                             # optimized: an optimizer applied to another variant
name = "bootstrap"
optimizer = "bootstrap"
base = "baseline"
max_bootstrapped_demos = 2
```

:func:`load_spec` validates everything that can be checked without an LM — unknown keys (naming
the key and its table), missing files (naming the path), bad weights, unknown optimizers, options
an optimizer does not take, duplicate variant names, undefined base variants — and raises
:class:`~augmentlab.core.errors.AugmentlabError` with one line. Relative paths are resolved against the
spec's folder first, then the project root (the nearest folder above the spec holding
``prompts/``), then the working directory, then the folder of the installed ``prompts`` package.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator

import prompts
from augmentlab.core.errors import AugmentlabError
from augmentlab.lm import LMConfig
from experiments.judge_config import JudgeSpec, check_metrics, check_sources
from experiments.optimizers import OptimizerOptions, canonical_optimizer, get_optimizer, option_names
from experiments.optimizers import names as optimizer_names
from metrics.composite import Weights
from prompts.variants import load_variant

Task = Literal["scenario", "actions", "both"]

class _Table(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class SplitSpec(_Table):
    """``[split]``: fractions of source scenes, the split seed, optional size caps."""

    train: float = Field(0.6, ge=0, le=1)
    dev: float = Field(0.2, ge=0, le=1)
    test: float = Field(0.2, ge=0, le=1)
    seed: int | None = None
    """Defaults to the spec's ``seed``."""
    max_train: int | None = Field(None, ge=0)
    max_dev: int | None = Field(None, ge=0)
    max_test: int | None = Field(None, ge=1)


class MetricsSpec(_Table):
    """``[metrics]``: composite weights, the pass threshold and the expected person."""

    threshold: float = Field(0.5, ge=0, le=1)
    """Score at which a prediction counts as good (bootstrapped demos, pass rates)."""
    person: Literal["first", "third"] | None = None
    """Grammatical person the actions should use, when the metric checks it."""
    weights: dict[str, Any] = Field(default_factory=dict)
    """Passed to :class:`metrics.composite.Weights`."""


class VariantSpec(_Table):
    """One ``[[variants]]`` entry: hand-written (files) or optimized (optimizer + base)."""

    name: str = Field(min_length=1)
    description: str = ""
    # hand-written
    scenario: str | None = None
    actions: str | None = None
    demos: str | None = None
    program: str | None = None
    """A saved program (``prompts/optimized/*.json``) instead of variant files."""
    # optimized
    optimizer: str | None = None
    base: str | None = None
    metric: Literal["composite", "judge"] = "composite"
    """What the optimizer climbs: the composite, or the win rate vs the baseline by ``[judge]``'s LM."""
    # optimizer options: the keys of the optimizer's options model, flat in the table
    # (see experiments.optimizers); checked against that model by load_spec
    _given: dict[str, Any] = PrivateAttr(default_factory=dict)
    _options: OptimizerOptions | None = PrivateAttr(default=None)

    @model_validator(mode="wrap")
    @classmethod
    def _take_options(cls, data: Any, handler: Any) -> VariantSpec:
        """Set the optimizer keys apart (any registered optimizer's); other unknown keys stay errors."""
        if not isinstance(data, dict):
            return handler(data)
        known = set(option_names())
        variant = handler({k: v for k, v in data.items() if k not in known})
        variant._given = {k: v for k, v in data.items() if k in known}
        return variant

    @property
    def optimized(self) -> bool:
        return self.optimizer is not None

    def options(self) -> dict[str, Any]:
        """The optimizer options the spec set (sorted by name; validated once the spec is loaded)."""
        return self._options.given() if self._options is not None else dict(sorted(self._given.items()))

    @property
    def optimizer_options(self) -> OptimizerOptions:
        """The validated options model of an optimized variant (defaults filled by the model)."""
        if self._options is None:
            raise AugmentlabError(f"variant {self.name!r} has no validated optimizer options")
        return self._options


class ExperimentSpec(_Table):
    """A whole experiment spec (see the module docstring for the TOML layout)."""

    name: str | None = None
    description: str = ""
    task: Task = "both"
    gold: list[str] = Field(default_factory=list)
    """Gold sets; without one, scenes are sampled from ``script`` and ``[judge]`` decides."""
    script: str | None = None
    out: str | None = None
    """Output folder for the augmented script (default ``out/<name>/``)."""
    seed: int = 0
    num_threads: int = Field(1, ge=1)
    personas: str | None = None
    """Persona cards (TOML/JSON, see ``augmentlab.augment.read_persona_file``) for ``script``."""
    traces: bool = True
    """Log every evaluated example's (and augmented scene's) LM calls as an MLflow trace."""
    split: SplitSpec = Field(default_factory=SplitSpec)
    lm: LMConfig = Field(default_factory=LMConfig)
    prompt_lm: LMConfig | None = None
    """LM that proposes instructions (MIPROv2); defaults to ``lm``."""
    reflection_lm: LMConfig | None = None
    """LM that reflects on feedback (GEPA); defaults to ``lm``."""
    metrics: MetricsSpec = Field(default_factory=MetricsSpec)
    judge: JudgeSpec = Field(default_factory=JudgeSpec)
    """Which evidence decides (:mod:`experiments.judge_config`)."""
    variants: list[VariantSpec] = Field(min_length=1)

    _path: Path | None = PrivateAttr(default=None)
    _root: Path | None = PrivateAttr(default=None)
    _weights: Weights | None = PrivateAttr(default=None)

    # ---------------------------------------------------------------- resolved views
    @property
    def path(self) -> Path:
        if self._path is None:
            raise AugmentlabError("this spec was not loaded from a file")
        return self._path

    @property
    def spec_name(self) -> str:
        """The experiment name (``name``, else the spec file's stem)."""
        return self.name or (self._path.stem if self._path else "experiment")

    @property
    def project_root(self) -> Path:
        return self._root or Path.cwd()

    def variant(self, name: str) -> VariantSpec:
        for v in self.variants:
            if v.name == name:
                return v
        raise AugmentlabError(f"no variant named {name!r} in {self.spec_name}")

    def lm_configs(self) -> dict[str, LMConfig]:
        """``{"lm": ..., "prompt_lm": ..., "reflection_lm": ...}``: the LM of each role (the two
        optimizer LMs default to ``lm``)."""
        return {
            "lm": self.lm,
            "prompt_lm": self.prompt_lm or self.lm,
            "reflection_lm": self.reflection_lm or self.lm,
        }

    def weights(self) -> Weights:
        """The :class:`metrics.composite.Weights` of ``[metrics.weights]`` (validated once, by :func:`load_spec`)."""
        if self._weights is None:
            self._weights = Weights.model_validate(self.metrics.weights)
        return self._weights

    def out_dir(self, override: str | os.PathLike[str] | None = None) -> Path:
        if override is not None:
            return Path(override)
        if self.out:
            return Path(self.out)
        return Path("out") / self.spec_name

    def secret_env_names(self) -> list[str]:
        """Names of every environment variable holding an API key for this spec's LMs."""
        configs = (self.lm, self.prompt_lm, self.reflection_lm, self.judge.lm)
        return sorted({c.api_key_env for c in configs if c and c.api_key_env})


# ------------------------------------------------------------------------------ loading
def _table_label(loc: tuple[Any, ...], data: dict[str, Any]) -> tuple[str, str]:
    """(table label, key) for a pydantic error location, e.g. ``("[[variants]] 'opt'", "foo")``."""
    if not loc:
        return "the top level", ""
    head = loc[0]
    if head == "variants" and len(loc) >= 2 and isinstance(loc[1], int):
        idx = loc[1]
        name = None
        try:
            name = data["variants"][idx].get("name")
        except (KeyError, IndexError, TypeError, AttributeError):
            pass
        label = f"[[variants]] {name!r}" if name else f"[[variants]] #{idx + 1}"
        return label, ".".join(str(p) for p in loc[2:])
    if len(loc) == 1:  # a rule of a whole table ([judge]'s) is about the table, not a key
        return (f"[{head}]", "") if isinstance(data.get(str(head)), dict) else ("the top level", str(head))
    if head in ("metrics", "judge") and len(loc) >= 2 and loc[1] in ("weights", "lm"):
        return f"[{head}.{loc[1]}]", ".".join(str(p) for p in loc[2:])
    return f"[{head}]", ".".join(str(p) for p in loc[1:])


def _first_error(exc: ValidationError, data: dict[str, Any], prefix: tuple[Any, ...] = ()) -> str:
    err = exc.errors()[0]
    loc = prefix + tuple(err.get("loc", ()))
    table, key = _table_label(loc, data)
    kind = err.get("type", "")
    if kind == "extra_forbidden":
        return f"unknown key {key!r} in {table}"
    if kind == "missing":
        return f"missing key {key!r} in {table}"
    got = err.get("input")
    got_text = "" if isinstance(got, dict | list) else f" (got {got!r})"
    where = f"{key!r} in {table}" if key else table
    message = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
    return f"{where}: {message}{got_text}"


def _project_root(spec_dir: Path) -> Path:
    for folder in (spec_dir, *spec_dir.parents):
        if (folder / "prompts").is_dir():
            return folder
    return Path.cwd()


def _package_root() -> Path:
    """The folder holding the ``prompts`` package (the project, for an editable install)."""
    return Path(prompts.__file__).resolve().parent.parent


def resolve_path(value: str, spec_dir: Path, root: Path) -> Path | None:
    """The first existing candidate for a path written in a spec, else ``None``."""
    raw = Path(os.path.expanduser(value))
    if raw.is_absolute():
        return raw if raw.exists() else None
    for base in (spec_dir, root, Path.cwd(), _package_root()):
        candidate = (base / raw).resolve()
        if candidate.exists():
            return candidate
    return None


def _resolve_variant_file(value: str, task: str, spec_dir: Path, root: Path) -> Path | None:
    found = resolve_path(value, spec_dir, root)
    if found is None and "/" not in value and not value.endswith(".md"):
        # A bare variant name: prompts/<task>/<name>.md under the project root.
        candidate = root / "prompts" / task / f"{value}.md"
        found = candidate if candidate.exists() else None
    return found


def _check_file(value: str, what: str, spec_dir: Path, root: Path) -> str:
    found = resolve_path(value, spec_dir, root)
    if found is None or not found.is_file():
        raise AugmentlabError(f"{what} not found: {value} (looked next to the spec and in {root})")
    return str(found)


def _check_variant_file(path: Path, task: str, label: str) -> Any:
    try:
        return load_variant(path, task=task)
    except AugmentlabError as exc:
        raise AugmentlabError(f"{label}: {exc}") from None


def _validate_variants(spec: ExperimentSpec, spec_dir: Path, root: Path, data: dict[str, Any]) -> None:
    seen: dict[str, VariantSpec] = {}
    for index, v in enumerate(spec.variants):
        label = f"variant {v.name!r}"
        if v.name in seen:
            raise AugmentlabError(f"duplicate variant name {v.name!r} ([[variants]] #{index + 1})")
        if v.optimizer is None:
            if v.base is not None:
                raise AugmentlabError(f"{label}: 'base' needs an 'optimizer'")
            set_options = sorted(v.options())
            if set_options:
                raise AugmentlabError(f"{label}: option {set_options[0]!r} needs an 'optimizer'")
            if v.program:
                if v.scenario or v.actions:
                    raise AugmentlabError(f"{label}: give either 'program' or variant files, not both")
                v.program = _check_file(v.program, f"{label}: program file", spec_dir, root)
            else:
                needed = ("scenario", "actions") if spec.task == "both" else (spec.task,)
                for field in ("actions", "scenario"):  # actions first: it may write the scenario itself
                    value = getattr(v, field)
                    if field in needed and not value:
                        raise AugmentlabError(f"{label}: task {spec.task!r} needs a '{field}' variant file")
                    if field not in needed and value:
                        raise AugmentlabError(f"{label}: '{field}' is not used by task {spec.task!r}")
                    if value:
                        found = _resolve_variant_file(value, field, spec_dir, root)
                        if found is None or not found.is_file():
                            raise AugmentlabError(f"{label}: {field} variant file not found: {value}")
                        variant = _check_variant_file(found, field, label)
                        setattr(v, field, str(found))
                        if field == "actions" and variant.writes_scenario:
                            if spec.task != "both":
                                raise AugmentlabError(
                                    f"{label}: {variant.id} writes the scenario too (writes_scenario = true): use task 'both'"
                                )
                            if v.scenario:
                                raise AugmentlabError(
                                    f"{label}: {variant.id} writes its own scenario: drop the 'scenario' variant file"
                                )
                            needed = ("actions",)
            if v.demos:
                v.demos = _check_file(v.demos, f"{label}: demos file", spec_dir, root)
        else:
            canonical = canonical_optimizer(v.optimizer)
            if canonical is None:
                known = ", ".join(optimizer_names())
                raise AugmentlabError(f"{label}: unknown optimizer {v.optimizer!r} (known: {known})")
            v.optimizer = canonical
            for field in ("scenario", "actions", "demos", "program"):
                if getattr(v, field):
                    raise AugmentlabError(f"{label}: optimized variants take 'base', not '{field}'")
            if not v.base:
                raise AugmentlabError(f"{label}: optimizer {canonical!r} needs 'base' (the variant to start from)")
            if v.base not in seen:
                if any(other.name == v.base for other in spec.variants):
                    raise AugmentlabError(f"{label}: base variant {v.base!r} must be defined above it")
                raise AugmentlabError(f"{label}: base variant {v.base!r} is not defined")
            v._options = _check_options(v, canonical, label, data, index)
        seen[v.name] = v


def _check_options(v: VariantSpec, optimizer: str, label: str, data: dict[str, Any], index: int) -> OptimizerOptions:
    """The variant's keys validated by the optimizer's options model (one line per mistake)."""
    model = get_optimizer(optimizer).Options
    for option in sorted(v._given):
        if option not in model.model_fields:
            raise AugmentlabError(f"{label}: option {option!r} is not used by optimizer {optimizer!r}")
    try:
        return model.model_validate(v._given)
    except ValidationError as exc:
        err = exc.errors()[0]
        if not err.get("loc"):  # a rule of the whole model (one budget)
            raise AugmentlabError(f"{label}: {str(err.get('msg', '')).removeprefix('Value error, ')}") from None
        raise AugmentlabError(_first_error(exc, data, prefix=("variants", index))) from None


def _validate_lm_tables(spec: ExperimentSpec) -> None:
    for table in ("lm", "prompt_lm", "reflection_lm", "judge.lm"):
        config = spec.judge.lm if table == "judge.lm" else getattr(spec, table)
        if config is None:
            continue
        key_env = config.api_key_env
        if key_env is not None and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", str(key_env)):
            raise AugmentlabError(
                f"'api_key_env' in [{table}] must be the NAME of an environment variable, not a key"
            )


def _validate_metrics(spec: ExperimentSpec, data: dict[str, Any]) -> None:
    weights = spec.metrics.weights
    for key, value in weights.items():
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise AugmentlabError(f"weight {key!r} in [metrics.weights] must be a number (got {value!r})")
        if value < 0:
            raise AugmentlabError(f"weight {key!r} in [metrics.weights] must be >= 0 (got {value})")
    try:
        parsed = Weights.model_validate(weights)
    except ValidationError as exc:
        raise AugmentlabError(_first_error(exc, data, prefix=("metrics", "weights"))) from None
    except ValueError as exc:  # a model validator's own message
        raise AugmentlabError(f"[metrics.weights]: {exc}") from None
    numeric = [v for v in parsed.model_dump().values() if isinstance(v, int | float) and not isinstance(v, bool)]
    if numeric and sum(numeric) <= 0:
        raise AugmentlabError("[metrics.weights]: all weights are zero")
    spec._weights = parsed


def parse_spec(data: dict[str, Any], *, path: Path | None = None) -> ExperimentSpec:
    """Validate a spec already read from TOML (``path`` anchors relative paths)."""
    spec_dir = path.parent.resolve() if path else Path.cwd()
    root = _project_root(spec_dir)
    if isinstance(data.get("gold"), str):
        data = {**data, "gold": [data["gold"]]}
    try:
        spec = ExperimentSpec.model_validate(data)
    except ValidationError as exc:
        raise AugmentlabError(_first_error(exc, data)) from None
    spec._path = path.resolve() if path else None
    spec._root = root
    if spec.name is not None and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", spec.name):
        raise AugmentlabError(f"spec name {spec.name!r} may only use letters, digits, '_', '-' and '.'")
    for v in spec.variants:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", v.name):
            raise AugmentlabError(f"variant name {v.name!r} may only use letters, digits, '_', '-' and '.'")
    if abs(spec.split.train + spec.split.dev + spec.split.test - 1.0) > 1e-6:
        total = spec.split.train + spec.split.dev + spec.split.test
        raise AugmentlabError(f"[split] train + dev + test must be 1 (got {total:g})")
    if spec.split.test <= 0:
        raise AugmentlabError("[split] test must be > 0: final numbers are reported on the test split")
    if any(v.optimized for v in spec.variants) and spec.split.train <= 0:
        raise AugmentlabError("[split] train must be > 0 when a variant uses an optimizer")
    spec.gold = [_check_file(g, "gold set", spec_dir, root) for g in spec.gold]
    if spec.script:
        spec.script = _check_file(spec.script, "script", spec_dir, root)
    if spec.personas:
        if not spec.script:
            raise AugmentlabError("'personas' is for the 'script' to augment, but no 'script' is given")
        spec.personas = _check_file(spec.personas, "personas file", spec_dir, root)
    check_sources(spec)
    _validate_variants(spec, spec_dir, root, data)
    _validate_lm_tables(spec)
    _validate_metrics(spec, data)
    check_metrics(spec)
    return spec


def load_spec(path: str | os.PathLike[str]) -> ExperimentSpec:
    """Read and validate an experiment spec file (no LM is touched)."""
    p = Path(path)
    if not p.is_file():
        raise AugmentlabError(f"spec file not found: {p}")
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise AugmentlabError(f"{p.name}: not valid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise AugmentlabError(f"{p.name}: not a UTF-8 text file") from None
    try:
        return parse_spec(data, path=p)
    except AugmentlabError as exc:
        raise AugmentlabError(f"{p.name}: {exc}") from None


def variant_identity(spec: ExperimentSpec, variant: VariantSpec) -> dict[str, Any]:
    """What names a variant wherever it is recorded (run parameters, registered prompts' tags):
    ``spec``, ``variant``, ``kind`` (optimized or hand-written) and ``task``."""
    return {
        "spec": spec.spec_name,
        "variant": variant.name,
        "kind": "optimized" if variant.optimized else "hand-written",
        "task": spec.task,
    }


__all__ = [
    "ExperimentSpec",
    "MetricsSpec",
    "SplitSpec",
    "Task",
    "VariantSpec",
    "load_spec",
    "parse_spec",
    "resolve_path",
    "variant_identity",
]
