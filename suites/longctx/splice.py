"""Build a prompt of an exact token length by splicing inserts (needles, headings, documents) into a window
of a tokenised haystack.

The haystack budget is the target minus the tokens of everything else (the chat-templated prompt with an
empty context, and each insert); inserts go to the unit boundary nearest their requested depth. Token
counts are additive except at the few seams (context start and end, each insert), so the first estimate is
already within a few tokens; with ``verify`` the rendered prompt is tokenised once and the tail of the
window is moved by the difference (usually one pass, at most ``MAX_PASSES``), which makes the length exact.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from core.model.generation import prompt_ids
from core.synth.generator import Rejected
from suites.longctx.haystack import Haystack, nearest

MAX_PASSES = 6
TOLERANCE = 0.01  # the accepted relative length error when exactness cannot be reached


@dataclass
class Insert:
    text: str  # inserted verbatim between units, with its own leading separator (" " in English)
    depth: float  # requested relative depth in [0, 1]
    order: int = 0  # tie-break when several inserts land on the same boundary (lower first)


@dataclass
class Spliced:
    messages: list[dict]  # the prompt messages (no answer yet)
    context: str
    tokens: int  # tokens of the rendered prompt (verified, or the additive estimate)
    positions: list[int]  # haystack token offset of each insert (input order)
    depths: list[float]  # positions / haystack tokens
    arrangement: list[int]  # insert indices in the order they appear in the context
    haystack_tokens: int
    wraps: int  # how often the window wrapped around the end of the haystack
    verified: bool
    passes: int


def count_tokens(tokenizer, text: str) -> int:
    return len(tokenizer(text, add_special_tokens=False)["input_ids"])


def prompt_tokens(tokenizer, messages: list[dict]) -> int:
    return len(prompt_ids(tokenizer, {"messages": messages}))


def assemble(haystack: Haystack, start: int, length: int, inserts: list[Insert]) -> tuple[str, list[int], list[int]]:
    """The context text of window [start, start + length) with the inserts spliced in."""
    bounds = haystack.boundaries(start, length)
    positions = [nearest(bounds, min(max(ins.depth, 0.0), 1.0) * length) for ins in inserts]
    arrangement = sorted(range(len(inserts)), key=lambda i: (positions[i], inserts[i].order, i))
    pieces, previous = [], 0
    for i in arrangement:
        pieces.append(haystack.text_of(start + previous, start + positions[i]))
        pieces.append(inserts[i].text)
        previous = positions[i]
    pieces.append(haystack.text_of(start + previous, start + length))
    return "".join(pieces).strip(), positions, arrangement


def splice(haystack: Haystack, tokenizer, target: int, inserts: list[Insert], render: Callable[[str], list[dict]],
           rng, verify: bool = True, start: int | None = None) -> Spliced:
    """`render(context)` returns the prompt messages around a context string."""
    overhead = prompt_tokens(tokenizer, render(""))
    insert_tokens = sum(count_tokens(tokenizer, ins.text) for ins in inserts)
    budget = target - overhead - insert_tokens
    start = haystack.random_unit_start(rng) if start is None else start
    length = haystack.clean_cut(start + budget) - start
    if budget < 1 or length < 1:
        raise Rejected("length_below_prompt_and_needles")
    measured: dict[int, int] = {}  # window length -> rendered prompt tokens
    built = {}
    for _ in range(MAX_PASSES if verify else 1):
        built[length] = assemble(haystack, start, length, inserts)
        if not verify:
            measured[length] = overhead + insert_tokens + length
            break
        measured[length] = prompt_tokens(tokenizer, render(built[length][0]))
        diff = measured[length] - target
        if diff == 0:
            break
        # Move the tail by the difference; seams can make a one-token move change the count by more, so
        # when the estimate repeats an earlier length, step to the next untried cut instead.
        nxt = haystack.clean_cut(start + length - diff, forward=diff < 0) - start
        while nxt in measured and 0 < nxt:
            nxt = haystack.clean_cut(start + nxt + (1 if diff < 0 else -1), forward=diff < 0) - start
        if nxt < 1:
            break
        length = nxt
    length = min(measured, key=lambda n: (abs(measured[n] - target), n))
    tokens = measured[length]
    if abs(tokens - target) > TOLERANCE * target:
        raise Rejected("length_off_by_more_than_1pct")
    context, positions, arrangement = built[length]
    wraps = (start + length - 1) // haystack.n_tokens - start // haystack.n_tokens
    return Spliced(render(context), context, tokens, positions, [p / length for p in positions], arrangement, length,
                   wraps, verify, len(measured))
