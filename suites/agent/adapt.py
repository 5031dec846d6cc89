"""Eval records fitted to a model before it answers: the fallback call format for templates without tools."""

from __future__ import annotations

from suites.agent.formats import FALLBACK_TOKENS, supports_system, supports_tools, to_fallback


def _uses_template_format(record: dict) -> bool:
    return bool(record.get("tools")) or any(m.get("tool_calls") or m["role"] == "tool" for m in record["messages"])


def fallback_records(records: list[dict], tokenizer, model_path: str) -> tuple[list[dict], dict]:
    """When the model's template has no tool support, its template-format records in the fallback format
    (said on stdout, and recorded in the results JSON); otherwise the records as they are."""
    n = sum(map(_uses_template_format, records))
    if not n or supports_tools(tokenizer):
        return records, {}
    system_role = supports_system(tokenizer)
    converted = [to_fallback(r, system_role) if _uses_template_format(r) else r for r in records]
    vocab = tokenizer.get_vocab()
    plain = [t for t in FALLBACK_TOKENS if t not in vocab]
    print(f"[agent eval] the chat template of {model_path} has no tool support: {n} of {len(records)} records "
          f"converted to the fallback format ({', '.join(FALLBACK_TOKENS)}; tools in the "
          f"{'system message' if system_role else 'first user message'})"
          + (f"; {', '.join(plain)} are not in its vocabulary and read as plain text" if plain else ""))
    return converted, {"call_format": "fallback (converted from template)"}
