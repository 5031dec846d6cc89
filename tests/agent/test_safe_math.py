"""The arithmetic tool: exact results, and adversarial input refused with a clear error before anything runs."""

import ast

import pytest

from suites.agent import safe_math
from suites.agent.safe_math import MathError, compile_expression, evaluate
from suites.agent.schema import ToolError
from suites.agent.toolbox import calculate


@pytest.mark.parametrize("text, value", [
    ("1 + 2 * 3", 7), ("(1 + 2) * 3", 9), ("0.1 + 0.2", 0.3), ("10 / 4", 2.5), ("10 / 2", 5), ("7 // 2", 3),
    ("-7 % 3", 2), ("2 ** 10", 1024), ("2 ** -1", 0.5), ("sqrt(144)", 12), ("abs(3 - 10)", 7),
    ("round(2 / 3, 3)", 0.667), ("max(4, 9, 2)", 9), ("min(4, 9, 2)", 2), ("floor(2.7) + ceil(2.1)", 5),
    ("log(1000, 10)", 3), ("round(pi, 4)", 3.1416), ("1_000 * 3", 3000), ("-(2 ** 2)", -4),
    ("123456789 * 987654321", 121932631112635269),
])
def test_arithmetic_results_are_exact(text, value):
    result = evaluate(text)
    assert result == value and type(result) is type(value)


STATICALLY_REFUSED = {
    "__import__('os').system('ls')": "attribute access is not allowed",
    "__import__('os')": "function '__import__' is not allowed",
    "import os": "'import' is refused",
    "from os import system": "'from' is refused",
    "(1).real": "attribute access not allowed",
    "().__class__.__bases__[0].__subclasses__()": "attribute access",
    "open('/etc/passwd').read()": "attribute access",
    "eval('1+1')": "function 'eval' is not allowed",
    "exec('x=1')": "function 'exec' is not allowed",
    "x + 1": "name 'x' is not allowed",
    "__builtins__": "name '__builtins__' is not allowed",
    "lambda: 1": "lambda not allowed",
    "[i for i in range(10**9)]": "comprehensions not allowed",
    "'a' * 10": "only numbers are allowed",
    "(1, 2)[0]": "subscripts not allowed",
    "2 ** 100000": "exponent 100000 is too large",
    "10 ** -5000": "exponent -5000 is too large",
    "9" * 30: "is too large",
    "1 << 100000": "operator LShift is not allowed",
    "2 ^ 8": "use ** for powers",
    "1 if 1 else 2": "conditional expressions not allowed",
    "1 < 2": "comparisons not allowed",
    "sqrt(x=4)": "plain positional numbers only",
    "max(1)": "takes 2 to 8 argument(s), got 1",
    "-" * 60 + "1": "nested too deeply",
    "1 + " * 70 + "1": "expression is too long",
    "3 × 4": "unsupported character '×'",
    "": "empty",
}


@pytest.mark.parametrize("text, message", list(STATICALLY_REFUSED.items()))
def test_adversarial_input_is_refused_before_anything_runs(text, message, monkeypatch):
    ran = []
    monkeypatch.setattr(safe_math, "_evaluate", lambda node: ran.append(node))
    with pytest.raises(MathError, match=None) as info:
        compile_expression(text)
    assert message in str(info.value)
    assert ran == []  # nothing was evaluated
    with pytest.raises(ToolError) as tool_info:  # the tool reports the same message as a ToolError
        calculate(text)
    assert str(tool_info.value) == str(info.value)


@pytest.mark.parametrize("text, message, allowed_powers", [
    ("2 ** (9 ** 9)", "exponent 387420489 is too large", [(9, 9)]),
    ("9 ** 9 ** 9", "exponent 387420489 is too large", [(9, 9)]),
    ("(10 ** 200) ** 2", "too large", [(10, 200)]),
    ("(2 ** 990) * (2 ** 990)", "too large", [(2, 990), (2, 990)]),  # the product is refused after cheap powers
])
def test_a_computed_huge_power_is_refused_before_it_is_computed(text, message, allowed_powers, monkeypatch):
    calls = []
    real = safe_math.BINARY[ast.Pow]
    monkeypatch.setitem(safe_math.BINARY, ast.Pow, lambda a, b: calls.append((a, b)) or real(a, b))
    with pytest.raises(MathError, match="too large"):
        evaluate(text)
    assert calls == allowed_powers


@pytest.mark.parametrize("text, message", [
    ("1 / 0", "division by zero"), ("5 % (3 - 3)", "division by zero"), ("sqrt(-4)", "sqrt of a negative number"),
    ("0 ** -1", "zero cannot be raised"), ("(-8) ** 0.5", "fractional power"), (" * ".join(["1e15"] * 21), "too large"),
    ("log(0)", "positive argument"), ("round(1, 50)", "between -20 and 20"),
])
def test_domain_errors_are_clear(text, message):
    with pytest.raises(MathError, match=message.replace("(", r"\(")):
        evaluate(text)


def test_never_calls_eval_exec_or_compiles_code(monkeypatch):
    import builtins

    real_compile = builtins.compile

    def forbidden(*args, **kwargs):
        raise AssertionError("eval/exec must not be used")

    def parse_only(source, filename, mode, flags=0, *args, **kwargs):  # ast.parse compiles to an AST, nothing more
        assert flags & ast.PyCF_ONLY_AST, "only parsing to an AST is allowed"
        return real_compile(source, filename, mode, flags, *args, **kwargs)

    monkeypatch.setattr(builtins, "eval", forbidden)
    monkeypatch.setattr(builtins, "exec", forbidden)
    monkeypatch.setattr(builtins, "compile", parse_only)
    assert evaluate("(3 + 4) * sqrt(16)") == 28
