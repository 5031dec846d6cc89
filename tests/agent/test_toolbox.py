"""The built-in tools give exact, deterministic results and fail with clear ToolErrors."""

import random

import pytest

from suites.agent import builtin_hooks
from suites.agent import toolbox as tb
from suites.agent.arguments import sample_arguments, validation_errors
from suites.agent.schema import ToolError, check_parameters, execute


@pytest.mark.parametrize("call, expected", [
    (lambda: tb.convert_units(1, "mi", "km"), {"value": 1.60934, "unit": "km"}),
    (lambda: tb.convert_units(100, "C", "F"), {"value": 212, "unit": "F"}),
    (lambda: tb.convert_units(0, "K", "C"), {"value": -273.15, "unit": "C"}),
    (lambda: tb.convert_units(3, "week", "h"), {"value": 504, "unit": "h"}),
    (lambda: tb.convert_units(2, "gal", "L"), {"value": 7.57082, "unit": "L"}),
    (lambda: tb.add_days("2024-02-28", 1), {"date": "2024-02-29"}),
    (lambda: tb.add_days("2023-02-28", 1), {"date": "2023-03-01"}),
    (lambda: tb.add_days("2024-01-10", -10), {"date": "2023-12-31"}),
    (lambda: tb.days_between("2024-01-01", "2025-01-01"), {"days": 366}),
    (lambda: tb.days_between("2024-03-01", "2024-02-01"), {"days": -29}),
    (lambda: tb.weekday("2024-01-01"), {"weekday": "Monday"}),
    (lambda: tb.weekday("2000-02-29"), {"weekday": "Tuesday"}),
    (lambda: tb.get_product("P-101"), {"name": "Graph Notebook", "price": 4.5, "stock": 120}),
    (lambda: tb.get_product("p-123 "), {"name": "Desk Lamp", "price": 32.0, "stock": 14}),
    (lambda: tb.get_employee("chen  jing", "office"), {"name": "Chen Jing", "office": "Shanghai"}),
    (lambda: tb.change_case("Hello World", "reverse"), {"text": "dlroW olleH"}),
    (lambda: tb.change_case("hello world", "title"), {"text": "Hello World"}),
    (lambda: tb.text_stats("a bb  ccc"), {"characters": 9, "words": 3}),
    (lambda: tb.count_substring("Banana", "an"), {"count": 2}),
    (lambda: tb.count_substring("Banana", "b", case_sensitive=True), {"count": 0}),
    (lambda: tb.calculate("(2 + 3) * 4"), {"result": 20}),
])
def test_tool_results(call, expected):
    assert call() == expected


def test_search_filters_by_category_and_price_cheapest_first():
    result = tb.search_products("kitchen", 40)
    assert result == {"count": 3, "products": [
        {"product_id": "P-112", "name": "Bamboo Cutting Board", "price": 15.5},
        {"product_id": "P-114", "name": "Spice Rack", "price": 21.75},
        {"product_id": "P-111", "name": "Cast Iron Skillet", "price": 39.99}]}


@pytest.mark.parametrize("call, message", [
    (lambda: tb.convert_units(5, "kg", "km"), r"cannot convert mass \(kg\) to length \(km\)"),
    (lambda: tb.convert_units(-500, "C", "K"), "below absolute zero"),
    (lambda: tb.add_days("2023-02-29", 3), "'2023-02-29' is not a valid calendar date"),
    (lambda: tb.weekday("2024-13-01"), "not a valid calendar date"),
    (lambda: tb.get_product("P-999"), "no product with id 'P-999'"),
    (lambda: tb.get_employee("Maria Rossi", "email"), "no employee named 'Maria Rossi'$"),
    (lambda: tb.get_employee("Tanaka", "email"), "did you mean 'Hiro Tanaka'"),
    (lambda: tb.calculate("1 / 0"), "division by zero"),
])
def test_tool_errors_say_what_went_wrong(call, message):
    with pytest.raises(ToolError, match=message):
        call()


def test_builtin_schemas_are_valid_and_samplers_respect_them():
    rng = random.Random(0)
    for tool in builtin_hooks.builtin_tools():
        check_parameters(tool.parameters, tool.name)
        for _ in range(300):
            args = sample_arguments(tool, rng)
            assert validation_errors(tool, args) == [], (tool.name, args)
            execution = execute(tool, args)
            assert execution.ok, (tool.name, args, execution.error)
            assert execute(tool, args) == execution  # deterministic


def test_execution_content_is_canonical_json():
    tool = {t.name: t for t in builtin_hooks.builtin_tools()}["get_product"]
    assert execute(tool, {"product_id": "P-101"}).content == '{"name": "Graph Notebook", "price": 4.5, "stock": 120}'
    assert execute(tool, {"product_id": "P-100"}).content == '{"error": "no product with id \'P-100\'"}'
