"""augmentlab: human-sourced, AI-augmented role-play training data.

Importing the package sets the offline environment (see :mod:`augmentlab._env`) before
dspy, litellm or MLflow can be imported by anything else.
"""

from augmentlab._env import apply_offline_defaults

apply_offline_defaults()

from augmentlab.core.errors import AugmentlabError  # noqa: E402

__version__ = "0.1.0"
__all__ = ["AugmentlabError", "__version__"]
