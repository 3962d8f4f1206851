"""Workflows: conversations and loops made of several calls.

``chat`` keeps a conversation (a :class:`Chat` and ``replay``); ``tool_loop`` runs the
Python tools a model asks for and sends their results back. Each step is one
:func:`gemma_magics.api.stream` call, so this layer sits above ``api``. May import
``api`` and the layers below it, never ``notebook`` or ``comparisons``.
"""
