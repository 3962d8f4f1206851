"""Comparisons: many calls at once, across providers × models × settings × prompts ×
repeats, and the tables and charts made from their records.

``plan`` expands a grid into runs and validates them all before anything is sent;
``scheduler`` runs them concurrently within limits; ``gridstate`` is the live state a
view draws; ``run`` ties them together; ``views`` turns the records into side-by-side
tables, summaries and plots. Draws nothing live itself (the grid is the notebook layer's).
May import ``api`` and the layers below it, never ``notebook`` or ``workflows``.
"""
