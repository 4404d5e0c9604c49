"""Every LMConfig setting on the CLI of every command that opens an LM, and augmentlab.toml [lm]."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from augmentlab.cli import main as cli_main
from augmentlab.core.errors import AugmentlabError
from augmentlab.lm import LMConfig
from augmentlab.lm.settings import FLAGS, LMOptions, apply_to_spec, resolve_lm_config
from fakes.fake_server import StubServer

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "tests" / "data" / "scripts" / "tea_and_thunder.txt"


def test_every_lmconfig_setting_has_a_flag():
    assert set(FLAGS) == set(LMConfig.model_fields)


@pytest.mark.parametrize("command", [["augment"], ["run"], ["experiment", "run"]])
def test_help_lists_every_lm_option(command, capsys):
    assert cli_main([*command, "--help"]) == 0
    text = capsys.readouterr().out
    for flag in FLAGS.values():
        for part in flag.split("/"):
            assert part in text, f"{' '.join(command)} --help lacks {part}"


def _capture(monkeypatch) -> list[LMConfig]:
    import augmentlab.augment

    seen: list[LMConfig] = []

    def fake(scripts, out, *, lm_config=None, **kw):
        seen.append(lm_config)
        return augmentlab.augment.AugmentReport(out_dir=Path(out))

    monkeypatch.setattr(augmentlab.augment, "augment_scripts", fake)
    return seen


def test_augment_flags_reach_the_config(tmp_path, monkeypatch):
    gguf = tmp_path / "model.gguf"
    gguf.write_bytes(b"GGUF")
    seen = _capture(monkeypatch)
    monkeypatch.chdir(tmp_path)
    argv = ["augment", str(SCRIPT), "-o", str(tmp_path / "out"), "--max-tokens", "2048", "--gguf", str(gguf),
            "--n-ctx", "4096", "--temperature", "0.3", "--n-threads", "1", "--no-cache", "--adapter", "json",
            "--start-timeout", "30", "--lm-port", "18555", "--timeout", "9"]
    assert cli_main(argv) == 0
    config = seen[-1]
    assert (config.kind, config.max_tokens, config.gguf, config.n_ctx) == ("embedded", 2048, str(gguf), 4096)
    assert (config.temperature, config.n_threads, config.cache, config.adapter) == (0.3, 1, False, "json")
    assert (config.start_timeout, config.port, config.timeout) == (30.0, 18555, 9.0)


def test_project_file_sets_the_endpoint_once_and_flags_override(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    with StubServer(latency=0.0) as stub:
        (tmp_path / "augmentlab.toml").write_text(
            f'[lm]\nkind = "endpoint"\nmodel = "openai/local"\napi_base = "{stub.base_url}"\nmax_tokens = 700\n'
        )
        config = resolve_lm_config(None)
        assert (config.kind, config.api_base, config.max_tokens) == ("endpoint", stub.base_url, 700)
        assert resolve_lm_config(LMOptions(max_tokens=900)).max_tokens == 900
        # The file's endpoint is what a plain `augmentlab augment` talks to.
        assert cli_main(["augment", str(SCRIPT), "-o", str(tmp_path / "out"), "--limit", "2",
                         "--no-persona-writer"]) == 0
        assert stub.completed >= 1
        run = json.loads((tmp_path / "out" / "run.json").read_text())
        assert run["lm"]["api_base"] == stub.base_url and run["lm"]["max_tokens"] == 700
    # Server options with the file's endpoint: an error naming the flag, not a silent switch.
    with pytest.raises(AugmentlabError, match="--n-ctx applies to the embedded LM only"):
        resolve_lm_config(LMOptions(n_ctx=4096))
    assert resolve_lm_config(LMOptions(lm="embedded", n_ctx=4096)).n_ctx == 4096
    # Another kind on the command line starts from that kind, not from the file's endpoint.
    fake = resolve_lm_config(LMOptions(lm="fake"))
    assert fake.kind == "fake" and fake.api_base is None and fake.max_tokens == 700


def test_errors_name_the_flag_and_the_key(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    out = str(tmp_path / "out")
    assert cli_main(["augment", str(SCRIPT), "-o", out, "--max-tokens", "0"]) == 2
    err = capsys.readouterr().err
    assert "--max-tokens" in err and "max_tokens in [lm]" in err and "Traceback" not in err
    assert cli_main(["augment", str(SCRIPT), "-o", out, "--lm", "banana"]) == 2
    assert "--lm" in capsys.readouterr().err
    assert cli_main(["augment", str(SCRIPT), "-o", out, "--lm", "endpoint"]) == 2
    assert "--model" in capsys.readouterr().err
    (tmp_path / "augmentlab.toml").write_text('[lm]\nkind = "endpoint"\nmodle = "openai/x"\n')
    assert cli_main(["augment", str(SCRIPT), "-o", out]) == 2
    err = capsys.readouterr().err
    assert "'modle'" in err and "augmentlab.toml" in err
    (tmp_path / "augmentlab.toml").write_text('[lm\n')
    assert cli_main(["augment", str(SCRIPT), "-o", out]) == 2
    assert "augmentlab.toml" in capsys.readouterr().err


def test_experiment_overrides(tmp_path, monkeypatch):
    from experiments.spec import load_spec

    monkeypatch.chdir(tmp_path)
    spec_path = REPO / "experiments" / "quickstart.toml"
    spec = apply_to_spec(load_spec(spec_path), LMOptions(max_tokens=2048, n_ctx=4096), source=str(spec_path))
    config = spec.lm_configs()["lm"]
    assert (config.max_tokens, config.n_ctx) == (2048, 4096)
    with pytest.raises(AugmentlabError, match="--n-ctx"):
        apply_to_spec(load_spec(spec_path), LMOptions(n_ctx=10))


def test_run_command_passes_overrides(tmp_path, monkeypatch):
    import experiments.runner

    seen = {}

    def fake_run(spec, **kw):
        seen.update(kw)
        raise AugmentlabError("stop here")

    monkeypatch.setattr(experiments.runner, "run_experiment", fake_run)
    assert cli_main(["run", str(REPO / "experiments" / "quickstart.toml"), "--max-tokens", "333",
                     "--api-base", "http://127.0.0.1:9/v1", "--model", "openai/local"]) == 2
    options = seen["lm_options"]
    assert (options.max_tokens, options.api_base, options.model) == (333, "http://127.0.0.1:9/v1", "openai/local")


def test_help_imports_no_lm_package() -> None:
    """``--help`` lists every LM option without importing augmentlab.lm (which imports dspy)."""
    import os
    import subprocess
    import sys

    code = ("import sys\nfrom augmentlab.cli import main\n"
            "for argv in (['--help'], ['augment', '--help'], ['experiment', 'run', '--help']):\n"
            "    try:\n        main(argv)\n    except SystemExit:\n        pass\n"
            "print(sorted(m for m in sys.modules if m == 'dspy' or m.startswith('augmentlab.lm')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert out.stdout.strip().splitlines()[-1] == "[]"
