"""What every constraint type is made of, and the helpers the families share.

A constraint type is a value, not a class hierarchy: an id, the response languages it applies to, a
parameter sampler, a strict checker, a retargeter and its phrasings in English and Chinese.

    sample(ctx) -> params                        parameters for a new instruction
    check(response, params) -> bool               the strict verifier
    retarget(response, params | None, ctx) -> params | None
        parameters the response satisfies: close to `params` (asked >= 200 words, answer has 189 ->
        ask >= 180) or, with params None, fresh ones (constraint back-translation); None if none exist.

`verify(response, params, loose=True)` adds IFEval's loose reading (first/last line removed, markdown
emphasis stripped) on top of the strict checker.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from suites.complex_instr.text import loose_variants

ANY = ("*",)  # applies to a response in any language


@dataclass
class Context:
    """What a sampler or retargeter may look at besides the response."""

    rng: random.Random = field(default_factory=lambda: random.Random(0))
    lang: str = "en"  # the prompt's language (phrasing)
    response_lang: str = "en"  # the language the response is (or is expected to be) written in
    instruction: str = ""  # the base instruction, without constraints


Params = dict
Sampler = Callable[[Context], Params]
Checker = Callable[[str, Params], bool]
Retargeter = Callable[[str, "Params | None", Context], "Params | None"]


@dataclass(frozen=True)
class ConstraintType:
    id: str
    langs: tuple[str, ...]  # response languages this type applies to, or ANY
    sample: Sampler
    check: Checker
    retarget_fn: Retargeter
    phrasings: dict[str, tuple[str, ...]]  # "en", "zh" (or "en:<variant>") -> templates over `fields(params, lang)`
    fields: Callable[[Params, str], dict] = lambda params, lang: dict(params)
    variant: Callable[[Params], str] = lambda params: ""  # picks "lang:variant" phrasings when they exist
    # Whether the parameters make sense for a response in this language (a Chinese keyword asked of an
    # English answer holds trivially but says nothing): shoot-then-draw redraws those that do not.
    fits: Callable[[Params, str], bool] = lambda params, response_lang: True

    def applies(self, response_lang: str) -> bool:
        return "*" in self.langs or response_lang in self.langs

    def verify(self, response: str, params: Params, loose: bool = False) -> bool:
        if not loose:
            return self.check(response, params)
        return any(variant.strip() and self.check(variant, params) for variant in loose_variants(response))

    def retarget(self, response: str, params: Params | None = None, ctx: Context | None = None) -> Params | None:
        return self.retarget_fn(response, params, ctx if ctx is not None else Context())

    def render(self, params: Params, lang: str, rng: random.Random) -> str:
        key = f"{lang}:{self.variant(params)}"
        templates = self.phrasings.get(key) or self.phrasings[lang]
        return rng.choice(templates).format(**self.fields(params, lang))


# --- counted constraints: relations and numbers "as a person would write them" ---------------------------

RELATIONS = {"at least": "至少", "less than": "少于", "at most": "不超过", "exactly": "恰好"}


def compare(count: int, relation: str, n: int) -> bool:
    if relation == "at least":
        return count >= n
    if relation == "less than":
        return count < n
    if relation == "at most":
        return count <= n
    if relation == "exactly":
        return count == n
    raise ValueError(f"unknown relation {relation!r}")


def _step(n: int) -> int:
    for limit, step in ((10, 1), (50, 5), (200, 10), (500, 50), (2000, 100)):
        if n <= limit:
            return step
    return 500


def nice_floor(n: int) -> int:
    """The round number at or below n: 189 -> 180, 47 -> 45, 7 -> 7."""
    return n // _step(n) * _step(n)


def nice_ceil(n: int) -> int:
    """The round number at or above n: 181 -> 190, 43 -> 45."""
    return math.ceil(n / _step(n)) * _step(n)


def nice_above(n: int) -> int:
    """The round number strictly above n (for "less than")."""
    return nice_ceil(n + 1)


def target_for(count: int, relation: str, minimum: int = 1) -> int | None:
    """The bound a person would ask for so that `count` satisfies `relation`, or None if no sensible one."""
    if relation == "at least":
        n = nice_floor(count)
        return n if n >= minimum else None
    if relation == "less than":
        return max(nice_above(count), minimum + 1)
    if relation == "at most":
        return max(nice_ceil(count), minimum)
    if relation == "exactly":
        return count if count >= minimum else None
    raise ValueError(f"unknown relation {relation!r}")


def retarget_count(count: int, params: Params | None, ctx: Context, relations: tuple[str, ...],
                   num_key: str, minimum: int = 1, extra: Params | None = None) -> Params | None:
    """Keep the asked relation (retarget) or draw one (fresh); set the number the response satisfies."""
    if params is not None:
        order = [params["relation"]]
    else:
        order = list(relations)
        ctx.rng.shuffle(order)
    for relation in order:
        n = target_for(count, relation, minimum)
        if n is not None:
            return {**(extra or {}), "relation": relation, num_key: n}
    return None


def relation_fields(params: Params, lang: str) -> dict:
    out = dict(params)
    out["rel"] = params["relation"] if lang == "en" else RELATIONS[params["relation"]]
    return out


def plural(n: int, noun: str, plural_form: str | None = None) -> str:
    return f"{n} {noun if n == 1 else plural_form or noun + 's'}"


def quote_list(items: list[str], lang: str) -> str:
    if lang == "zh":
        return "、".join(f"“{w}”" for w in items)
    quoted = [f'"{w}"' for w in items]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]
