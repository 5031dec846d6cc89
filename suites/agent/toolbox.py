"""The built-in toolbox: tools that really execute and return deterministic results.

calculate (safe AST arithmetic), convert_units, add_days / days_between / weekday, get_product /
search_products / get_employee (the in-memory database), change_case / text_stats / count_substring.
A failure raises ToolError with a message meant for the model.
"""

from __future__ import annotations

import datetime as dt

from suites.agent import database as db
from suites.agent.safe_math import MathError, compile_expression
from suites.agent.schema import ToolError

# --- arithmetic ------------------------------------------------------------------------------------------------


def calculate(expression: str) -> dict:
    try:
        return {"result": compile_expression(expression).run()}
    except MathError as e:
        raise ToolError(str(e)) from None


# --- units ------------------------------------------------------------------------------------------------------

UNITS = {  # unit -> (dimension, factor to the dimension's base unit)
    "m": ("length", 1.0), "km": ("length", 1000.0), "cm": ("length", 0.01), "mm": ("length", 0.001),
    "mi": ("length", 1609.344), "ft": ("length", 0.3048), "in": ("length", 0.0254), "yd": ("length", 0.9144),
    "kg": ("mass", 1.0), "g": ("mass", 0.001), "lb": ("mass", 0.45359237), "oz": ("mass", 0.028349523125),
    "L": ("volume", 1.0), "mL": ("volume", 0.001), "gal": ("volume", 3.785411784), "cup": ("volume", 0.2365882365),
    "m/s": ("speed", 1.0), "km/h": ("speed", 1 / 3.6), "mph": ("speed", 0.44704), "knot": ("speed", 1852 / 3600),
    "s": ("time", 1.0), "min": ("time", 60.0), "h": ("time", 3600.0), "day": ("time", 86400.0),
    "week": ("time", 604800.0),
    "C": ("temperature", None), "F": ("temperature", None), "K": ("temperature", None),
}


def _to_kelvin(value: float, unit: str) -> float:
    return {"C": value + 273.15, "F": (value - 32) * 5 / 9 + 273.15, "K": value}[unit]


def _from_kelvin(value: float, unit: str) -> float:
    return {"C": value - 273.15, "F": (value - 273.15) * 9 / 5 + 32, "K": value}[unit]


def round_significant(value: float, digits: int = 6) -> int | float:
    if value == 0:
        return 0
    value = float(f"{value:.{digits}g}")
    return int(value) if value.is_integer() and abs(value) < 1e15 else value


def convert_units(value: float, from_unit: str, to_unit: str) -> dict:
    for unit in (from_unit, to_unit):
        if unit not in UNITS:
            raise ToolError(f"unknown unit '{unit}'")
    (dim_from, f_from), (dim_to, f_to) = UNITS[from_unit], UNITS[to_unit]
    if dim_from != dim_to:
        raise ToolError(f"cannot convert {dim_from} ({from_unit}) to {dim_to} ({to_unit})")
    if dim_from == "temperature":
        kelvin = _to_kelvin(value, from_unit)
        if kelvin < 0:
            raise ToolError(f"{value} {from_unit} is below absolute zero")
        converted = _from_kelvin(kelvin, to_unit)
    else:
        converted = value * f_from / f_to
    return {"value": round_significant(converted), "unit": to_unit}


# --- dates ---------------------------------------------------------------------------------------------------------

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
DATE_PATTERN = r"^\d{4}-\d{2}-\d{2}$"


def parse_date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ToolError(f"'{text}' is not a valid calendar date (expected YYYY-MM-DD)") from None


def add_days(date: str, days: int) -> dict:
    try:
        return {"date": (parse_date(date) + dt.timedelta(days=days)).isoformat()}
    except OverflowError:
        raise ToolError(f"{date} plus {days} days is outside the supported calendar") from None


def days_between(start_date: str, end_date: str) -> dict:
    return {"days": (parse_date(end_date) - parse_date(start_date)).days}


def weekday(date: str) -> dict:
    return {"weekday": WEEKDAYS[parse_date(date).weekday()]}


# --- database ------------------------------------------------------------------------------------------------------


def get_product(product_id: str) -> dict:
    product = db.PRODUCTS_BY_ID.get(product_id.strip().upper())
    if product is None:
        raise ToolError(f"no product with id '{product_id}'")
    return {"name": product.name, "price": product.price, "stock": product.stock}


def search_products(category: str, max_price: float) -> dict:
    if category not in db.CATEGORIES:
        raise ToolError(f"unknown category '{category}'; categories: {', '.join(db.CATEGORIES)}")
    found = sorted((p for p in db.PRODUCTS if p.category == category and p.price <= max_price),
                   key=lambda p: (p.price, p.product_id))
    return {"count": len(found),
            "products": [{"product_id": p.product_id, "name": p.name, "price": p.price} for p in found]}


def closest_employee(name: str) -> db.Employee | None:
    """The one employee whose name contains every word of `name` (case-insensitive), if exactly one does."""
    words = name.lower().split()
    matches = [e for e in db.EMPLOYEES if words and all(w in e.name.lower().split() for w in words)]
    return matches[0] if len(matches) == 1 else None


def get_employee(name: str, field: str) -> dict:
    if field not in db.EMPLOYEE_FIELDS:
        raise ToolError(f"unknown field '{field}'; fields: {', '.join(db.EMPLOYEE_FIELDS)}")
    employee = db.EMPLOYEES_BY_NAME.get(" ".join(name.lower().split()))
    if employee is None:
        near = closest_employee(name)
        hint = f"; did you mean '{near.name}'?" if near else ""
        raise ToolError(f"no employee named '{name}'{hint}")
    return {"name": employee.name, field: getattr(employee, field)}


# --- text --------------------------------------------------------------------------------------------------------------

CASE_MODES = ("upper", "lower", "title", "reverse")


def change_case(text: str, mode: str) -> dict:
    if mode not in CASE_MODES:
        raise ToolError(f"unknown mode '{mode}'; modes: {', '.join(CASE_MODES)}")
    return {"text": {"upper": text.upper(), "lower": text.lower(), "title": text.title(), "reverse": text[::-1]}[mode]}


def text_stats(text: str) -> dict:
    return {"characters": len(text), "words": len(text.split())}


def count_substring(text: str, substring: str, case_sensitive: bool = False) -> dict:
    if not substring:
        raise ToolError("the substring to count is empty")
    haystack, needle = (text, substring) if case_sensitive else (text.lower(), substring.lower())
    return {"count": haystack.count(needle)}


# --- declarations ------------------------------------------------------------------------------------------------------


def _obj(properties: dict, required: list[str]) -> dict:
    # The functions take exactly these parameters: the schema says so, and jsonschema enforces it.
    return {"type": "object", "properties": properties, "required": required, "additionalProperties": False}


DATE = {"type": "string", "pattern": DATE_PATTERN, "description": "a date in YYYY-MM-DD format"}

SCHEMAS = {
    "calculate": ("Evaluate an arithmetic expression with + - * / // % ** and parentheses, and the functions "
                  "sqrt, abs, round, min, max, floor, ceil, log. Returns the exact result.",
                  _obj({"expression": {"type": "string", "minLength": 1, "maxLength": 200,
                                       "description": "the expression, e.g. (3 + 4) * 2"}}, ["expression"])),
    "convert_units": ("Convert a value between units of length, mass, volume, speed, time or temperature.",
                      _obj({"value": {"type": "number", "description": "the amount to convert"},
                            "from_unit": {"type": "string", "enum": list(UNITS), "description": "the unit of value"},
                            "to_unit": {"type": "string", "enum": list(UNITS), "description": "the target unit"}},
                           ["value", "from_unit", "to_unit"])),
    "add_days": ("Add (or, with a negative number, subtract) days to a date.",
                 _obj({"date": DATE, "days": {"type": "integer", "minimum": -36500, "maximum": 36500,
                                              "description": "number of days to add"}}, ["date", "days"])),
    "days_between": ("Count the days from one date to another (negative if the end is earlier).",
                     _obj({"start_date": {**DATE, "description": "the first date, YYYY-MM-DD"},
                           "end_date": {**DATE, "description": "the second date, YYYY-MM-DD"}},
                          ["start_date", "end_date"])),
    "weekday": ("Tell the day of the week of a date.", _obj({"date": DATE}, ["date"])),
    "get_product": ("Look up a product in the store catalog by id: its name, price in US dollars and units in stock.",
                    _obj({"product_id": {"type": "string", "pattern": r"^P-\d{3}$",
                                         "description": "catalog id such as P-101"}}, ["product_id"])),
    "search_products": ("List the catalog's products of a category at or below a maximum price, cheapest first.",
                        _obj({"category": {"type": "string", "enum": list(db.CATEGORIES)},
                              "max_price": {"type": "number", "minimum": 0, "description": "in US dollars"}},
                             ["category", "max_price"])),
    "get_employee": ("Look up one field of an employee's record in the company directory by full name.",
                     _obj({"name": {"type": "string", "minLength": 2, "description": "the employee's full name"},
                           "field": {"type": "string", "enum": list(db.EMPLOYEE_FIELDS)}}, ["name", "field"])),
    "change_case": ("Rewrite a text in upper case, lower case, title case, or reversed.",
                    _obj({"text": {"type": "string", "minLength": 1, "maxLength": 500},
                          "mode": {"type": "string", "enum": list(CASE_MODES)}}, ["text", "mode"])),
    "text_stats": ("Count the characters and the words of a text.",
                   _obj({"text": {"type": "string", "minLength": 1, "maxLength": 2000}}, ["text"])),
    "count_substring": ("Count how often a substring occurs in a text.",
                        _obj({"text": {"type": "string", "minLength": 1, "maxLength": 2000},
                              "substring": {"type": "string", "minLength": 1, "maxLength": 50},
                              "case_sensitive": {"type": "boolean", "default": False,
                                                 "description": "match case exactly (default false)"}},
                             ["text", "substring"])),
}

FUNCTIONS = {"calculate": calculate, "convert_units": convert_units, "add_days": add_days,
             "days_between": days_between, "weekday": weekday, "get_product": get_product,
             "search_products": search_products, "get_employee": get_employee, "change_case": change_case,
             "text_stats": text_stats, "count_substring": count_substring}
