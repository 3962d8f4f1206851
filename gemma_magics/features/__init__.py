"""Features of a single call that a request carries: structured (JSON) output, tool
specs and running one tool call, and images.

Pure request/answer helpers with no calls of their own: ``api`` uses them to build a
request and to read its answer. May import ``providers`` and the layers below it; never
``api``, ``records`` or anything above.
"""
