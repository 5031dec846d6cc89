"""Phrasing: the English and Chinese templates (phrasing/en.yaml, phrasing/zh.yaml) and how a call's
arguments and result become template slots."""

from __future__ import annotations

import os
import random
import re
import string
from functools import cache

import yaml

from suites.agent.schema import Tool
from suites.agent.values import default_facts, fmt

PHRASING_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "phrasing")
LANGS = ("en", "zh")
DISPLAY_KIND = {"from_unit": "unit", "to_unit": "unit", "unit": "unit", "mode": "mode", "field": "field",
                "category": "category", "weekday": "weekday"}


CJK = re.compile(r"[\u4e00-\u9fff]")
_LATIN_OR_DIGIT = re.compile(r"[A-Za-z0-9]")


class TemplateError(KeyError):
    pass


def glue(text: str, piece: str, spaced: bool) -> str:
    """text + piece; with `spaced`, a space where a Chinese character meets a Latin letter or a digit."""
    if spaced and text and piece and (
            (CJK.match(text[-1]) and _LATIN_OR_DIGIT.match(piece[0]))
            or (_LATIN_OR_DIGIT.match(text[-1]) and CJK.match(piece[0]))):
        return f"{text} {piece}"
    return text + piece


@cache
def load_phrasing(lang: str) -> dict:
    if lang not in LANGS:
        raise ValueError(f"lang must be one of {LANGS}, got {lang!r}")
    with open(os.path.join(PHRASING_DIR, f"{lang}.yaml"), encoding="utf-8") as f:
        return yaml.safe_load(f)


def template_slots(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def first_sentence(description: str) -> str:
    text = re.split(r"\. |。", description.strip())[0].rstrip(".。").strip()
    return text if len(text) > 1 and text[1].isupper() else text[:1].lower() + text[1:]


class Phrasing:
    """Templates of one language for one sample; a value keeps one spelling within the sample."""

    def __init__(self, lang: str, rng: random.Random):
        self.lang, self.rng, self.data = lang, rng, load_phrasing(lang)
        self._spelling: dict[tuple[str, object], str] = {}

    def has(self, *path: str) -> bool:
        node = self.data
        for key in path:
            if not isinstance(node, dict) or key not in node:
                return False
            node = node[key]
        return True

    def get(self, *path: str):
        node = self.data
        for key in path:
            node = node[key]
        return node

    def pick(self, *path: str) -> str:
        node = self.get(*path)
        return self.rng.choice(node) if isinstance(node, list) else node

    @property
    def spaced(self) -> bool:
        return bool(self.data.get("space_between_scripts"))

    def fill(self, template: str, slots: dict) -> str:
        if not self.spaced:
            try:
                return template.format_map(slots)
            except KeyError as e:
                raise TemplateError(f"[{self.lang}] template {template!r} needs slot {e.args[0]!r}") from None
        formatter, out = string.Formatter(), ""
        for literal, name, spec, conversion in formatter.parse(template):
            out = glue(out, literal, True)
            if name is not None:
                if name not in slots:
                    raise TemplateError(f"[{self.lang}] template {template!r} needs slot {name!r}")
                value = formatter.convert_field(slots[name], conversion)
                out = glue(out, format(value, spec or ""), True)
        return out

    def reads_natively(self, text: str) -> bool:
        """Can `text` (a tool's description) be embedded as a clause in this language's sentences?"""
        return bool(CJK.search(text)) == (self.lang == "zh")

    def say(self, path: tuple[str, ...], slots: dict) -> str:
        return self.fill(self.pick(*path), slots)

    def display(self, name: str, value) -> str:
        kind = DISPLAY_KIND.get(name)
        table = self.data["display"].get(kind, {}) if kind else {}
        if not isinstance(value, str) or value not in table:
            return fmt(value)
        key = (kind, value)
        if key not in self._spelling:
            self._spelling[key] = self.rng.choice(table[value])
        return self._spelling[key]

    def param_label(self, tool: Tool, param: str) -> str:
        labels = self.data.get("param_labels", {})
        if tool.source == "builtin" and param in labels:
            return labels[param]
        description = tool.properties.get(param, {}).get("description", "").strip().rstrip(".")
        for article in ("the ", "a ", "an "):
            if description.lower().startswith(article):
                description = description[len(article):]
        if description and len(description) <= 40 and self.reads_natively(description):
            return description
        return param if self.data["generic"]["label_from_name"] == "identifier" else param.replace("_", " ")

    def join(self, items: list[str], sep: str | None = None, last: str | None = None) -> str:
        sep = self.data["list_sep"] if sep is None else sep
        last = self.data["list_last"] if last is None else last
        out = ""
        for i, item in enumerate(items):
            if i:
                out = glue(out, last if i == len(items) - 1 else sep, self.spaced)
            out = glue(out, item, self.spaced)
        return out

    def args_kv(self, args: list[tuple[str, object]]) -> str:
        """"city=Tokyo, unit=celsius": parameters by their names, one style per request."""
        style = self.pick("generic", "arg_kv")
        sep = self.data["generic"]["kv_sep"]
        return self.join([self.fill(style, {"param": k, "value": fmt(v)}) for k, v in args], sep, sep)

    def capabilities(self, tools: list[Tool]) -> str:
        return self.data["capability_sep"].join(
            self.fill(self.data["capability"], {"name": t.name, "description": first_sentence(t.description)})
            for t in tools)

    # --- call slots ---------------------------------------------------------------------------------------------

    def arg_slots(self, tool: Tool, args: dict) -> dict:
        slots = {name: self.display(name, value) for name, value in args.items()}
        if tool.source == "builtin" and tool.name == "add_days":
            slots["n"] = fmt(abs(args["days"]))
        return slots

    def result_slots(self, tool: Tool, args: dict, result) -> dict:
        if not isinstance(result, dict):
            return {"r_result": fmt(result)}
        slots = {f"r_{k}": self.display(k, v) for k, v in result.items() if not isinstance(v, list | dict)}
        if tool.source != "builtin":
            return slots
        if tool.name == "get_employee":
            slots["r_value"] = fmt(result[args["field"]])
        elif tool.name == "days_between":
            slots["r_days"] = fmt(abs(result["days"]))
        elif tool.name == "search_products":
            items = [self.fill(self.get("tools", "search_products", "item"),
                               {"name": p["name"], "product_id": p["product_id"], "price": fmt(p["price"])})
                     for p in result["products"]]
            slots["r_items"] = self.join(items)
        return slots

    def variant(self, tool: Tool, args: dict, result, kind: str) -> str:
        """"request"/"answer", or the built-in tool's directional variant (days before a date...)."""
        if tool.source == "builtin":
            if tool.name == "add_days" and args["days"] < 0:
                return f"{kind}_before"
            if tool.name == "days_between" and kind == "answer" and result["days"] < 0:
                return "answer_before"
            if tool.name == "search_products" and kind == "answer" and not result["products"]:
                return "answer_empty"
        return kind

    # --- requests and answers -----------------------------------------------------------------------------------

    def request(self, tool: Tool, args: dict) -> str:
        if tool.source == "builtin" and self.has("tools", tool.name, "request"):
            text = self.say(("tools", tool.name, self.variant(tool, args, None, "request")), self.arg_slots(tool, args))
            if "case_sensitive" in args:
                text += self.pick("tools", tool.name, "case_note",
                                  "sensitive" if args["case_sensitive"] else "insensitive")
            return text
        return self.generic_request(tool, args)

    def generic_request(self, tool: Tool, args: dict, omit: str | None = None) -> str:
        shown = [(k, v) for k, v in args.items() if k != omit]
        description = first_sentence(tool.description)
        arg_slots = [{"param": self.param_label(tool, k), "value": fmt(v)} for k, v in shown]
        slots = {"name": tool.name, "description": description,
                 "description_cap": description[:1].upper() + description[1:],
                 "args": self.join([self.fill(self.data["generic"]["arg"], a) for a in arg_slots]),
                 "args_sentence": " ".join(self.fill(self.data["generic"]["args_sentence"], a) for a in arg_slots),
                 "args_kv": self.args_kv(shown)}
        frames = self.data["generic"] if shown else self.data["generic"]["clarify"]
        pool = (frames["request"] if self.reads_natively(description) else []) + frames["request_named"]
        return self.fill(self.rng.choice(pool), slots)

    def task(self, tool: Tool, args: dict) -> str:
        """What a call does, as a clause: "look up the population of a city (city Paris)", or with the tool
        named when its description cannot be embedded: "调用 city_population（city=Paris）"."""
        description = first_sentence(tool.description)
        generic = self.data["generic"]
        if not self.reads_natively(description):
            return self.fill(generic["task_named"] if args else generic["task_named_bare"],
                             {"name": tool.name, "args_kv": self.args_kv(list(args.items()))})
        if not args:
            return description
        parts = [self.fill(generic["arg"], {"param": self.param_label(tool, k), "value": fmt(v)})
                 for k, v in args.items()]
        return self.fill(generic["task"], {"description": description, "args": self.join(parts)})

    def answer(self, tool: Tool, args: dict, result, specific: bool = False) -> str:
        """`specific`: the answer names what it answers (one of several in a parallel turn)."""
        if tool.source == "builtin" and self.has("tools", tool.name, "answer"):
            slots = {**self.arg_slots(tool, args), **self.result_slots(tool, args, result)}
            templates = self.get("tools", tool.name, self.variant(tool, args, result, "answer"))
            if specific:
                templates = [t for t in templates if template_slots(t) & set(args)] or templates
            return self.fill(self.rng.choice(templates), slots)
        frames = "answer_specific" if specific and args else "answer"
        return self.fill(self.pick("generic", frames), {"name": tool.name, "facts": self.generic_facts(result),
                                                        "args_kv": self.args_kv(list(args.items()))})

    def generic_facts(self, result) -> str:
        if not isinstance(result, dict | list):
            return fmt(result)
        pairs = _leaf_pairs(result)
        sep = self.data["generic"].get("fact_sep")
        return self.join([self.fill(self.data["generic"]["fact"], {"key": k, "value": fmt(v)}) for k, v in pairs],
                         sep, sep)


def _leaf_pairs(value, prefix: str = "") -> list[tuple[str, object]]:
    if isinstance(value, dict):
        return [p for k in sorted(value) for p in _leaf_pairs(value[k], f"{prefix}.{k}" if prefix else k)]
    if isinstance(value, list):
        return [p for i, item in enumerate(value) for p in _leaf_pairs(item, f"{prefix}[{i}]")]
    return [(prefix or "result", value)]


def answer_facts(tool: Tool, result, lang: str) -> list[str]:
    """What an answer built on this result must state."""
    if tool.facts is not None:
        return tool.facts(result, lang)
    return default_facts(result)

