"""The BFCL-style AST checker: each failure kind, order-free parallel calls, and execution match."""

import pytest

from suites.agent.builtin_hooks import builtin_tools
from suites.agent.checker import FAILURE_KINDS, check_calls, exec_match

TOOLS = {t.name: t for t in builtin_tools()}
PARAMS = {name: t.parameters for name, t in TOOLS.items()}


def call(function, **arguments):
    return {"name": function, "arguments": arguments}


CONVERT = call("convert_units", value=3.5, from_unit="km", to_unit="mi")
PRODUCT = call("get_product", product_id="P-101")
COUNT = call("count_substring", text="Banana", substring="an")


def kind(predicted, expected, errors=()):
    result = check_calls(predicted, expected, PARAMS, list(errors))
    return "pass" if result.ok else result.kind


def test_correct_calls_pass():
    assert kind([CONVERT], [CONVERT]) == "pass"
    assert kind([], []) == "pass"


@pytest.mark.parametrize("predicted, expected, failure", [
    ([call("weekday", date="2024-01-01")], [call("add_days", date="2024-01-01", days=3)], "wrong_name"),
    ([call("convert_units", value=3.5, from_unit="km")], [CONVERT], "missing_required"),
    ([call("convert_units", value=3.5, from_unit="km", to_unit="mi", precision=2)], [CONVERT], "unknown_parameter"),
    ([call("convert_units", value="3.5", from_unit="km", to_unit="mi")], [CONVERT], "wrong_type"),
    ([call("add_days", date="2024-01-01", days=3.0)], [call("add_days", date="2024-01-01", days=3)], "wrong_type"),
    ([call("count_substring", text="Banana", substring="an", case_sensitive=1)], [COUNT], "wrong_type"),
    ([call("convert_units", value=3.5, from_unit="km", to_unit="ft")], [CONVERT], "wrong_value"),
    ([call("convert_units", value=3.6, from_unit="km", to_unit="mi")], [CONVERT], "wrong_value"),
    ([call("count_substring", text="Banana", substring="an", case_sensitive=True)], [COUNT], "wrong_value"),
    ([CONVERT], [CONVERT, PRODUCT], "wrong_call_count"),
    ([CONVERT, PRODUCT, PRODUCT], [CONVERT, PRODUCT], "wrong_call_count"),
    ([CONVERT], [], "unexpected_call"),
    ([], [CONVERT], "no_call"),
    ([CONVERT], [CONVERT], "parse_error"),
])
def test_each_failure_kind(predicted, expected, failure):
    errors = ["tool_call 1: invalid JSON"] if failure == "parse_error" else []
    assert kind(predicted, expected, errors) == failure
    assert failure in FAILURE_KINDS


def test_int_for_float_and_string_normalisation_pass():
    assert kind([call("convert_units", value=3, from_unit="km", to_unit="mi")],
                [call("convert_units", value=3.0, from_unit="km", to_unit="mi")]) == "pass"
    assert kind([call("get_employee", name="  chen JING.", field="office")],
                [call("get_employee", name="Chen Jing", field="office")]) == "pass"
    assert kind([call("calculate", expression="(2+3) * 4")], [call("calculate", expression="(2 + 3)*4")]) == "pass"
    assert kind([call("calculate", expression="2*34")], [call("calculate", expression="23*4")]) == "wrong_value"


def test_an_optional_parameter_may_be_omitted_or_given_as_its_default():
    with_default = call("count_substring", text="Banana", substring="an", case_sensitive=False)
    assert kind([with_default], [COUNT]) == "pass"
    assert kind([COUNT], [with_default]) == "pass"


def test_parallel_calls_match_in_any_order():
    expected = [CONVERT, PRODUCT, call("get_product", product_id="P-102")]
    assert kind(list(reversed(expected)), expected) == "pass"
    assert kind([expected[2], expected[0], expected[1]], expected) == "pass"
    swapped = [CONVERT, call("get_product", product_id="P-103"), PRODUCT]
    assert kind(swapped, expected) == "wrong_value"


def test_execution_match():
    expected = [call("calculate", expression="21.75 * 15")]
    assert exec_match([call("calculate", expression="15*21.75")], expected, TOOLS) is True
    assert kind([call("calculate", expression="15*21.75")], expected) == "wrong_value"  # AST differs, result same
    assert exec_match([call("calculate", expression="15*21.7")], expected, TOOLS) is False
    assert exec_match([call("calculate", expression=15)], expected, TOOLS) is False  # invalid args are not run
    # An undeclared parameter passes a schema without additionalProperties: false, but is not run either.
    assert exec_match([call("change_case", text="a", mode="upper", value=3)], [call("change_case", text="a",
                                                                                     mode="upper")], TOOLS) is False
    assert exec_match([PRODUCT, CONVERT], [CONVERT, PRODUCT], TOOLS) is True
    assert exec_match([call("no_such_tool")], [call("no_such_tool")], TOOLS) is None


def test_execution_match_with_a_user_tool_that_raises_is_no_match_not_a_crash():
    import os

    from suites.agent.catalog import load_tools
    from tests.agent.conftest import FIXTURES

    tools = {t.name: t for t in load_tools(os.path.join(FIXTURES, "raising_tools.py"))}
    expected = [call("get_price", item="fig")]
    assert exec_match([call("get_price", item="plum")], expected, tools) is False  # KeyError: 'plum'
    assert exec_match([call("get_price", item="fig")], expected, tools) is True


# --- rules that agree with BFCL where BFCL is right (each failed before) ----------------------------------

TIMESTAMP = {"type": "object", "properties": {"at": {"type": "integer"}, "scale": {"type": "number"},
                                              "unit": {"type": "string", "enum": ["ms", "s"], "default": "ms"},
                                              "note": {"type": "string", "default": None}},  # Optional[str] = None
             "required": ["at"]}


def check_one(predicted, expected, schema=TIMESTAMP):
    result = check_calls([predicted], [expected], {expected["name"]: schema})
    return "pass" if result.ok else result.kind


def test_expected_calls_may_list_allowed_values_and_optional_parameters():
    expected = {"name": "stamp", "allowed": {"at": [1, 2], "unit": ["s", ""]}}
    assert check_one(call("stamp", at=2), expected) == "pass"  # the second allowed value
    assert check_one(call("stamp", at=1, unit="s"), expected) == "pass"  # an optional one given
    assert check_one(call("stamp", at=3), expected) == "wrong_value"
    assert check_one(call("stamp", at=1, unit="ms"), expected) == "wrong_value"
    assert check_one(call("stamp", at=1, scale=2.0), expected) == "wrong_value"  # not listed: not expected
    assert check_one(call("stamp", unit="s"), {"name": "stamp", "allowed": {"at": [1], "unit": ["s"]}}) == \
        "missing_required"
    nested = {"name": "stamp", "allowed": {"at": [1], "note": [{"by": ["Ann", "ann b"], "tag": ["x", ""]}]}}
    schema = {**TIMESTAMP, "properties": {**TIMESTAMP["properties"], "note": {"type": "object"}}}
    assert check_one(call("stamp", at=1, note={"by": "Ann B"}), nested, schema) == "pass"
    assert check_one(call("stamp", at=1, note={"by": "Bob"}), nested, schema) == "wrong_value"


def test_a_duplicated_call_in_place_of_another_is_a_verdict_not_an_exception():
    expected = [CONVERT, PRODUCT]
    result = check_calls([CONVERT, CONVERT], expected, PARAMS)
    assert not result.ok and result.kind == "wrong_value" and "convert_units" in result.detail
    two = [call("get_product", product_id="P-101"), call("get_product", product_id="P-102")]
    assert kind([two[0], two[0]], two) == "wrong_value"


def test_integers_compare_exactly_and_floats_within_the_stated_tolerance():
    from suites.agent.checker import FLOAT_REL_TOL

    assert check_one(call("stamp", at=1617176400001), call("stamp", at=1617176400000)) == "wrong_value"
    assert check_one(call("stamp", at=1, scale=0.1 + 0.2), call("stamp", at=1, scale=0.3)) == "pass"
    assert check_one(call("stamp", at=1, scale=3.1416), call("stamp", at=1, scale=3.14159)) == "wrong_value"
    assert check_one(call("stamp", at=1, scale=1.0 + FLOAT_REL_TOL / 2), call("stamp", at=1, scale=1)) == "pass"


def test_an_explicit_null_equals_omission_where_null_is_the_default():
    assert check_one(call("stamp", at=1, note=None), call("stamp", at=1)) == "pass"
    assert check_one(call("stamp", at=1), call("stamp", at=1, note=None)) == "pass"
    assert check_one(call("stamp", at=1, unit=None), call("stamp", at=1)) == "wrong_type"  # default "ms", not null


def test_quotes_and_trailing_punctuation_normalise_in_any_order():
    from suites.agent.checker import normalise_string

    assert normalise_string('Paris".') == normalise_string('"Paris."') == normalise_string("Paris") == "paris"
