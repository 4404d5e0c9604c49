"""Human judging: a person picks the better of two blind outputs for the same scene.

``augmentlab judge serve EXPERIMENT`` serves a small local page (:mod:`augmentlab.judging.server`,
on 127.0.0.1 only) over the latest finished execution of an experiment: the scene's human lines,
then candidates "A" and "B" (two variants' scenario and annotated lines, names hidden, pairs and
sides shuffled per annotator), five choices (A much better ... B much better) and a note. Each
choice becomes a :class:`~augmentlab.core.verdicts.Verdict` (``kind="human"``,
``source="human:<name>"``) appended to the verdicts file (default
``out/<spec>/verdicts/human.jsonl``, which ``[judge] kind = "human"`` reads) and MLflow feedback with
a HUMAN source on the two scenes' traces. ``augmentlab judge import EXPERIMENT FILE`` checks a
verdicts file made elsewhere against the run and copies it in.

- :mod:`~augmentlab.judging.pairs` — which pairs, in which order (:func:`load_judging_set`);
- :mod:`~augmentlab.judging.record` — choices → verdicts → the file and MLflow;
- :mod:`~augmentlab.judging.page` — the HTML;
- :mod:`~augmentlab.judging.server` — the HTTP app;
- :mod:`~augmentlab.judging.importing` — ``judge import``.
"""

from augmentlab.judging.importing import ImportResult, import_verdicts
from augmentlab.judging.pairs import JudgingSet, Pair, load_judging_set
from augmentlab.judging.record import CHOICES, VerdictLog, check_annotator, default_verdicts_path, make_verdict
from augmentlab.judging.server import JudgingApp, make_server, open_app, server_url

__all__ = [
    "CHOICES",
    "ImportResult",
    "JudgingApp",
    "JudgingSet",
    "Pair",
    "VerdictLog",
    "check_annotator",
    "default_verdicts_path",
    "import_verdicts",
    "load_judging_set",
    "make_server",
    "make_verdict",
    "open_app",
    "server_url",
]
