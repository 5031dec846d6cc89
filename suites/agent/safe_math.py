"""Arithmetic evaluated by walking Python's AST: never `eval`, nothing but numbers and a whitelist.

`compile_expression(text)` parses and checks the whole tree before anything is computed, so a refused
expression (attribute access, names, imports, calls outside the whitelist, strings, over-long input,
huge literals or literal exponents) runs no operation at all. `Program.run()` then evaluates with
guards that refuse before computing: a power whose result would be huge, division by zero, and
results that leave the finite range.
"""

from __future__ import annotations

import ast
import math
import operator
from dataclasses import dataclass


class MathError(ValueError):
    """The expression is refused or cannot be evaluated; the message says why."""


MAX_LENGTH = 200
MAX_DEPTH = 40
MAX_LITERAL = 10**15
MAX_EXPONENT = 1000
MAX_RESULT_DIGITS = 300  # |result| < 10**300, for ints and floats alike
RESULT_SIGNIFICANT_DIGITS = 12

BINARY = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
          ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow}
UNARY = {ast.UAdd: operator.pos, ast.USub: operator.neg}
SYMBOL = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//", ast.Mod: "%", ast.Pow: "**"}


def _round(x, digits=0):
    if isinstance(digits, float):
        if not digits.is_integer():
            raise MathError("round() needs a whole number of digits")
        digits = int(digits)
    if not -20 <= digits <= 20:
        raise MathError("round() digits must be between -20 and 20")
    return round(x, digits)


def _sqrt(x):
    if x < 0:
        raise MathError("sqrt of a negative number")
    return math.sqrt(x)


def _log(x, base=math.e):
    if x <= 0 or base <= 0 or base == 1:
        raise MathError("log needs a positive argument and a positive base other than 1")
    return math.log(x, base)


FUNCTIONS = {  # name -> (function, min args, max args)
    "sqrt": (_sqrt, 1, 1), "abs": (abs, 1, 1), "round": (_round, 1, 2), "min": (min, 2, 8),
    "max": (max, 2, 8), "floor": (math.floor, 1, 1), "ceil": (math.ceil, 1, 1), "log": (_log, 1, 2),
}
CONSTANTS = {"pi": math.pi, "e": math.e}

_NODE_NAMES = {ast.Attribute: "attribute access", ast.Subscript: "subscripts", ast.Lambda: "lambda",
               ast.Compare: "comparisons", ast.BoolOp: "boolean operators", ast.IfExp: "conditional expressions",
               ast.ListComp: "comprehensions", ast.GeneratorExp: "comprehensions", ast.DictComp: "comprehensions",
               ast.SetComp: "comprehensions", ast.List: "lists", ast.Tuple: "tuples", ast.Dict: "dicts",
               ast.Set: "sets", ast.JoinedStr: "strings", ast.NamedExpr: "assignment", ast.Await: "await",
               ast.Starred: "starred arguments"}


@dataclass(frozen=True)
class Program:
    """A checked expression tree; `run()` evaluates it."""

    text: str
    tree: ast.Expression

    def run(self) -> int | float:
        value = _evaluate(self.tree.body)
        return normalise_result(value)


def compile_expression(text: str) -> Program:
    """Parse and check `text`; raise MathError (before computing anything) when it is refused."""
    if not isinstance(text, str):
        raise MathError(f"the expression must be a string, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise MathError(f"expression is too long ({len(text)} characters; at most {MAX_LENGTH})")
    if not text.strip():
        raise MathError("the expression is empty")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError:
        statement = text.strip().split(None, 1)[0]
        if statement in {"import", "from", "def", "class", "del", "global", "exec", "lambda", "for", "while"}:
            raise MathError(f"only one arithmetic expression is allowed ('{statement}' is refused)") from None
        bad = [c for c in text if not (c.isascii() and (c.isalnum() or c in " ._+-*/%(),\t"))]
        if bad:
            raise MathError(f"unsupported character {bad[0]!r} (use + - * / // % ** and parentheses)") from None
        raise MathError(f"not a valid arithmetic expression: {text.strip()!r}") from None
    except (RecursionError, MemoryError, ValueError):
        raise MathError("the expression is nested too deeply") from None
    _check(tree.body, 0)
    return Program(text, tree)


def evaluate(text: str) -> int | float:
    return compile_expression(text).run()


def _check(node: ast.AST, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise MathError(f"the expression is nested too deeply (more than {MAX_DEPTH} levels)")
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, int | float):
            raise MathError(f"only numbers are allowed, not {type(node.value).__name__} {node.value!r}")
        if abs(node.value) > MAX_LITERAL:
            raise MathError(f"number {node.value!r} is too large (at most {MAX_LITERAL:.0e})")
        return
    if isinstance(node, ast.BinOp):
        if type(node.op) not in BINARY:
            hint = " (use ** for powers)" if isinstance(node.op, ast.BitXor) else ""
            raise MathError(f"operator {type(node.op).__name__} is not allowed{hint}")
        if isinstance(node.op, ast.Pow):
            literal = _literal_value(node.right)
            if literal is not None and abs(literal) > MAX_EXPONENT:
                raise MathError(f"exponent {literal!r} is too large (at most {MAX_EXPONENT})")
        _check(node.left, depth + 1)
        _check(node.right, depth + 1)
        return
    if isinstance(node, ast.UnaryOp):
        if type(node.op) not in UNARY:
            raise MathError(f"operator {type(node.op).__name__} is not allowed")
        _check(node.operand, depth + 1)
        return
    if isinstance(node, ast.Name):
        if node.id in CONSTANTS:
            return
        if node.id in FUNCTIONS:
            raise MathError(f"function '{node.id}' must be called, e.g. {node.id}(2)")
        raise MathError(f"name '{node.id}' is not allowed (only numbers, pi and e)")
    if isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name):
            what = "attribute access" if isinstance(node.func, ast.Attribute) else "calling this"
            raise MathError(f"{what} is not allowed; functions: {', '.join(sorted(FUNCTIONS))}")
        if node.func.id not in FUNCTIONS:
            raise MathError(f"function '{node.func.id}' is not allowed; functions: {', '.join(sorted(FUNCTIONS))}")
        if node.keywords or any(isinstance(a, ast.Starred) for a in node.args):
            raise MathError(f"{node.func.id}() takes plain positional numbers only")
        _, lo, hi = FUNCTIONS[node.func.id]
        if not lo <= len(node.args) <= hi:
            raise MathError(f"{node.func.id}() takes {lo if lo == hi else f'{lo} to {hi}'} argument(s), "
                            f"got {len(node.args)}")
        for arg in node.args:
            _check(arg, depth + 1)
        return
    raise MathError(f"{_NODE_NAMES.get(type(node), type(node).__name__)} not allowed in an arithmetic expression")


def _literal_value(node: ast.AST) -> int | float | None:
    sign = 1
    while isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        sign = -sign if isinstance(node.op, ast.USub) else sign
        node = node.operand
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float) and not isinstance(node.value, bool):
        return sign * node.value
    return None


def _guard(value: int | float) -> int | float:
    if isinstance(value, float) and not math.isfinite(value):
        raise MathError("the result is not a finite number")
    if abs(value) >= 10**MAX_RESULT_DIGITS:
        raise MathError(f"the result is too large (at least 10**{MAX_RESULT_DIGITS})")
    return value


def _power(base: int | float, exponent: int | float) -> int | float:
    if abs(exponent) > MAX_EXPONENT:
        raise MathError(f"exponent {exponent!r} is too large (at most {MAX_EXPONENT})")
    if base == 0 and exponent < 0:
        raise MathError("zero cannot be raised to a negative power")
    if base < 0 and isinstance(exponent, float) and not exponent.is_integer():
        raise MathError("a negative number cannot be raised to a fractional power")
    if abs(base) > 1 and exponent > 0 and exponent * math.log10(abs(base)) >= MAX_RESULT_DIGITS:
        raise MathError(f"the result of {base!r} ** {exponent!r} is too large (at least 10**{MAX_RESULT_DIGITS})")
    return BINARY[ast.Pow](base, exponent)


def _evaluate(node: ast.AST) -> int | float:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        return CONSTANTS[node.id]
    if isinstance(node, ast.UnaryOp):
        return UNARY[type(node.op)](_evaluate(node.operand))
    if isinstance(node, ast.BinOp):
        left, right = _evaluate(node.left), _evaluate(node.right)
        if isinstance(node.op, ast.Pow):
            return _guard(_power(left, right))
        if isinstance(node.op, ast.Div | ast.FloorDiv | ast.Mod) and right == 0:
            raise MathError("division by zero")
        return _guard(BINARY[type(node.op)](left, right))
    if isinstance(node, ast.Call):
        function = FUNCTIONS[node.func.id][0]
        return _guard(function(*(_evaluate(a) for a in node.args)))
    raise MathError(f"{type(node).__name__} not allowed")  # unreachable after _check


def normalise_result(value: int | float) -> int | float:
    """Ints stay exact; floats keep 12 significant digits (0.1 + 0.2 -> 0.3), and whole floats below
    10**15 become ints (10 / 2 -> 5), so results read the same in a tool turn and in an answer."""
    value = _guard(value)
    if isinstance(value, int):
        return value
    if value == 0:
        return 0
    value = float(f"{value:.{RESULT_SIGNIFICANT_DIGITS}g}")
    if value.is_integer() and abs(value) < 1e15:
        return int(value)
    return value
