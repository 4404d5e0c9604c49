"""Experiment spec validation: every kind of mistake is one clear line (experiments.spec)."""

from __future__ import annotations

from pathlib import Path

import pytest

from augmentlab.core.errors import AugmentlabError
from experiments.spec import canonical_optimizer, load_spec

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
            "contradiction = 0\nformat = 0\n",
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


@pytest.mark.parametrize("name", ["quickstart", "seed_variants", "optimizers"])
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
