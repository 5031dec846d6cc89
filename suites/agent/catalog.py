"""Where an agent run's tools come from: the built-in toolbox, a JSON Schema file, or a Python module."""

from __future__ import annotations

import os

from suites.agent.builtin_hooks import builtin_tools
from suites.agent.schema import Tool, ToolSpecError, _import_module, tools_from_json, tools_from_module


def load_tools(spec: str | None) -> list[Tool]:
    """None or "builtin" -> the built-in toolbox; a .json file; otherwise a Python module (path or name)."""
    if spec in (None, "", "builtin"):
        return builtin_tools()
    if spec.endswith(".json"):
        if not os.path.isfile(spec):
            raise ToolSpecError(f"{spec}: no such file")
        return tools_from_json(spec)
    return tools_from_module(_import_module(spec), spec)
