"""Arguments sampled from a schema validate against it (checked by jsonschema); unsupported schemas say so."""

import random

import pytest

from suites.agent.arguments import (
    UnsupportedSchema,
    sample_arguments,
    undeclared_arguments,
    validation_errors,
)
from suites.agent.schema import Tool

SCHEMAS = {
    "ranges": {"type": "object", "required": ["n", "x", "step"], "properties": {
        "n": {"type": "integer", "minimum": -5, "maximum": 5},
        "x": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
        "step": {"type": "integer", "minimum": 1, "maximum": 100, "multipleOf": 7},
        "ratio": {"type": "number", "minimum": 0.5, "maximum": 2.5, "multipleOf": 0.25}}},
    "strings": {"type": "object", "required": ["city", "when", "mail", "mode"], "properties": {
        "city": {"type": "string", "minLength": 3, "maxLength": 20},
        "when": {"type": "string", "format": "date"},
        "at": {"type": "string", "format": "date-time"},
        "mail": {"type": "string", "format": "email"},
        "mode": {"type": "string", "enum": ["fast", "slow"]},
        "code": {"type": "string", "pattern": "^[A-Z]{3}$", "examples": ["ABC", "XYZ"]},
        "fixed": {"const": "v1"}}},
    "nested": {"type": "object", "required": ["items", "filter"], "properties": {
        "items": {"type": "array", "items": {"type": "integer", "minimum": 0}, "minItems": 2, "maxItems": 4},
        "filter": {"type": "object", "required": ["on"], "properties": {"on": {"type": "boolean"},
                                                                       "label": {"type": ["string", "null"]}}},
        "either": {"anyOf": [{"type": "integer"}, {"type": "string", "enum": ["all"]}]}}},
}


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_sampled_arguments_validate(name):
    tool = Tool(name, "test", SCHEMAS[name], lambda **kw: kw, source="user")
    rng = random.Random(3)
    seen_optional = set()
    for _ in range(300):
        args = sample_arguments(tool, rng)
        assert validation_errors(tool, args) == [], args
        assert set(SCHEMAS[name]["required"]) <= set(args)
        seen_optional |= set(args) - set(SCHEMAS[name]["required"])
    assert seen_optional == set(SCHEMAS[name]["properties"]) - set(SCHEMAS[name]["required"])


def test_a_bare_pattern_is_reported_not_guessed():
    tool = Tool("t", "test", {"type": "object", "required": ["code"],
                              "properties": {"code": {"type": "string", "pattern": "^[A-Z]{3}$"}}}, print, source="user")
    with pytest.raises(UnsupportedSchema, match=r"t.arguments.code: cannot sample a string for a bare pattern"):
        sample_arguments(tool, random.Random(0))


def test_validation_errors_name_the_field():
    tool = Tool("t", "test", SCHEMAS["ranges"], print, source="user")
    errors = validation_errors(tool, {"n": 9, "x": 0.5, "step": 14, "extra": 1})
    # JSON Schema semantics: without additionalProperties: false an undeclared property is not a schema
    # error. It is still reported separately, and verify() and the checker refuse it (see test_verify.py).
    assert errors == ["t.n: 9 is greater than the maximum of 5"]
    assert undeclared_arguments(tool, {"n": 1, "extra": 1, "x": 0.5, "zzz": 2}) == ["extra", "zzz"]
    strict = Tool("t", "test", {**SCHEMAS["ranges"], "additionalProperties": False}, print, source="user")
    assert validation_errors(strict, {"n": 1, "x": 0.5, "step": 14, "extra": 1}) == [
        "t.arguments: Additional properties are not allowed ('extra' was unexpected)"]
    assert validation_errors(tool, {"x": "a", "step": 14}) == ["t.arguments: 'n' is a required property",
                                                               "t.x: 'a' is not of type 'number'"]
