"""Tool declarations and tool calls checked against JSON Schema (Draft 2020-12, formats checked).

Used wherever records are read (core.data.records.validate_record) and by the agent suite's generator:
a call to a tool the record does not declare, arguments that violate the declared `parameters`, and a
`parameters` that is not a valid JSON Schema are all errors that name the field. Validators are built once
per distinct schema and cached.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import SchemaError as JsonSchemaError


def _path(parts) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts)


@lru_cache(maxsize=1024)
def _validator(schema_json: str) -> Draft202012Validator:
    return Draft202012Validator(json.loads(schema_json), format_checker=FormatChecker())


@lru_cache(maxsize=1024)
def _schema_problem(schema_json: str) -> tuple[str, str] | None:
    try:
        Draft202012Validator.check_schema(json.loads(schema_json))
    except JsonSchemaError as e:
        return _path(e.path), e.message
    return None


def _key(schema: dict) -> str:
    # Cache key only: two spellings of one schema validate alike, so sorting here changes nothing visible.
    return json.dumps(schema, sort_keys=True, ensure_ascii=False)


def validator_for(schema: dict) -> Draft202012Validator:
    return _validator(_key(schema))


def schema_problem(schema: Any) -> tuple[str, str] | None:
    """(path inside the schema, message) when `schema` is not a valid JSON Schema, else None."""
    if not isinstance(schema, dict):
        return "", f"expected a JSON Schema object, got {type(schema).__name__}"
    return _schema_problem(_key(schema))


def argument_errors(schema: dict, arguments: Any) -> list[tuple[str, str]]:
    """Every way `arguments` violates `schema`, as (path inside the arguments, message), in path order."""
    errors = sorted(validator_for(schema).iter_errors(arguments), key=lambda e: list(map(str, e.absolute_path)))
    return [(_path(e.absolute_path), e.message) for e in errors]


def declared_tools(tools: list | None) -> dict[str, dict]:
    """name -> parameters schema for a record's `tools` (the OpenAI {"type": "function", "function": ...}
    shape, or the bare function dict)."""
    out = {}
    for tool in tools or []:
        function = tool.get("function", tool) if isinstance(tool, dict) else {}
        if isinstance(function, dict) and isinstance(function.get("name"), str):
            out[function["name"]] = function.get("parameters", {"type": "object"})
    return out
