"""Settings validated against the catalog before any request."""

from __future__ import annotations

import math

import pytest

from gemma_magics.catalog.models import load_catalog
from gemma_magics.errors import ValidationError
from gemma_magics.params import Params, resolve

CATALOG = load_catalog()


def test_defaults_filled_from_model():
    effective, warnings = resolve(Params(), CATALOG.model("cloudflare"))
    assert effective.max_tokens == 256
    assert effective.temperature == 1  # Gemma 4's published default
    assert warnings == []
    lora_base, _ = resolve(Params(), CATALOG.model("cloudflare", "@cf/google/gemma-2b-it-lora"))
    assert lora_base.temperature == 0.6


@pytest.mark.parametrize(
    ("provider", "setting", "value", "allowed"),
    [
        ("cloudflare:@cf/google/gemma-2b-it-lora", "top_k", 80, "1–50"),
        ("local", "temperature", -1, "0–2"),
        ("local", "top_k", 0, "1–1000"),
        ("cloudflare:@cf/google/gemma-2b-it-lora", "seed", 0, "1–9,999,999,999"),
        ("cloudflare", "temperature", 2.5, "0–2, default 1"),  # Gemma 4: published 0–2
        ("cloudflare", "top_p", 1.5, "0–1"),
        ("cloudflare-openai", "presence_penalty", -2.5, "-2–2"),
        ("aimlapi", "top_p", 0, "0.01–1"),
    ],
)
def test_out_of_range_names_allowed_range(provider, setting, value, allowed):
    provider, _, model = provider.partition(":")
    with pytest.raises(ValidationError) as err:
        resolve(Params(**{setting: value}), CATALOG.model(provider, model or None))
    message = str(err.value)
    assert f"{setting}={value}" in message
    assert allowed in message
    assert "\n" not in message


def test_per_model_range_differs():
    gemma4 = CATALOG.model("cloudflare")
    resolve(Params(frequency_penalty=-1.5, seed=0), gemma4)  # allowed on Gemma 4
    with pytest.raises(ValidationError, match="frequency_penalty"):
        resolve(Params(frequency_penalty=-1.5),
                CATALOG.model("cloudflare", "@cf/google/gemma-2b-it-lora"))  # published 0–2


def test_a_setting_gemma_4_does_not_take_warns_and_is_not_range_checked():
    _, warnings = resolve(Params(top_k=80, repetition_penalty=1.1), CATALOG.model("cloudflare"))
    assert len(warnings) == 2
    assert warnings[0] == ("top_k is not honoured by cloudflare @cf/google/gemma-4-26b-a4b-it; "
                           "it will be ignored")


def test_unsupported_setting_warns():
    _, warnings = resolve(Params(top_k=5), CATALOG.model("ollama"))
    assert warnings and "top_k" in warnings[0] and "ollama" in warnings[0]


def test_non_number_and_unknown_setting():
    with pytest.raises(ValidationError, match="not a number"):
        resolve(Params(temperature="hot"), CATALOG.model("local"))
    with pytest.raises(ValidationError, match="unknown setting 'temprature'"):
        Params.from_kwargs(temprature=0.2)


def test_cost_is_nan_when_price_unknown_and_zero_for_local():
    assert math.isnan(CATALOG.model("aimlapi").cost(10, 10))
    assert CATALOG.model("local").cost(10, 10) == 0
    assert CATALOG.model("cloudflare").cost(1_000_000, 1_000_000) == pytest.approx(0.40)
