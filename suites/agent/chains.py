"""Chain recipes for `agent/chain`: a later call's arguments come from an earlier call's result.

A recipe plans the user's request (`plan(rng) -> slots`), then runs its steps through `step(tool, args)`,
which executes the call, appends the call and result turns, and returns the result; `run` returns the
answer's slots and the facts the answer must state. Built-in recipes use the toolbox; user tools get
generic chains wherever one tool's result field feeds another tool's parameter of the same name.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from dataclasses import dataclass

from suites.agent import database as db
from suites.agent.arguments import sample_arguments, validation_errors
from suites.agent.builtin_hooks import WEEKDAYS_ZH, random_date
from suites.agent.schema import Tool, ToolRaised, execute
from suites.agent.values import fmt

Step = Callable[[str, dict], dict]


@dataclass(frozen=True)
class ChainRecipe:
    name: str
    tools: tuple[str, ...]
    plan: Callable[[random.Random], dict]
    run: Callable[[dict, Step, str], tuple[dict, list[str]]]  # (slots, step, lang) -> (answer slots, facts)


def _product_total(slots: dict, step: Step, lang: str):
    product = step("get_product", {"product_id": slots["product_id"]})
    total = step("calculate", {"expression": f"{fmt(product['price'])} * {slots['qty']}"})["result"]
    return {**slots, "name": product["name"], "price": fmt(product["price"]), "total": fmt(total)}, [fmt(total)]


def _weekday_after(slots: dict, step: Step, lang: str):
    new_date = step("add_days", {"date": slots["date"], "days": slots["days"]})["date"]
    day = step("weekday", {"date": new_date})["weekday"]
    shown = WEEKDAYS_ZH[day] if lang == "zh" else day
    return {**slots, "new_date": new_date, "weekday": shown}, [new_date, shown]


def _tenure(slots: dict, step: Step, lang: str):
    start = step("get_employee", {"name": slots["name"], "field": "start_date"})["start_date"]
    days = step("days_between", {"start_date": start, "end_date": slots["today"]})["days"]
    return {**slots, "start_date": start, "days": fmt(days)}, [fmt(days)]


def _weekly_distance(slots: dict, step: Step, lang: str):
    converted = step("convert_units", {"value": slots["value"], "from_unit": slots["from_unit_id"],
                                       "to_unit": slots["to_unit_id"]})["value"]
    total = step("calculate", {"expression": f"{fmt(converted)} * {slots['times']}"})["result"]
    return {**slots, "converted": fmt(converted), "total": fmt(total)}, [fmt(total)]


def _cheapest_stock(slots: dict, step: Step, lang: str):
    found = step("search_products", {"category": slots["category_id"], "max_price": slots["max_price_value"]})
    cheapest = found["products"][0]
    product = step("get_product", {"product_id": cheapest["product_id"]})
    out = {**slots, "name": product["name"], "product_id": cheapest["product_id"], "price": fmt(product["price"]),
           "stock": fmt(product["stock"])}
    return out, [product["name"], fmt(product["stock"])]


def _plan_cheapest(rng: random.Random) -> dict:
    category = rng.choice(db.CATEGORIES)
    cheapest = min(p.price for p in db.PRODUCTS if p.category == category)
    max_price = float(rng.randint(int(cheapest) + 1, int(cheapest) + 40))
    return {"category_id": category, "max_price_value": max_price, "max_price": fmt(max_price)}


def _plan_distance(rng: random.Random) -> dict:
    from_unit, to_unit = rng.choice([("mi", "km"), ("km", "mi"), ("km", "m"), ("mi", "m"), ("m", "km")])
    if from_unit == "m":
        value = rng.randint(800, 12000)
    else:
        value = rng.choice([rng.randint(2, 15), round(rng.uniform(1, 12), 1)])
        value = int(value) if float(value).is_integer() else value
    return {"value": value, "from_unit_id": from_unit, "to_unit_id": to_unit, "times": rng.choice([5, 7, 10, 14, 30])}


BUILTIN_CHAINS = (
    ChainRecipe("product_total", ("get_product", "calculate"),
                lambda rng: {"product_id": rng.choice(db.PRODUCTS).product_id, "qty": rng.randint(2, 25)},
                _product_total),
    ChainRecipe("weekday_after", ("add_days", "weekday"),
                lambda rng: {"date": random_date(rng), "days": rng.randint(2, 400)}, _weekday_after),
    ChainRecipe("tenure", ("get_employee", "days_between"),
                lambda rng: {"name": rng.choice(db.EMPLOYEES).name,
                             "today": (dt.date(2024, 1, 1) + dt.timedelta(days=rng.randrange(1000))).isoformat()},
                _tenure),
    ChainRecipe("weekly_distance", ("convert_units", "calculate"), _plan_distance, _weekly_distance),
    ChainRecipe("cheapest_stock", ("search_products", "get_product"), _plan_cheapest, _cheapest_stock),
)


def chain_display_slots(recipe: ChainRecipe, slots: dict, display: Callable[[str, object], str]) -> dict:
    """Slots a template shows: unit and category ids spelled in the sample's language; `n` for day counts."""
    out = dict(slots)
    if "from_unit_id" in slots:
        out["from_unit"], out["to_unit"] = display("from_unit", slots["from_unit_id"]), display("to_unit", slots["to_unit_id"])
        out["value"] = fmt(slots["value"])
    if "category_id" in slots:
        out["category"] = display("category", slots["category_id"])
    if "days" in slots:
        out["n"] = fmt(slots["days"])
    return out


# --- generic chains for user tools ------------------------------------------------------------------------------


@dataclass(frozen=True)
class GenericLink:
    first: str
    second: str
    key: str  # a field of `first`'s result that is a parameter of `second`


def discover_links(tools: list[Tool], probes: int = 12, seed: int = 0) -> list[GenericLink]:
    """Pairs (A, B, key) where A's result (on sampled arguments) has a field B takes as a parameter with a
    schema-valid value. Probing uses its own fixed seed, so discovery is the same for every sample."""
    rng = random.Random(seed)
    links = set()
    for first in tools:
        for _ in range(probes):
            try:
                args = sample_arguments(first, rng)
            except ValueError:
                break
            if validation_errors(first, args):
                continue
            try:
                result = execute(first, args)
            except ToolRaised:
                continue
            if not result.ok or not isinstance(result.value, dict):
                continue
            for second in tools:
                if second is first:
                    continue
                for key, value in result.value.items():
                    if key in second.properties and not _invalid_single(second, key, value):
                        links.add(GenericLink(first.name, second.name, key))
    return sorted(links, key=lambda link: (link.first, link.second, link.key))


def _invalid_single(tool: Tool, key: str, value) -> bool:
    probe = Tool(tool.name, tool.description, {"type": "object", "properties": {key: tool.properties[key]}},
                 tool.function, tool.source)
    return bool(validation_errors(probe, {key: value}))
