"""The MLflow Prompt Registry: every prompt an experiment evaluates, versioned; the winner aliased.

- **One registry prompt per predictor family**, named after what the predictor writes (its
  DSPy output fields): ``augmentlab-scenario`` (scenario writers), ``augmentlab-annotated-lines``
  (scene annotators), ``augmentlab-annotated-line`` (line by line), ``augmentlab-line-actions``
  (actions only) and ``augmentlab-scenario-line-actions`` (the one-call programs such as
  ``compose_scene``, the default).
- **One version per distinct prompt text**: the predictor's instructions, followed by its demos
  when it has any (an optimizer that only picks demos changes what the model is shown, so it is a
  new version). Versions are deduplicated by the SHA-256 of that text (version tag
  ``augmentlab.content_sha``): the same text evaluated again — by another variant, spec or
  execution — reuses its version.
- **Tags** of a version (set when it is first registered): the spec, the variant, the variant
  file, its ``parent`` (the variant file's ``parent``, or the base variant of an optimized one
  with the base's version URI in ``augmentlab.parent_version``), the optimizer, the number of
  demos and the run that registered it. An optimized program's instructions (MIPROv2, GEPA
  rewrite them) therefore land as new versions with their lineage.
- **Runs link to versions**: the variant's child run is linked to the versions it used
  (MLflow's ``mlflow.linkedPrompts`` run tag, shown on the run page) and tagged
  ``augmentlab.prompt.<predictor> = prompts:/<name>/<version>``.
- **The winner** of an execution — chosen by the report's rule
  (:func:`augmentlab.report.data.gather`: the largest detectable gain over the baseline, else the
  baseline) — gets the aliases ``champion`` and ``<spec>-best`` on each of its versions, so::

      import mlflow
      mlflow.genai.load_prompt("prompts:/augmentlab-scenario-line-actions@champion").template

  returns the winning prompt.

Everything written passes through the run's :class:`~augmentlab.core.redact.Redactor`.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import augmentlab  # noqa: F401  (offline environment before mlflow)

if TYPE_CHECKING:
    from mlflow import MlflowClient

    from augmentlab.core.redact import Redactor

PREFIX = "augmentlab-"
CHAMPION = "champion"
CONTENT_TAG = "augmentlab.content_sha"
RUN_PROMPT_TAG = "augmentlab.prompt."
"""Run tag prefix: ``augmentlab.prompt.<predictor>`` = ``prompts:/<name>/<version>``."""
_EXPERIMENT_IDS_TAG = "_mlflow_experiment_ids"  # what MLflow's experiment "Prompts" tab filters on
_TAG_MAX = 5000


@dataclass
class RegisteredPrompt:
    """One predictor's prompt as registered for a variant."""

    predictor: str
    name: str
    version: int
    created: bool
    """False when an identical text was already registered (its version is reused)."""

    @property
    def uri(self) -> str:
        return f"prompts:/{self.name}/{self.version}"


def family(output_fields: list[str]) -> str:
    """``["scenario", "line_actions"]`` → ``scenario-line-actions``."""
    words = "-".join(output_fields).replace("_", "-").lower()
    return re.sub(r"[^a-z0-9-]+", "-", words).strip("-") or "prompt"


def prompt_name(predictor: Any, predictor_name: str = "") -> str:
    """The registry prompt of a predictor: ``augmentlab-<what it writes>`` (its output fields).

    Predictors that write the same fields from the same kind of input are one family, whatever
    the variant: ``augmentlab-scenario``, ``augmentlab-annotated-lines`` (scene annotators),
    ``augmentlab-annotated-line`` (one call per line), ``augmentlab-line-actions`` (actions
    only), ``augmentlab-scenario-line-actions`` (one call per scene writes both), ``augmentlab-persona``.
    """
    signature = getattr(predictor, "signature", None)
    outputs = list(getattr(signature, "output_fields", {}) or {})
    return PREFIX + family(outputs or [predictor_name.split(".")[0]])


def prompt_text(instructions: str, demos: list[dict[str, Any]]) -> str:
    """The registered text: the instructions, then the demos (one block each) when there are any."""
    text = instructions.strip()
    if not demos:
        return text
    blocks = []
    for n, demo in enumerate(demos, 1):
        fields = []
        for key, value in demo.items():
            shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
            fields.append(f"{key}: {shown}")
        blocks.append(f"### Demo {n}\n" + "\n".join(fields))
    return text + f"\n\n## Demos ({len(demos)})\n\n" + "\n\n".join(blocks)


def content_sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def predictor_prompts(program: Any) -> list[tuple[str, str, str]]:
    """``(predictor name, registry prompt name, text)`` for each predictor of a DSPy program."""
    out = []
    for name, predictor in program.named_predictors():
        demos = []
        for demo in predictor.demos:
            data = demo.toDict() if hasattr(demo, "toDict") else dict(demo)
            data.pop("gold", None)
            data.pop("augmented", None)
            demos.append(data)
        out.append((name, prompt_name(predictor, name), prompt_text(predictor.signature.instructions, demos)))
    return out


def _variant_of(program: Any, predictor_name: str) -> Any:
    """The :class:`prompts.variants.Variant` behind a predictor (``annotator.predict`` → the
    annotator's variant), or None."""
    owner = program
    for part in predictor_name.split(".")[:-1]:
        owner = getattr(owner, part, None)
    return getattr(owner, "variant", None)


def _find_version(mlflow_client: MlflowClient, name: str, sha: str) -> int | None:
    if mlflow_client.get_prompt(name) is None:
        return None
    token = None
    while True:
        page = mlflow_client.search_prompt_versions(name, max_results=200, page_token=token)
        for version in page:
            if (version.tags or {}).get(CONTENT_TAG) == sha:
                return int(version.version)
        token = getattr(page, "token", None)
        if not token:
            return None


def register_program(
    mlflow_client: MlflowClient,
    program: Any,
    *,
    experiment_id: str,
    run_id: str | None,
    tags: dict[str, Any],
    redactor: Redactor,
    parents: dict[str, RegisteredPrompt] | None = None,
    message: str = "",
) -> list[RegisteredPrompt]:
    """Register each predictor's prompt of ``program`` (deduplicated) and link them to ``run_id``.

    ``tags``: version tags for a new version (spec, variant, optimizer...); ``parents``: the base
    variant's registered prompts by predictor, recorded as ``augmentlab.parent_version``.
    """
    from experiments.tracing import pointing_at

    with pointing_at(_uri(mlflow_client), experiment_id):
        return [
            _register_one(mlflow_client, program, predictor, name, raw_text, experiment_id=experiment_id,
                          run_id=run_id, tags=tags, redactor=redactor, parents=parents, message=message)
            for predictor, name, raw_text in predictor_prompts(program)
        ]


def _uri(mlflow_client: MlflowClient) -> str:
    return str(mlflow_client.tracking_uri)


def _register_one(
    mlflow_client: MlflowClient,
    program: Any,
    predictor: str,
    name: str,
    raw_text: str,
    *,
    experiment_id: str,
    run_id: str | None,
    tags: dict[str, Any],
    redactor: Redactor,
    parents: dict[str, RegisteredPrompt] | None,
    message: str,
) -> RegisteredPrompt:
    text = redactor.text(raw_text)
    sha = content_sha(text)
    version = _find_version(mlflow_client, name, sha)
    created = version is None
    if version is None:
        variant = _variant_of(program, predictor)
        version_tags: dict[str, Any] = {
            CONTENT_TAG: sha,
            "augmentlab.predictor": predictor,
            "augmentlab.n_demos": len(getattr(dict(program.named_predictors()).get(predictor), "demos", []) or []),
            **tags,
        }
        if variant is not None:
            version_tags.setdefault("augmentlab.variant_id", variant.id)
            if variant.path is not None:
                version_tags.setdefault("augmentlab.variant_file", _short_path(variant.path))
            if variant.parent and "augmentlab.parent" not in version_tags:
                version_tags["augmentlab.parent"] = variant.parent
        parent = (parents or {}).get(predictor)
        if parent is not None:
            version_tags["augmentlab.parent_version"] = parent.uri
        clean = {redactor.text(str(k)): redactor.text(_tag(v))[:_TAG_MAX] for k, v in version_tags.items() if v not in (None, "")}
        pv = mlflow_client.register_prompt(name, text, commit_message=redactor.text(message)[:500] or None, tags=clean)
        version = int(pv.version)
    _join_link_threads()  # MLflow links a new version to the active experiment in a thread
    _link_to_experiment(mlflow_client, name, experiment_id)  # a reused version, maybe a new experiment
    entry = RegisteredPrompt(predictor=predictor, name=name, version=version, created=created)
    if run_id:
        mlflow_client.link_prompt_version_to_run(run_id, entry.uri)
        mlflow_client.set_tag(run_id, RUN_PROMPT_TAG + predictor, entry.uri)
    return entry


def _short_path(path: Path) -> str:
    """A variant file relative to the project (``prompts/actions/x.md``) when it lives there."""
    parts = Path(path).parts
    if "prompts" in parts:
        return "/".join(parts[len(parts) - 1 - parts[::-1].index("prompts") :])
    return str(path)


def _tag(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)


def _join_link_threads(timeout: float = 30.0) -> None:
    """Wait for MLflow's ``link_prompt_to_experiment_thread-*`` threads (they write the same tag)."""
    import threading

    for thread in threading.enumerate():
        if thread.name.startswith("link_prompt_to_experiment_thread") and thread is not threading.current_thread():
            thread.join(timeout)


def _link_to_experiment(mlflow_client: MlflowClient, name: str, experiment_id: str) -> None:
    """List the prompt on its experiment's *Prompts* tab (MLflow's ``_mlflow_experiment_ids`` tag)."""
    prompt = mlflow_client.get_prompt(name)
    current = (prompt.tags or {}).get(_EXPERIMENT_IDS_TAG, "") if prompt else ""
    ids = [x for x in current.strip(",").split(",") if x]
    if experiment_id not in ids:
        mlflow_client.set_prompt_tag(name, _EXPERIMENT_IDS_TAG, "," + ",".join([*ids, experiment_id]) + ",")


def alias_for_spec(spec_name: str) -> str:
    """``<spec>-best``, with the characters an alias cannot hold replaced by ``-``."""
    return re.sub(r"[^\w-]+", "-", spec_name).strip("-") + "-best"


def set_champion(mlflow_client: MlflowClient, prompts: list[RegisteredPrompt], spec_name: str) -> list[str]:
    """Alias the winner's versions ``champion`` and ``<spec>-best``; returns ``name@alias`` set."""
    from experiments.tracing import pointing_at

    done = []
    with pointing_at(_uri(mlflow_client), None):
        for entry in prompts:
            for alias in (CHAMPION, alias_for_spec(spec_name)):
                mlflow_client.set_prompt_alias(entry.name, alias, entry.version)
                done.append(f"{entry.name}@{alias}")
    return done


def winner(experiment: str, tracking_uri: str, run_id: str | None) -> str | None:
    """The winning variant of an execution, by the report's rule (:func:`augmentlab.report.data.gather`)."""
    from augmentlab.report.data import gather

    return gather(experiment, tracking_uri=tracking_uri, run_id=run_id).winner


__all__ = [
    "CHAMPION",
    "PREFIX",
    "RegisteredPrompt",
    "alias_for_spec",
    "family",
    "predictor_prompts",
    "prompt_name",
    "prompt_text",
    "register_program",
    "set_champion",
    "winner",
]
