"""Tools: a JSON Schema declaration (the OpenAI / transformers function format) plus the Python callable
that really runs it.

A tool is declared either as a schema dict or as a plain Python function whose signature and Google-style
docstring become the schema (through `transformers.utils.get_json_schema`). `catalog.load_tools(spec)` reads a
user's tools from a Python module (file path or dotted name) or from a JSON file; every problem is
reported with the file and the field.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from core.data.tool_schema import schema_problem
from core.errors import UserError


class ToolError(Exception):
    """A tool ran and failed (bad input for its domain, unknown id, ...); the message goes to the model."""


class ToolSpecError(UserError):
    """A tool declaration is unusable; the message names the file and the field."""


class ToolRaised(RuntimeError):
    """A user tool raised something other than ToolError, ValueError or TypeError (a KeyError from a table
    lookup, say): a bug in the tool on these arguments. Callers count it and go on."""

    def __init__(self, tool: str, error: BaseException):
        super().__init__(f"{tool} raised {type(error).__name__}: {error}")
        self.tool, self.kind = tool, type(error).__name__


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    parameters: dict
    function: Callable[..., Any]
    source: str = "builtin"
    # Optional hooks the built-in toolbox sets; user tools fall back to generic behaviour.
    sample_arguments: Callable | None = field(default=None, compare=False)  # (rng) -> dict
    facts: Callable | None = field(default=None, compare=False)  # (result, lang) -> list[str] the answer must state

    def schema(self) -> dict:
        return {"type": "function",
                "function": {"name": self.name, "description": self.description, "parameters": self.parameters}}

    @property
    def required(self) -> list[str]:
        return list(self.parameters.get("required", []))

    @property
    def properties(self) -> dict:
        return self.parameters.get("properties", {})


def check_parameters(parameters: Any, where: str) -> dict:
    """The parameters must be a valid JSON Schema of type object; errors name the exact field."""
    if not isinstance(parameters, dict):
        raise ToolSpecError(f"{where}: expected a JSON Schema object, got {type(parameters).__name__}")
    problem = schema_problem(parameters)
    if problem:
        raise ToolSpecError(f"{where}{problem[0]}: {problem[1]}")
    if parameters.get("type") != "object":
        raise ToolSpecError(f"{where}.type: must be \"object\", got {parameters.get('type')!r}")
    properties = parameters.get("properties", {})
    for name in parameters.get("required", []):
        if name not in properties:
            raise ToolSpecError(f"{where}.required: \"{name}\" is required but not declared in properties")
    return parameters


def tool_from_schema(schema: Any, function: Callable, where: str = "tool", source: str = "") -> Tool:
    """Accepts {"type": "function", "function": {...}} or the bare {"name", "description", "parameters"}."""
    if not isinstance(schema, dict):
        raise ToolSpecError(f"{where}: expected an object, got {type(schema).__name__}")
    inner, prefix = (schema["function"], f"{where}.function") if "function" in schema else (schema, where)
    if not isinstance(inner, dict):
        raise ToolSpecError(f"{prefix}: expected an object")
    name = inner.get("name")
    if not isinstance(name, str) or not name.isidentifier():
        raise ToolSpecError(f"{prefix}.name: must be an identifier-like string, got {name!r}")
    description = inner.get("description", "")
    if not isinstance(description, str) or not description.strip():
        raise ToolSpecError(f"{prefix}.description: a non-empty description is required (the model reads it)")
    parameters = check_parameters(inner.get("parameters", {"type": "object", "properties": {}}), f"{prefix}.parameters")
    if not callable(function):
        raise ToolSpecError(f"{prefix}: implementation of {name!r} is not callable")
    return Tool(name=name, description=description.strip(), parameters=parameters, function=function,
                source=source or where)


def tool_from_function(function: Callable, source: str = "") -> Tool:
    """Signature + docstring -> schema. Every parameter needs a type hint and an `Args:` line."""
    from transformers.utils import get_json_schema
    from transformers.utils.chat_template_utils import DocstringParsingException, TypeHintParsingException

    where = source or f"{getattr(function, '__module__', '?')}.{getattr(function, '__qualname__', function)}"
    try:
        schema = get_json_schema(function)
    except (DocstringParsingException, TypeHintParsingException) as e:
        raise ToolSpecError(f"{where}: {e}") from None
    schema["function"].pop("return", None)
    return tool_from_schema(schema, function, where, source=where)


# --- execution ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Execution:
    ok: bool
    value: Any = None  # the tool's JSON-able result when ok
    error: str = ""  # the ToolError message otherwise

    @property
    def content(self) -> str:
        """The `tool` turn's content: the result (or {"error": ...}) as canonical JSON."""
        return result_content(self.value if self.ok else {"error": self.error})


def result_content(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def execute(tool: Tool, arguments: dict) -> Execution:
    """Run the tool. ToolError (and ValueError or TypeError from user code) becomes a failed Execution; any
    other exception of a user tool becomes ToolRaised; a built-in tool's is a bug here and propagates."""
    try:
        value = tool.function(**arguments)
    except ToolError as e:
        return Execution(False, error=str(e))
    except (ValueError, TypeError) as e:
        if tool.source == "builtin":
            raise
        return Execution(False, error=f"{type(e).__name__}: {e}")
    except Exception as e:
        if tool.source == "builtin":
            raise
        raise ToolRaised(tool.name, e) from e
    try:
        json.dumps(value)
    except TypeError as e:
        raise ToolSpecError(f"{tool.source}: {tool.name} returned a value that is not JSON: {e}") from None
    return Execution(True, value=value)


# --- loading user tools --------------------------------------------------------------------------------------


def _import_module(spec: str):
    if spec.endswith(".py") or os.sep in spec:
        path = os.path.abspath(spec)
        if not os.path.isfile(path):
            raise ToolSpecError(f"{spec}: no such file")
        name = "sft_agent_tools_" + str(abs(hash(path)))
        if name in sys.modules:
            return sys.modules[name]
        module_spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[name] = module
        try:
            module_spec.loader.exec_module(module)
        except Exception as e:
            del sys.modules[name]
            raise ToolSpecError(f"{spec}: importing the module failed: {type(e).__name__}: {e}") from e
        return module
    try:
        return importlib.import_module(spec)
    except ImportError as e:
        raise ToolSpecError(f"{spec}: cannot import module ({e})") from None


def tools_from_module(module, where: str) -> list[Tool]:
    """`TOOLS` in the module: a list of functions and/or schema dicts (a schema's implementation is the
    module attribute with the same name). Without `TOOLS`, every public function defined in the module."""
    declared = getattr(module, "TOOLS", None)
    if declared is None:
        declared = [obj for name, obj in vars(module).items()
                    if inspect.isfunction(obj) and not name.startswith("_") and obj.__module__ == module.__name__]
    if not isinstance(declared, list | tuple):
        raise ToolSpecError(f"{where}: TOOLS must be a list of functions or schema dicts")
    tools = []
    for i, item in enumerate(declared):
        if callable(item):
            tools.append(tool_from_function(item, source=f"{where}:{item.__name__}"))
        else:
            name = (item.get("function", item) if isinstance(item, dict) else {}).get("name")
            function = getattr(module, name, None) if isinstance(name, str) else None
            if function is None:
                raise ToolSpecError(f"{where}: TOOLS[{i}]: no function named {name!r} in the module implements it")
            tools.append(tool_from_schema(item, function, f"{where}: TOOLS[{i}]", source=f"{where}:{name}"))
    return check_unique(tools, where)


def tools_from_json(path: str) -> list[Tool]:
    """A JSON file: {"module": "impl.py" or "package.module", "tools": [schema, ...]} (or just the list,
    each schema then naming "module" itself). Relative module paths are resolved from the JSON file."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except json.JSONDecodeError as e:
        raise ToolSpecError(f"{path}:{e.lineno}: invalid JSON ({e.msg})") from None
    default_module = None
    if isinstance(data, dict):
        default_module = data.get("module")
        if "tools" not in data:
            raise ToolSpecError(f"{path}: tools: missing (expected {{\"module\": ..., \"tools\": [...]}})")
        data = data["tools"]
    if not isinstance(data, list) or not data:
        raise ToolSpecError(f"{path}: tools: expected a non-empty array of tool schemas")
    tools = []
    for i, schema in enumerate(data):
        where = f"{path}: tools[{i}]"
        module_spec = schema.get("module", default_module) if isinstance(schema, dict) else None
        if not module_spec:
            raise ToolSpecError(f"{where}.module: no implementation module given (top-level \"module\" or per tool)")
        if module_spec.endswith(".py") and not os.path.isabs(module_spec):
            module_spec = os.path.join(os.path.dirname(os.path.abspath(path)), module_spec)
        module = _import_module(module_spec)
        schema = {k: v for k, v in schema.items() if k != "module"}
        name = schema.get("function", schema).get("name") if isinstance(schema.get("function", schema), dict) else None
        function = getattr(module, name, None) if isinstance(name, str) else None
        if function is None:
            raise ToolSpecError(f"{where}: {module_spec} has no function {name!r}")
        tools.append(tool_from_schema(schema, function, where, source=f"{path}:{name}"))
    return check_unique(tools, path)


def check_unique(tools: list[Tool], where: str) -> list[Tool]:
    seen = set()
    for tool in tools:
        if tool.name in seen:
            raise ToolSpecError(f"{where}: tool {tool.name!r} is declared twice")
        seen.add(tool.name)
    if not tools:
        raise ToolSpecError(f"{where}: no tools found")
    return tools
