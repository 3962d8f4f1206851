"""Performance benchmarks of gemma_magics, each against a baseline in the same run.

``python -m benchmarks`` runs them all and writes ``benchmarks/RESULTS.md``; see ``run.py``.
"""
