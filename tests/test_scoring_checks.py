"""Checks: the text form parses, and each check says what it should about an answer."""

from __future__ import annotations

import pytest

from gemma_magics.errors import ValidationError
from gemma_magics.scoring.checks import Check, parse_checks


@pytest.mark.parametrize(("spec", "answer", "row", "expected", "passed"), [
    ("contains:Paris", "It is Paris.", {}, None, True),
    ("contains:Paris", "It is paris.", {}, None, False),
    ("icontains:Paris", "It is PARIS.", {}, None, True),
    ("icontains:{expected}", "It is PARIS.", {}, "paris", True),
    ("icontains:{expected}", "It is Lyon.", {}, "paris", False),
    ("equals:42", "  42\n", {}, None, True),
    ("equals:42", "42.", {}, None, False),
    ("starts-with:Yes", "  Yes, it is.", {}, None, True),
    ("starts-with:Yes", "No. Yes.", {}, None, False),
    ("regex:^\\d{3}$", "123", {}, None, True),
    ("regex:^\\d{3}$", "1234", {}, None, False),
    ("regex:^{expected}$", "a.b", {}, "a.b", True),
    ("regex:^{expected}$", "axb", {}, "a.b", False),  # {expected} is matched literally
    ("is-json", '{"a": 1}', {}, None, True),
    ("is-json", '```json\n{"a": 1}\n```', {}, None, True),
    ("is-json", "{'a': 1}", {}, None, False),
    ("max-chars:5", "abcde", {}, None, True),
    ("max-chars:5", "abcdef", {}, None, False),
    ("max-tokens:10", "", {"completion_tokens": 10}, None, True),
    ("max-tokens:10", "", {"completion_tokens": 11}, None, False),
    ("finish:stop", "", {"finish_reason": "stop"}, None, True),
    ("finish:stop", "", {"finish_reason": "length"}, None, False),
    ("number:42", "The answer is 42.", {}, None, True),
    ("number:42", "42 or maybe 43", {}, None, False),  # the last number counts
    ("number:{expected}~0.01", "pi is 3.141", {}, "3.14159", True),
    ("number:{expected}~0.0001", "pi is 3.141", {}, "3.14159", False),
    ("number:1000~1%", "about 1,009 units", {}, None, True),
    ("number:1000~1%", "about 1,011 units", {}, None, False),
    ("number:5", "no digits here", {}, None, False),
    ("not-icontains:sorry", "Sure thing.", {}, None, True),
    ("not-icontains:sorry", "Sorry, I can't.", {}, None, False),
])
def test_each_check(spec, answer, row, expected, passed):
    verdict = Check(spec)(answer, row, expected)
    assert verdict.passed is passed, verdict.reason
    assert verdict.value == (1.0 if passed else 0.0)
    assert verdict.reason


def test_json_schema_check_from_the_namespace_and_inline():
    schema = {"type": "object", "properties": {"age": {"type": "integer"}}, "required": ["age"]}
    check = Check("json-schema:person", functions={"person": schema})
    assert check('{"age": 3}').passed is True
    bad = check('{"age": "three"}')
    assert bad.passed is False and "'three' is not of type 'integer'" in bad.reason
    assert check("not json").passed is False
    assert Check('json-schema:{"type": "array"}')("[1]").passed is True


def test_python_check_bool_float_and_reason():
    def short(answer, row):
        return len(answer) < 10

    def ratio(answer, row):
        return answer.count("a") / max(1, len(answer))

    def explained(answer, row):
        return False, f"row says {row['prompt']}"

    funcs = {"ratio": ratio, "explained": explained}
    assert Check(short)("tiny").passed is True
    assert Check(short).name == "python:short"
    assert Check("python:ratio", functions=funcs)("aab").value == pytest.approx(2 / 3)
    assert Check("[threshold=0.9] python:ratio", functions=funcs)("aab").passed is False
    v = Check("python:explained", functions=funcs)("x", {"prompt": "hi"})
    assert v.passed is False and v.reason == "row says hi"


def test_a_check_that_raises_or_returns_nothing_is_a_failure_not_a_pass():
    def broken(answer, row):
        raise KeyError("oops")

    v = Check(broken)("x")
    assert v.passed is None and v.value is None and "KeyError" in v.reason
    assert Check(lambda a, r: None)("x").passed is None


def test_missing_reference_is_no_verdict():
    v = Check("icontains:{expected}")("Paris", {}, None)
    assert v.passed is None and "no reference" in v.reason
    assert Check("icontains:{expected}")("Paris", {}, float("nan")).passed is None


def test_weight_and_threshold_in_the_text_form():
    c = Check("[weight=2 threshold=0.5] icontains:x")
    assert (c.weight, c.threshold, c.name) == (2.0, 0.5, "icontains:x")
    assert Check("icontains:x", weight=3).weight == 3.0


@pytest.mark.parametrize(("spec", "message"), [
    ("includes:x", "unknown check 'includes'"),
    ("contains", "needs a value after 'contains:'"),
    ("regex:(", "not a valid pattern"),
    ("max-chars:lots", "whole number"),
    ("number:4~abc", "tolerance"),
    ("python:no_such_function_here", "no variable 'no_such_function_here'"),
])
def test_bad_checks_name_the_cause(spec, message):
    with pytest.raises(ValidationError, match=message) as info:
        Check(spec)
    assert info.value.fix


def test_parse_checks_accepts_one_or_many_and_rejects_duplicates():
    assert [c.name for c in parse_checks("is-json")] == ["is-json"]
    assert len(parse_checks(["is-json", "max-chars:3", lambda a, r: True])) == 3
    with pytest.raises(ValidationError, match="given twice"):
        parse_checks(["is-json", "is-json"])
