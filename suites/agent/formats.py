"""The agent suite's call formats: the fallback tool format now lives in core (core.data.tool_fallback), so
core.train renders tool-less templates the same way the agent suite does. Re-exported here for the suite."""

from core.data.tool_fallback import (  # noqa: F401
    CALL_TOKEN,
    FALLBACK_INSTRUCTION,
    FALLBACK_TOKENS,
    RESULT_TOKEN,
    TOOLS_TOKEN,
    call_format,
    call_line,
    for_tokenizer,
    result_line,
    supports_system,
    supports_tools,
    to_fallback,
    tools_preamble,
)
