"""Sample call arguments that respect a tool's JSON Schema, and validate arguments with `jsonschema`.

The sampler covers what tool schemas use in practice: enum/const, integer and number ranges
(minimum/maximum, exclusive bounds, multipleOf), strings (enum, format date/date-time/email, length,
`examples`), booleans, arrays (minItems/maxItems, items), nested objects (required always, optional
properties sometimes), anyOf/oneOf and nullable type lists. A schema it cannot satisfy (a bare `pattern`
without `examples`, say) raises UnsupportedSchema naming the field, instead of producing invalid data.
"""

from __future__ import annotations

import datetime as dt
import math
import random

from core.data.tool_schema import validator_for
from suites.agent.schema import Tool


class UnsupportedSchema(ValueError):
    pass


WORDS = ("alpha", "harbor", "orange", "quartz", "meadow", "signal", "copper", "lantern", "violet", "summit",
         "river", "pixel", "maple", "falcon", "ember", "tundra")
CITIES = ("Paris", "Tokyo", "Nairobi", "Lima", "Oslo", "Hanoi", "Toronto", "Madrid", "Cairo", "Sydney")
PEOPLE = ("Ada", "Bilal", "Chiara", "Dmitri", "Esi", "Farah", "Goran", "Hana", "Ivo", "Jun")


def _string(schema: dict, name: str, rng: random.Random, where: str) -> str:
    fmt = schema.get("format")
    if fmt in ("date", "date-time"):
        day = dt.date(2000, 1, 1) + dt.timedelta(days=rng.randrange(365 * 30))
        clock = f"T{rng.randrange(24):02d}:{rng.randrange(60):02d}:00Z" if fmt == "date-time" else ""
        return day.isoformat() + clock
    if fmt == "email":
        return f"{rng.choice(PEOPLE).lower()}.{rng.choice(WORDS)}@example.com"
    if "examples" in schema and schema["examples"]:
        return rng.choice(schema["examples"])
    if "pattern" in schema:
        raise UnsupportedSchema(f"{where}: cannot sample a string for a bare pattern; add \"examples\" or an enum")
    lowered = name.lower()
    pool = CITIES if ("city" in lowered or "location" in lowered) else PEOPLE if "name" in lowered else WORDS
    lo, hi = schema.get("minLength", 1), schema.get("maxLength", 60)
    words = [rng.choice(pool)]
    while len(" ".join(words)) < lo or (rng.random() < 0.3 and pool is WORDS and len(words) < 4):
        words.append(rng.choice(WORDS))
    text = " ".join(words)[:hi]
    if len(text) < lo:
        raise UnsupportedSchema(f"{where}: cannot sample a string with minLength {lo} and maxLength {hi}")
    return text


def _number(schema: dict, integer: bool, rng: random.Random, where: str) -> int | float:
    lo = schema.get("minimum", schema.get("exclusiveMinimum", 0 if integer else 0.0))
    hi = schema.get("maximum", schema.get("exclusiveMaximum", lo + (100 if integer else 100.0)))
    if "exclusiveMinimum" in schema and "minimum" not in schema:
        lo = lo + 1 if integer else lo + 0.01
    if "exclusiveMaximum" in schema and "maximum" not in schema:
        hi = hi - 1 if integer else hi - 0.01
    step = schema.get("multipleOf")
    if integer:
        lo, hi = math.ceil(lo), math.floor(hi)
        if step:
            candidates = [v for v in range(lo, hi + 1) if v % step == 0][:10_000]
            if not candidates:
                raise UnsupportedSchema(f"{where}: no multiple of {step} in [{lo}, {hi}]")
            return rng.choice(candidates)
        if lo > hi:
            raise UnsupportedSchema(f"{where}: empty integer range [{lo}, {hi}]")
        return rng.randint(lo, hi)
    if lo > hi:
        raise UnsupportedSchema(f"{where}: empty number range [{lo}, {hi}]")
    if step:
        k = rng.randint(math.ceil(lo / step), math.floor(hi / step))
        return round(k * step, 10)
    value = round(rng.uniform(lo, hi), rng.choice((0, 1, 2)))
    value = min(max(value, lo), hi)
    return int(value) if float(value).is_integer() and rng.random() < 0.5 else float(value)


def sample_value(schema: dict, name: str, rng: random.Random, where: str = "arguments", depth: int = 0):
    if depth > 6:
        raise UnsupportedSchema(f"{where}: nested too deeply to sample")
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return rng.choice(schema["enum"])
    for key in ("anyOf", "oneOf"):
        if key in schema:
            branches = [b for b in schema[key] if b.get("type") != "null"] or schema[key]
            return sample_value(rng.choice(branches), name, rng, where, depth + 1)
    kind = schema.get("type", "string")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "string":
        return _string(schema, name, rng, where)
    if kind in ("integer", "number"):
        return _number(schema, kind == "integer", rng, where)
    if kind == "boolean":
        return rng.random() < 0.5
    if kind == "null":
        return None
    if kind == "array":
        items = schema.get("items", {"type": "string"})
        lo, hi = schema.get("minItems", 1), schema.get("maxItems", max(schema.get("minItems", 1), 3))
        count = rng.randint(lo, hi)
        return [sample_value(items, name, rng, f"{where}[{i}]", depth + 1) for i in range(count)]
    if kind == "object":
        return sample_object(schema, rng, where, depth + 1)
    raise UnsupportedSchema(f"{where}: cannot sample type {kind!r}")


def sample_object(schema: dict, rng: random.Random, where: str = "arguments", depth: int = 0,
                  optional_rate: float = 0.5) -> dict:
    required = set(schema.get("required", []))
    out = {}
    for name, prop in schema.get("properties", {}).items():
        if name in required or rng.random() < optional_rate:
            out[name] = sample_value(prop, name, rng, f"{where}.{name}", depth)
    return out


def sample_arguments(tool: Tool, rng: random.Random) -> dict:
    """The tool's own sampler when it has one (built-in tools draw meaningful values), else the schema's."""
    if tool.sample_arguments is not None:
        return tool.sample_arguments(rng)
    return sample_object(tool.parameters, rng, where=f"{tool.name}.arguments")


def undeclared_arguments(tool: Tool, arguments: dict) -> list[str]:
    """Arguments the schema's `properties` do not declare, in the order given."""
    return [name for name in arguments if name not in tool.properties]


def validation_errors(tool: Tool, arguments: dict) -> list[str]:
    """Every way `arguments` violates the tool's schema, as "path: message" strings (empty when valid)."""
    errors = sorted(validator_for(tool.parameters).iter_errors(arguments), key=lambda e: list(map(str, e.absolute_path)))
    return [f"{tool.name}.{'.'.join(map(str, e.absolute_path)) or 'arguments'}: {e.message}" for e in errors]
