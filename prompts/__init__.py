"""DSPy programs and their prompt variants.

* :mod:`prompts.signatures` — the DSPy signatures (fields only; instructions come from files).
* :mod:`prompts.variants` — prompt variants as Markdown files with TOML front matter.
* :mod:`prompts.programs` — :class:`~prompts.programs.SceneAugmenter` and its parts, saving and
  loading optimized programs, :func:`~prompts.programs.augment_scene`.
* :mod:`prompts.data` — scene/gold ⇄ DSPy inputs and examples.

Variant files live beside this module: ``scenario/*.md``, ``actions/*.md``, ``persona/*.md``;
optimized programs in ``optimized/*.json``. See ``prompts/README.md``.
"""

from pathlib import Path

PROMPTS_DIR = Path(__file__).resolve().parent
OPTIMIZED_DIR = PROMPTS_DIR / "optimized"

__all__ = ["OPTIMIZED_DIR", "PROMPTS_DIR"]
