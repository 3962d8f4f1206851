"""Scoring: is the answer any good?

``checks`` are deterministic scorers with a compact text form (``icontains:{expected}``);
``judges`` grade through a model on any configured provider (single or pairwise against a
baseline, several judges voting); ``stats`` gives the intervals and paired tests a reviewer
accepts; ``score`` re-scores finished runs (:func:`gemma_magics.score`). Verdicts are
:class:`~gemma_magics.records.scores.Score` rows in the log's ``scores`` table.

Layer: above ``api`` (judges make calls through it), below ``comparisons`` and
``workflows`` (which show and use scores). scipy loads only when statistics are asked for.
A new check: a factory in ``checks.py`` registered in ``_FACTORIES``, its name in ``KINDS``.
"""
