"""DSPy optimizers behind one call, :func:`compile_variant`; one module each, registered by name.

=================  =============================================  ==========================
spec name          DSPy optimizer                                 data it uses
=================  =============================================  ==========================
``labeled``        :class:`dspy.LabeledFewShot`                   train (gold as demos)
``bootstrap``      :class:`dspy.BootstrapFewShot`                 train
``random_search``  :class:`dspy.BootstrapFewShotWithRandomSearch`  train; dev picks the best
``mipro``          :class:`dspy.MIPROv2` (needs optuna)           train; dev picks the best
``gepa``           :class:`dspy.GEPA` (reflective, feedback)      train; dev tracks the front
=================  =============================================  ==========================

Budgets default small (augmentlab runs on a 135M-parameter local model): 2 bootstrapped demos,
no labeled demos on top of them, 2 candidate programs / instruction candidates / trials, and a
GEPA budget of two full evaluations. Bootstrapping keeps a demo only when its score reaches the
spec's ``[metrics] threshold`` (``metric_threshold`` overrides it), since the composite metric is
a float and DSPy would otherwise keep any non-zero score.

MIPROv2 runs with ``auto=None`` and explicit ``num_candidates`` / ``num_trials`` unless the
variant sets ``auto``. (``requires_permission_to_run`` is deprecated in DSPy 3.4 — confirmation
was removed — so it is not passed.) GEPA gets the spec's ``reflection_lm`` and proposes
instructions through DSPy's built-in proposer with a JSON adapter (the grammar-constrained one for
the embedded model).

Registry
--------
Each optimizer is one module here — its options model (the spec keys it takes, with their limits
and defaults), its ``compile`` and its trajectory — registered by name with
:func:`~experiments.optimizers.base.register`; the spec validates a variant's keys with that
model. Adding an optimizer is one module and one import line below.

Trajectory
----------
:func:`compile_variant` returns, with the program, what the optimizer scored on the way, in the order it
scored it (:class:`Trial`; scores on the metric's 0–1 scale — DSPy's ``Evaluate`` percentages are
divided by 100), and takes DSPy's bookkeeping attributes off the returned program so the saved
program is only its prompts. :func:`trajectory_metrics` turns it into the MLflow step metrics the
runner logs in the variant's child run (the report's "Optimizer progress" plot reads them):
``optimizer_score`` (the dev score of candidate / trial *step*), ``optimizer_best`` (the best of
those up to *step*) and, for MIPROv2 with minibatches only, ``optimizer_minibatch_score``.

=================  ===========================================================================
``random_search``  one step per candidate program, in the order DSPy scored them on dev:
                   zero-shot, labeled demos only, unshuffled bootstrap, then each random seed
                   (``candidate_programs`` of the result, re-sorted by seed)
``mipro``          one step per trial (step 0: the default program's full evaluation), from the
                   result's ``trial_logs`` (``track_stats=True``); full evaluations give
                   ``optimizer_score`` / ``optimizer_best``, minibatch trials
                   ``optimizer_minibatch_score`` (a score on part of dev, not a candidate's
                   dev score, so it never counts as the best)
``gepa``           one step per candidate in discovery order (step 0: the seed program), its
                   dev aggregate score from ``detailed_results.val_aggregate_scores``
                   (``track_stats=True``)
``labeled``        nothing: LabeledFewShot picks demos without scoring anything
``bootstrap``      nothing: BootstrapFewShot keeps passing traces but scores no candidate
                   program (its only output is the one compiled program)
=================  ===========================================================================
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from augmentlab.core.errors import AugmentlabError
# Each module registers its optimizer; this order is the order the spec's error messages list them.
from experiments.optimizers import labeled  # noqa: F401  # isort: skip
from experiments.optimizers import bootstrap  # noqa: F401  # isort: skip
from experiments.optimizers import random_search  # noqa: F401  # isort: skip
from experiments.optimizers import mipro  # noqa: F401  # isort: skip
from experiments.optimizers import gepa  # noqa: F401  # isort: skip
from experiments.optimizers.base import (
    BEST_METRIC,
    MINIBATCH_METRIC,
    SCORE_METRIC,
    Compiled,
    Optimizer,
    OptimizerContext,
    OptimizerOptions,
    Trial,
    canonical_optimizer,
    get_optimizer,
    names,
    option_names,
    register,
    trajectory_metrics,
)

if TYPE_CHECKING:
    import dspy


def compile_variant(
    optimizer: str,
    student: dspy.Module,
    *,
    trainset: Sequence[dspy.Example],
    devset: Sequence[dspy.Example],
    options: OptimizerOptions,
    ctx: OptimizerContext,
) -> Compiled:
    """Compile ``student`` with ``optimizer`` (a registered name) on ``trainset``; the program
    and the optimizer's trajectory (see the module doc).

    ``devset`` is used for selection by the optimizers that select (random search, MIPROv2,
    GEPA); when it is empty they fall back to ``trainset``. The test split never reaches here.
    """
    train = list(trainset)
    dev = list(devset) or train
    if not train:
        raise AugmentlabError(f"optimizer {optimizer!r} needs training examples, but the train split is empty")
    return get_optimizer(optimizer).compile(student, train, dev, options.effective(ctx), ctx)


__all__ = [
    "BEST_METRIC",
    "MINIBATCH_METRIC",
    "SCORE_METRIC",
    "Compiled",
    "Optimizer",
    "OptimizerContext",
    "OptimizerOptions",
    "Trial",
    "canonical_optimizer",
    "compile_variant",
    "get_optimizer",
    "names",
    "option_names",
    "register",
    "trajectory_metrics",
]
