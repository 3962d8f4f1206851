"""Which models think, whether their thinking can be switched, and Gemma 4's conversation
rules, decided from the catalog's ``reasoning`` capability or the model id.

Gemma 4 (ids ``gemma-4…`` or ``gemma4…``, at every provider) thinks, and takes a system role
natively; Gemma 3 has no system turn (the system prompt is folded into the first user turn)
and does not think. A catalog entry can say ``reasoning`` in its capabilities for any other
model that thinks.
"""

from __future__ import annotations

import re

from .models import ModelInfo

_GEMMA4 = re.compile(r"gemma-?4(?![0-9])", re.IGNORECASE)

#: Models that may think but take no switch for it (nothing to send, so --think is refused).
#: Source: aimlapi/api-docs, docs/api-references/text-models-llm/Google/ (the -maas model's
#: schema has no reasoning parameter, unlike google/gemma-4-31b-it's ``reasoning_effort``).
NO_THINK_SWITCH = {("aimlapi", "google/gemma-4-26b-a4b-it-maas")}

#: Providers that reject a system message for models without a system role (rather than
#: folding it themselves). Source: aimlapi/api-docs ``model-database.md``: of its Gemma 3
#: models only google/gemma-3-27b-it takes a system role.
SYSTEM_REFUSED = {"aimlapi": "google/gemma-3-27b-it"}

#: Gemma 4's own default when nothing is sent: its chat template thinks only when the system
#: turn starts with ``<|think|>`` (Gemma 4 model card). Workers AI's schema says the opposite
#: (``chat_template_kwargs.enable_thinking`` "default": true, cloudflare/cloudflare-docs
#: src/content/workers-ai-models/gemma-4-26b-a4b-it.json). The sources disagree, so the
#: switch is always sent, and when the user did not choose it is off: the model's own
#: default, answers that fit max_tokens, and the same behaviour at every provider.
DEFAULT_THINK = False


def is_gemma4(model_id: str) -> bool:
    """``gemma-4-31b-it``, ``google/gemma-4-26b-a4b-it``, ``gemma4:e4b``… (not ``gemma-3``)."""
    return bool(_GEMMA4.search(model_id or ""))


def thinks(model: ModelInfo) -> bool:
    """Whether the model thinks: the catalog says ``reasoning``, or it is a Gemma 4."""
    return model.supports("reasoning") or is_gemma4(model.id)


def think_switch(model: ModelInfo) -> bool:
    """Whether thinking can be turned on and off for this model at this provider."""
    return thinks(model) and (model.provider, model.id) not in NO_THINK_SWITCH


def default_think(model: ModelInfo) -> bool | None:
    """What is sent when the user did not say (None: the model has no switch)."""
    return DEFAULT_THINK if think_switch(model) else None


def takes_system(model: ModelInfo) -> bool:
    """Whether a system message is sent as such (else it is folded into the first turn)."""
    return model.supports("system") or is_gemma4(model.id)


def refuses_system(model: ModelInfo) -> str | None:
    """The model to use instead when the provider rejects a system prompt for this one."""
    if takes_system(model):
        return None
    return SYSTEM_REFUSED.get(model.provider)
