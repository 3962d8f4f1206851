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
    assert effective.temperature == 0.6
    assert warnings == []


@pytest.mark.parametrize(
    ("provider", "setting", "value", "allowed"),
    [
        ("cloudflare", "top_k", 80, "1–50"),
        ("local", "temperature", -1, "0–2"),
        ("local", "top_k", 0, "1–1000"),
        ("cloudflare", "seed", 0, "1–9,999,999,999"),
    ],
)
def test_out_of_range_names_allowed_range(provider, setting, value, allowed):
    with pytest.raises(ValidationError) as err:
        resolve(Params(**{setting: value}), CATALOG.model(provider))
    message = str(err.value)
    assert f"{setting}={value}" in message
    assert allowed in message
    assert "\n" not in message


def test_per_model_range_differs():
    gemma7 = CATALOG.model("cloudflare", "@hf/google/gemma-7b-it")
    resolve(Params(frequency_penalty=-1.5), gemma7)  # allowed on gemma-7b-it
    with pytest.raises(ValidationError):
        resolve(Params(frequency_penalty=-1.5), CATALOG.model("cloudflare"))


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
    assert CATALOG.model("cloudflare").cost(1_000_000, 1_000_000) == pytest.approx(0.91)
