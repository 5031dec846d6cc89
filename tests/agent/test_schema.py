"""Tools from JSON Schema or Python functions; loading a user's module or JSON file with errors naming file and field."""

import json
import os

import pytest

from suites.agent.catalog import load_tools
from suites.agent.schema import (
    Tool,
    ToolError,
    ToolSpecError,
    execute,
    tool_from_function,
    tool_from_schema,
)
from tests.agent.conftest import FIXTURES


def test_a_function_signature_and_docstring_become_the_schema():
    from typing import Literal

    def book_room(room: str, hours: int, size: Literal["small", "large"] = "small", notes: list[str] | None = None):
        """Book a meeting room.

        Args:
            room: the room name
            hours: how long to book it
            size: the room size
            notes: remarks for the front desk
        """
        return {"room": room}

    tool = tool_from_function(book_room)
    assert tool.schema() == {"type": "function", "function": {
        "name": "book_room", "description": "Book a meeting room.",
        "parameters": {"type": "object", "required": ["room", "hours"], "properties": {
            "room": {"type": "string", "description": "the room name"},
            "hours": {"type": "integer", "description": "how long to book it"},
            "size": {"type": "string", "enum": ["small", "large"], "description": "the room size"},
            "notes": {"type": "array", "items": {"type": "string"}, "nullable": True,
                      "description": "remarks for the front desk"}}}}}
    assert execute(tool, {"room": "A", "hours": 2}).value == {"room": "A"}


def test_a_function_without_argument_docs_is_rejected_with_its_name():
    def undocumented(x: int):
        """Does something."""

    with pytest.raises(ToolSpecError, match=r"undocumented.*x"):
        tool_from_function(undocumented)


def test_user_module_and_json_file_load_the_same_functions():
    from_module = load_tools(os.path.join(FIXTURES, "user_tools.py"))
    from_json = load_tools(os.path.join(FIXTURES, "tools.json"))
    assert [t.name for t in from_module] == ["get_weather", "city_population"]  # _helper is private
    assert [t.name for t in from_json] == ["get_weather", "city_population"]
    assert from_json[0].parameters["properties"]["city"]["enum"][0] == "Paris"
    assert execute(from_json[0], {"city": "Oslo", "unit": "fahrenheit"}).value == {"city": "Oslo",
                                                                                   "temperature": 44.6}
    assert execute(from_module[1], {"city": "Atlantis"}).error == "unknown city Atlantis"


def test_builtin_is_the_default():
    assert [t.name for t in load_tools(None)][:3] == ["calculate", "convert_units", "add_days"]
    assert all(t.source == "builtin" for t in load_tools("builtin"))


@pytest.mark.parametrize("name, message", [
    ("bad_type.json", r"bad_type.json: tools\[0\].function.parameters.properties.city.type: 'strin' is not valid"),
    ("bad_impl.json", r"bad_impl.json: tools\[1\]: .*user_tools.py has no function 'book_flight'"),
    ("missing.json", r"missing.json: no such file"),
])
def test_bad_json_tools_name_file_and_field(name, message):
    with pytest.raises(ToolSpecError, match=message):
        load_tools(os.path.join(FIXTURES, name))


def test_more_declaration_errors(tmp_path):
    def write(name, data):
        path = tmp_path / name
        path.write_text(data if isinstance(data, str) else json.dumps(data))
        return str(path)

    impl = write("impl.py", "def f(x):\n    return {'x': x}\n")
    schema = {"name": "f", "description": "F.", "parameters": {"type": "object", "properties": {"x": {"type": "string"}},
                                                               "required": ["x"]}}
    cases = {
        write("syntax.json", '{"module": "impl.py",\n "tools": [}'): r"syntax.json:2: invalid JSON",
        write("nomodule.json", [schema]): r"nomodule.json: tools\[0\].module: no implementation module",
        write("dup.json", {"module": impl, "tools": [schema, schema]}): r"dup.json: tool 'f' is declared twice",
        write("req.json", {"module": impl, "tools": [{**schema, "parameters": {"type": "object", "properties": {},
                                                                               "required": ["x"]}}]}):
            r"req.json: tools\[0\].parameters.required: \"x\" is required but not declared",
        write("desc.json", {"module": impl, "tools": [{**schema, "description": ""}]}):
            r"desc.json: tools\[0\].description: a non-empty description is required",
        write("notobj.json", {"module": impl, "tools": [{**schema, "parameters": {"type": "array"}}]}):
            r"notobj.json: tools\[0\].parameters.type: must be \"object\"",
    }
    for path, message in cases.items():
        with pytest.raises(ToolSpecError, match=message):
            load_tools(path)
    with pytest.raises(ToolSpecError, match=r"broken.py: importing the module failed: ZeroDivisionError"):
        load_tools(write("broken.py", "1 / 0\n"))


def test_execution_outcomes():
    def fails(x: str):
        raise ToolError(f"bad {x}")

    def buggy(x: str):
        raise ValueError("oops")

    def not_json(x: str):
        return {"x": object()}

    schema = {"name": "t", "description": "T.", "parameters": {"type": "object", "properties": {"x": {"type": "string"}}}}
    failed = execute(tool_from_schema(schema, fails, source="user:t"), {"x": "a"})
    assert not failed.ok and failed.content == '{"error": "bad a"}'
    assert execute(tool_from_schema(schema, buggy, source="user:t"), {"x": "a"}).error == "ValueError: oops"
    with pytest.raises(ToolSpecError, match="returned a value that is not JSON"):
        execute(tool_from_schema(schema, not_json, source="user:t"), {"x": "a"})
    builtin_bug = Tool("t", "T.", schema["parameters"], buggy, source="builtin")
    with pytest.raises(ValueError):  # a built-in tool raising anything but ToolError is a bug, not a tool failure
        execute(builtin_bug, {"x": "a"})
