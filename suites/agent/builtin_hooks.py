"""What the scenario generator knows about the built-in tools beyond their schemas: meaningful argument
samplers, the facts an answer must state, failing inputs for `agent/tool_error`, and chain recipes for
`agent/chain` (a later call consumes an earlier result)."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from dataclasses import dataclass

from suites.agent import database as db
from suites.agent.schema import Tool
from suites.agent.toolbox import FUNCTIONS, SCHEMAS, UNITS, WEEKDAYS, count_substring
from suites.agent.values import fmt

WEEKDAYS_ZH = dict(zip(WEEKDAYS, ("星期一", "星期二", "星期三", "星期四", "星期五", "星期六", "星期日")))

TEXTS = (
    "The quick brown fox jumps over the lazy dog", "Measure twice and cut once",
    "A journey of a thousand miles begins with a single step", "Still waters run deep",
    "The early bird catches the worm", "Practice makes perfect", "Every cloud has a silver lining",
    "Rome was not built in a day", "Actions speak louder than words", "Better late than never",
    "The pen is mightier than the sword", "Knowledge is power", "Time and tide wait for no one",
    "Where there is a will there is a way", "Fortune favors the bold", "All that glitters is not gold",
    "Quarterly report draft for the board meeting", "Meeting moved to Thursday at ten",
    "Please bring the signed forms to room four", "The library closes early on public holidays",
    "hello world from the agent suite", "banana bandana cabana", "Mississippi river cruise notes",
    "red lorry yellow lorry red lorry", "She sells sea shells by the sea shore",
)


def random_date(rng: random.Random, start: int = 1995, years: int = 40) -> str:
    return (dt.date(start, 1, 1) + dt.timedelta(days=rng.randrange(365 * years))).isoformat()


def _spaced(rng: random.Random, text: str) -> str:
    return text if rng.random() < 0.7 else text.replace(" ", "")


def sample_expression(rng: random.Random) -> str:
    a, b, c = rng.randint(2, 999), rng.randint(2, 99), rng.randint(2, 30)
    x = round(rng.uniform(1, 500), rng.choice((1, 2)))
    forms = [f"{a} + {b}", f"{a} - {b}", f"{a} * {b}", f"{a} / {b}", f"({a} + {b}) * {c}", f"{a} * {b} - {c}",
             f"{b} ** {rng.randint(2, 4)}", f"sqrt({b * b})", f"{a} % {b}", f"{a} // {b}", f"round({a} / {b}, 2)",
             f"{rng.choice((5, 10, 15, 20, 25, 30, 40))} * {a} / 100", f"max({a}, {b}, {c})", f"abs({b} - {a})",
             f"({a} - {b}) / {c}", f"{x} * {c}", f"{x} + {round(rng.uniform(1, 99), 2)}"]
    return _spaced(rng, rng.choice(forms))


DIMENSION_VALUES = {"temperature": {"C": (-30, 45), "F": (-20, 110), "K": (240, 320)}}


def sample_conversion(rng: random.Random) -> dict:
    dimension = rng.choice(["length", "length", "mass", "volume", "speed", "time", "temperature"])
    units = [u for u, (d, _) in UNITS.items() if d == dimension]
    from_unit, to_unit = rng.sample(units, 2)
    if dimension == "temperature":
        lo, hi = DIMENSION_VALUES["temperature"][from_unit]
        value = rng.randint(lo, hi)
    else:
        value = rng.choice([rng.randint(1, 500), round(rng.uniform(0.5, 100), 1)])
        value = int(value) if float(value).is_integer() else value
    return {"value": value, "from_unit": from_unit, "to_unit": to_unit}


def _substring_candidates(text: str) -> list[str]:
    """What a user might count in `text`: its words and word beginnings, its letters and letter pairs, and
    the words of the other texts (mostly absent from this one)."""
    out = []
    for word in text.split():
        out += [word, word[:2], word[:3]] if len(word) > 3 else [word]
    out += [text[i:i + n] for n in (1, 2) for i in range(len(text) - n + 1) if text[i:i + n].isalpha()]
    out += [word for other in TEXTS if other != text for word in other.split() if len(word) > 2]
    return out


def _substring_case(rng: random.Random) -> dict:
    """The count to reach (0, 1, 2 or 3 and more) is drawn first, uniformly: a whole word occurs once in most
    texts, so sampling the substring alone would make "1" the answer to most requests."""
    case_sensitive = rng.random() < 0.5 if rng.random() < 0.3 else None
    lower = rng.random() < 0.5
    bucket = rng.randrange(4)
    for text in rng.sample(TEXTS, len(TEXTS)):
        subs = dict.fromkeys(c.lower() if lower else c for c in _substring_candidates(text))
        pool = [sub for sub in subs if min(count_substring(text, sub, bool(case_sensitive))["count"], 3) == bucket]
        if pool:
            break
    else:
        raise RuntimeError(f"no text has a substring occurring {bucket} times")
    args = {"text": text, "substring": rng.choice(pool)}
    if case_sensitive is not None:
        args["case_sensitive"] = case_sensitive
    return args


def _search(rng: random.Random) -> dict:
    category = rng.choice(db.CATEGORIES)
    prices = sorted(p.price for p in db.PRODUCTS if p.category == category)
    return {"category": category, "max_price": float(rng.choice(range(int(prices[0]) + 1, int(prices[-1]) + 12)))}


SAMPLERS: dict[str, Callable[[random.Random], dict]] = {
    "calculate": lambda rng: {"expression": sample_expression(rng)},
    "convert_units": sample_conversion,
    "add_days": lambda rng: {"date": random_date(rng), "days": rng.choice([rng.randint(1, 120), rng.randint(-120, -1),
                                                                            rng.randint(100, 1000)])},
    "days_between": lambda rng: dict(zip(("start_date", "end_date"), sorted([random_date(rng), random_date(rng)]))),
    "weekday": lambda rng: {"date": random_date(rng)},
    "get_product": lambda rng: {"product_id": rng.choice(db.PRODUCTS).product_id},
    "search_products": _search,
    "get_employee": lambda rng: {"name": rng.choice(db.EMPLOYEES).name, "field": rng.choice(db.EMPLOYEE_FIELDS)},
    "change_case": lambda rng: {"text": rng.choice(TEXTS), "mode": rng.choice(["upper", "lower", "title", "reverse"])},
    "text_stats": lambda rng: {"text": rng.choice(TEXTS)},
    "count_substring": _substring_case,
}


def _weekday_facts(result: dict, lang: str) -> list[str]:
    return [WEEKDAYS_ZH[result["weekday"]] if lang == "zh" else result["weekday"]]


FACTS: dict[str, Callable[[dict, str], list[str]]] = {
    "calculate": lambda r, lang: [fmt(r["result"])],
    "convert_units": lambda r, lang: [fmt(r["value"])],
    "add_days": lambda r, lang: [r["date"]],
    "days_between": lambda r, lang: [fmt(abs(r["days"]))],
    "weekday": _weekday_facts,
    "get_product": lambda r, lang: [r["name"], fmt(r["price"]), fmt(r["stock"])],
    "search_products": lambda r, lang: ([p["name"] for p in r["products"]] + [fmt(p["price"]) for p in r["products"]]
                                        or [fmt(r["count"])]),
    "get_employee": lambda r, lang: [v for k, v in r.items() if k != "name"],
    "change_case": lambda r, lang: [r["text"]],
    "text_stats": lambda r, lang: [fmt(r["characters"]), fmt(r["words"])],
    "count_substring": lambda r, lang: [fmt(r["count"])],
}


# --- failing inputs -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ErrorCase:
    tool: str
    arguments: dict  # valid against the schema, fails when run
    fixed: dict | None = None  # a sensible retry that succeeds; None: the assistant explains instead
    reason: str = ""  # key of the advice / retry note templates


def _calc_error(rng: random.Random) -> ErrorCase:
    a, b, k = rng.randint(2, 500), rng.randint(2, 60), rng.randint(2, 4)
    p = rng.choice((5, 10, 15, 20, 25))
    fixable = [(f"{a} × {b}", f"{a} * {b}"), (f"{a} ÷ {b}", f"{a} / {b}"), (f"{b}^{k}", f"{b} ** {k}"),
               (f"{p}% of {a}", f"{p} / 100 * {a}"), (f"{a} x {b}", f"{a} * {b}")]
    if rng.random() < 0.5:
        bad, good = rng.choice(fixable)
        return ErrorCase("calculate", {"expression": bad}, {"expression": good}, "notation")
    broken = [(f"{a} / ({b} - {b})", "zero"), (f"{a} % 0", "zero"), (f"sqrt(-{a})", "domain"),
              (f"{b} ** {rng.randint(2000, 9000)}", "too_large")]
    expression, reason = rng.choice(broken)
    return ErrorCase("calculate", {"expression": expression}, None, reason)


def _convert_error(rng: random.Random) -> ErrorCase:
    if rng.random() < 0.75:
        while True:
            from_unit, to_unit = rng.sample(sorted(UNITS), 2)
            if UNITS[from_unit][0] != UNITS[to_unit][0]:
                break
        return ErrorCase("convert_units", {"value": rng.randint(1, 300), "from_unit": from_unit, "to_unit": to_unit},
                         None, "dimension")
    return ErrorCase("convert_units", {"value": -rng.randint(300, 900), "from_unit": "C",
                                       "to_unit": rng.choice(["F", "K"])}, None, "absolute_zero")


INVALID_DATES = ("2023-02-29", "2021-02-30", "2022-04-31", "2019-06-31", "2024-13-01", "2025-11-31", "2018-09-31",
                 "2023-00-10", "2022-02-29", "2020-02-30")


def _date_error(tool: str) -> Callable[[random.Random], ErrorCase]:
    def case(rng: random.Random) -> ErrorCase:
        bad = rng.choice(INVALID_DATES)
        if tool == "add_days":
            args = {"date": bad, "days": rng.randint(1, 90)}
        elif tool == "days_between":
            args = dict(zip(("start_date", "end_date"), rng.sample([bad, random_date(rng, 2015, 10)], 2)))
        else:
            args = {"date": bad}
        return ErrorCase(tool, args, None, "invalid_date")

    return case


UNKNOWN_PEOPLE = ("Maria Rossi", "Tom Baker", "Sun Li", "Omar Farouk", "Julia Stein", "Pavel Orlov", "Amara Diallo")


def _employee_error(rng: random.Random) -> ErrorCase:
    field = rng.choice(db.EMPLOYEE_FIELDS)
    if rng.random() < 0.5:
        from suites.agent.toolbox import closest_employee

        employee = rng.choice(db.EMPLOYEES)
        part = rng.choice(employee.name.split())
        if closest_employee(part) is employee:
            return ErrorCase("get_employee", {"name": part, "field": field}, {"name": employee.name, "field": field},
                             "partial_name")
    return ErrorCase("get_employee", {"name": rng.choice(UNKNOWN_PEOPLE), "field": field}, None, "unknown_name")


def _product_error(rng: random.Random) -> ErrorCase:
    while (pid := f"P-{rng.randint(100, 999)}") in db.PRODUCTS_BY_ID:
        pass
    return ErrorCase("get_product", {"product_id": pid}, None, "unknown_id")


ERROR_CASES: dict[str, Callable[[random.Random], ErrorCase]] = {
    "calculate": _calc_error, "convert_units": _convert_error, "add_days": _date_error("add_days"),
    "days_between": _date_error("days_between"), "weekday": _date_error("weekday"),
    "get_employee": _employee_error, "get_product": _product_error,
}


def builtin_tools() -> list[Tool]:
    return [Tool(name=name, description=description, parameters=parameters, function=FUNCTIONS[name],
                 source="builtin", sample_arguments=SAMPLERS[name], facts=FACTS.get(name))
            for name, (description, parameters) in SCHEMAS.items()]
