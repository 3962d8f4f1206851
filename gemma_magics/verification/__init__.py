"""Host verification: is the Gemma a host serves the one the reference serves?

``probes`` is the suite (``probes.toml``) and the emulator's answer book; ``checks`` the
judge-free checks; ``families`` maps host-specific ids to one set of weights; ``stats`` the
tests (Wilson, exact McNemar, MMD with a string kernel); ``analysis`` and ``verdict`` turn
runs into figures and lines; ``run`` drives the comparison engine; ``report`` writes one
self-contained HTML file. May import ``comparisons``, ``api`` and the layers below; draws
nothing live itself (the grid is the notebook layer's).
"""
