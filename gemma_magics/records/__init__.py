"""Records: what one call leaves behind, and where it is kept.

``log`` is the record itself and its SQLite log (read as a DataFrame); ``recorder`` turns a
call's events into its record (metrics, cost, the error, the text that arrived);
``tokens`` counts tokens when a provider does not; ``cache`` serves an identical earlier
answer. May import ``providers`` and the layers below it; never ``api``, ``features``,
``session`` or anything above (the session is handed in, typed only under TYPE_CHECKING).
"""
