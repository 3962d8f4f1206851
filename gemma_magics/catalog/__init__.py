"""The catalog: which models each provider serves, what they cost, what they can do.

``catalog.toml`` is the table (each fact with the page it comes from); ``models`` reads it
(and a user's additions from the config file); ``capabilities`` checks a request against a
model (images, tools, JSON output). Imports only ``errors`` and ``events``.
"""
