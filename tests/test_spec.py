"""Experiment spec validation: every kind of mistake is one clear line (experiments.spec)."""

from __future__ import annotations

from pathlib import Path

import pytest

from augmentlab.core.errors import AugmentlabError
from experiments.optimizers import canonical_optimizer
from experiments.spec import load_spec

VARIANT = """+++
name = "{name}"
task = "{task}"
+++
Write it well.
"""

BASE = """
name = "t"
task = "both"
gold = ["gold.jsonl"]

[split]
train = 0.5
dev = 0.25
test = 0.25

[lm]
kind = "fake"

[[variants]]
name = "baseline"
scenario = "scen.md"
actions = "act.md"
"""


@pytest.fixture()
def spec_dir(tmp_path: Path) -> Path:
    (tmp_path / "gold.jsonl").write_text("")
    (tmp_path / "scen.md").write_text(VARIANT.format(name="scen", task="scenario"))
    (tmp_path / "act.md").write_text(VARIANT.format(name="act", task="actions"))
    return tmp_path


def _load(spec_dir: Path, text: str):
    path = spec_dir / "spec.toml"
    path.write_text(text)
    return load_spec(path)


def _error(spec_dir: Path, text: str) -> str:
    with pytest.raises(AugmentlabError) as info:
        _load(spec_dir, text)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("spec.toml: ")
    return message


def test_valid_spec_resolves_paths_and_defaults(spec_dir: Path) -> None:
    spec = _load(
        spec_dir,
        BASE
        + """
[[variants]]
name = "boot"
optimizer = "BootstrapFewShot"
base = "baseline"
max_bootstrapped_demos = 2
metric_threshold = 0.6
""",
    )
    assert spec.spec_name == "t"
    assert spec.gold == [str(spec_dir / "gold.jsonl")]
    assert spec.variants[0].scenario == str(spec_dir / "scen.md")
    boot = spec.variant("boot")
    assert boot.optimizer == "bootstrap"
    assert boot.options() == {"max_bootstrapped_demos": 2, "metric_threshold": 0.6}
    assert spec.lm_configs()["lm"].kind == "fake"
    assert spec.lm_configs()["reflection_lm"] == spec.lm_configs()["lm"]
    assert spec.weights().similarity > 0
    assert spec.out_dir() == Path("out") / "t"


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda s: s.replace('task = "both"', 'task = "both"\ncolour = "red"'), "unknown key 'colour' in the top level"),
        (lambda s: s.replace("test = 0.25", "test = 0.25\nshuffle = true"), "unknown key 'shuffle' in [split]"),
        (lambda s: s.replace('kind = "fake"', 'kind = "fake"\napi_key = "sk-1"'), "unknown key 'api_key' in [lm]"),
        (lambda s: s + 'temperature = 0.1\n', "unknown key 'temperature' in [[variants]] 'baseline'"),
        (lambda s: s.replace('kind = "fake"', 'kind = "cloud"'), "'kind' in [lm]"),
        (lambda s: s.replace('gold = ["gold.jsonl"]', 'gold = ["missing.jsonl"]'), "gold set not found: missing.jsonl"),
        (lambda s: s.replace('scenario = "scen.md"', 'scenario = "nope/scen.md"'), "scenario variant file not found: nope/scen.md"),
        (lambda s: s.replace('actions = "act.md"', ""), "task 'both' needs a 'actions' variant file"),
        (lambda s: s + '\n[metrics.weights]\nsimilarity = -1\n', "weight 'similarity' in [metrics.weights] must be >= 0"),
        (lambda s: s + '\n[metrics.weights]\nsparkle = 1\n', "unknown key 'sparkle' in [metrics.weights]"),
        (
            lambda s: s + "\n[metrics.weights]\nsimilarity = 0\nrelevance = 0\nverbatim = 0\ncast = 0\ngrounding = 0\n"
            "contradiction = 0\nformat = 0\nsetup = 0\n",
            "[metrics.weights]: metric weights must not all be zero",
        ),
        (lambda s: s.replace("test = 0.25", "test = 0.5"), "train + dev + test must be 1"),
        (lambda s: s + '\n[[variants]]\nname = "baseline"\nscenario = "scen.md"\nactions = "act.md"\n', "duplicate variant name 'baseline'"),
        (lambda s: s + '\n[[variants]]\nname = "x"\noptimizer = "annealing"\nbase = "baseline"\n', "unknown optimizer 'annealing'"),
        (lambda s: s + '\n[[variants]]\nname = "x"\noptimizer = "bootstrap"\nbase = "ghost"\n', "base variant 'ghost' is not defined"),
        (lambda s: s + '\n[[variants]]\nname = "x"\noptimizer = "bootstrap"\n', "needs 'base'"),
        (lambda s: s + '\n[[variants]]\nname = "x"\noptimizer = "bootstrap"\nbase = "baseline"\nnum_trials = 3\n', "option 'num_trials' is not used by optimizer 'bootstrap'"),
        (lambda s: s + '\n[[variants]]\nname = "x"\noptimizer = "gepa"\nbase = "baseline"\nauto = "light"\nmax_metric_calls = 5\n', "GEPA takes one budget"),
        (lambda s: s.replace('kind = "fake"', 'kind = "endpoint"\nmodel = "openai/x"\napi_key_env = "sk-abc def"'), "NAME of an environment variable"),
        (lambda s: s.replace("[split]", "[split\n"), "not valid TOML"),
    ],
)
def test_spec_errors_are_one_line(spec_dir: Path, edit, expected: str) -> None:
    assert expected in _error(spec_dir, edit(BASE))


def test_base_defined_below_is_reported(spec_dir: Path) -> None:
    text = BASE.replace(
        '[[variants]]\nname = "baseline"',
        '[[variants]]\nname = "boot"\noptimizer = "bootstrap"\nbase = "baseline"\n\n[[variants]]\nname = "baseline"',
    )
    assert "must be defined above it" in _error(spec_dir, text)


def test_missing_spec_file(tmp_path: Path) -> None:
    with pytest.raises(AugmentlabError, match="spec file not found"):
        load_spec(tmp_path / "nope.toml")


def test_optimizer_spellings() -> None:
    assert canonical_optimizer("MIPROv2") == "mipro"
    assert canonical_optimizer("BootstrapFewShotWithRandomSearch") == "random_search"
    assert canonical_optimizer("random_search") == "random_search"
    assert canonical_optimizer("LabeledFewShot") == "labeled"
    assert canonical_optimizer("GEPA") == "gepa"
    assert canonical_optimizer("simba") is None


@pytest.mark.parametrize("name", ["quickstart", "seed_variants", "optimizers", "scene_prompts"])
def test_shipped_specs_are_valid(repo_root: Path, name: str) -> None:
    spec = load_spec(repo_root / "experiments" / f"{name}.toml")
    assert spec.spec_name == name
    assert spec.variants[0].optimizer is None


@pytest.mark.parametrize(
    ("task", "files", "error"),
    [
        ("both", 'actions = "compose_scene"', None),
        ("both", 'scenario = "seed"\nactions = "compose_scene"', "writes its own scenario: drop the 'scenario' variant file"),
        ("actions", 'actions = "compose_scene"', "writes the scenario too (writes_scenario = true): use task 'both'"),
        ("both", 'actions = "compose"', "task 'both' needs a 'scenario' variant file"),
    ],
)
def test_spec_accepts_a_one_call_variant_alone(spec_dir: Path, task: str, files: str, error: str | None) -> None:
    """An actions variant that writes the scenario (actions/compose_scene) is a whole program."""
    text = BASE.replace('task = "both"', f'task = "{task}"').replace('scenario = "scen.md"\nactions = "act.md"', files)
    if error is None:
        spec = _load(spec_dir, text)
        assert spec.variants[0].scenario is None and spec.variants[0].actions.endswith("compose_scene.md")
        return
    assert error in _error(spec_dir, text)


# ------------------------------------------------------------------------------ optimizer options
@pytest.mark.parametrize(
    ("variant", "expected"),
    [
        ('optimizer = "bootstrap"\nbase = "baseline"\nmax_rounds = 0', "'max_rounds' in [[variants]] 'x': Input should be greater than or equal to 1 (got 0)"),
        ('optimizer = "mipro"\nbase = "baseline"\nauto = "light"\nnum_trials = 3', "variant 'x': MIPROv2 takes either 'auto' or 'num_candidates'/'num_trials', not both"),
        ('optimizer = "gepa"\nbase = "baseline"\nmax_full_evals = 1\nmax_metric_calls = 5', "variant 'x': GEPA takes one budget, got max_metric_calls and max_full_evals"),
        ('scenario = "scen.md"\nactions = "act.md"\nmax_rounds = 2', "variant 'x': option 'max_rounds' needs an 'optimizer'"),
        ('optimizer = "labeled"\nbase = "baseline"\nmetric_threshold = 0.5', "variant 'x': option 'metric_threshold' is not used by optimizer 'labeled'"),
        ('optimizer = "gepa"\nbase = "baseline"\nuse_merge = "often"', "'use_merge' in [[variants]] 'x': Input should be a valid boolean"),
    ],
)
def test_optimizer_options_are_checked_by_the_optimizers_model(spec_dir: Path, variant: str, expected: str) -> None:
    assert expected in _error(spec_dir, BASE + f'\n[[variants]]\nname = "x"\n{variant}\n')


def test_a_variant_holds_its_validated_options(spec_dir: Path) -> None:
    from experiments.optimizers import OptimizerContext, get_optimizer

    spec = _load(spec_dir, BASE + '\n[[variants]]\nname = "m"\noptimizer = "MIPROv2"\nbase = "baseline"\nnum_trials = 3\n')
    m = spec.variant("m")
    assert isinstance(m.optimizer_options, get_optimizer("mipro").Options)
    assert m.options() == {"num_trials": 3}  # what the spec set
    ctx = OptimizerContext(task="both", weights=spec.weights(), threshold=0.4, seed=7)
    # the spec's keys first, then the model's defaults (seed and threshold from the spec)
    assert m.optimizer_options.effective(ctx) == {
        "num_trials": 3, "seed": 7, "max_bootstrapped_demos": 2, "max_labeled_demos": 0, "metric_threshold": 0.4,
        "num_candidates": 2,
    }
    assert spec.variants[0].options() == {}
    assert spec.weights() is spec.weights()  # validated once, kept


@pytest.mark.parametrize(
    ("optimizer", "given", "effective"),
    [
        ("labeled", {}, {"seed": 0, "max_labeled_demos": 2}),
        ("bootstrap", {}, {"seed": 0, "max_bootstrapped_demos": 2, "max_labeled_demos": 0, "metric_threshold": 0.5,
                           "max_rounds": 1}),
        ("random_search", {"stop_at_score": 0.9}, {"stop_at_score": 0.9, "seed": 0, "max_bootstrapped_demos": 2,
                                                   "max_labeled_demos": 0, "metric_threshold": 0.5, "max_rounds": 1,
                                                   "num_candidate_programs": 2}),
        ("mipro", {"auto": "light"}, {"auto": "light", "seed": 0, "max_bootstrapped_demos": 2, "max_labeled_demos": 0,
                                      "metric_threshold": 0.5}),
        ("gepa", {}, {"seed": 0, "max_full_evals": 2}),
        ("gepa", {"auto": "light", "seed": 4}, {"auto": "light", "seed": 4}),
    ],
)
def test_each_optimizers_defaults(optimizer: str, given: dict, effective: dict) -> None:
    """The options each optimizer runs with and MLflow logs (``optimizer.*`` params), in order."""
    from experiments.optimizers import OptimizerContext, get_optimizer

    ctx = OptimizerContext(task="both", weights=None, threshold=0.5, seed=0)
    got = get_optimizer(optimizer).Options.model_validate(given).effective(ctx)
    assert list(got.items()) == list(effective.items())


def test_the_registry() -> None:
    from experiments.optimizers import get_optimizer, names, option_names

    assert names() == ["labeled", "bootstrap", "random_search", "mipro", "gepa"]
    assert get_optimizer("BootstrapFewShotWithRandomSearch").name == "random_search"
    assert get_optimizer("gepa").lm_roles == ("reflection_lm",) and get_optimizer("mipro").lm_roles == ("prompt_lm",)
    assert len(option_names()) == 27 and "temperature" not in option_names()
    with pytest.raises(AugmentlabError, match="unknown optimizer 'simba'"):
        get_optimizer("simba")
