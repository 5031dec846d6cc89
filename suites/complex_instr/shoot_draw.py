"""Shoot the arrow, then draw the target.

Given a response and the constraints an instruction asked for, keep what the response satisfies, move
each violated constraint to where the response landed (asked >= 200 words, got 189 -> ask >= 180), drop
what cannot be moved, optionally add constraints the response already satisfies (constraint
back-translation), and re-render the prompt from the final set. Only samples whose final constraints all
verify leave this module.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from core.synth.generator import Rejected
from suites.complex_instr import constraints as lib
from suites.complex_instr.compose import render_prompt
from suites.complex_instr.constraints.base import Context

ACTIONS = ("kept", "retargeted", "dropped", "added")


@dataclass
class DrawConfig:
    min_k: int = 3  # constraints sampled per instruction
    max_k: int = 6
    add: int = 1  # satisfied constraints added per sample (back-translation)
    min_final: int = 2  # add satisfied ones until at least this many hold

    def check(self) -> None:
        problems = []
        if not 1 <= self.min_k <= self.max_k:
            problems.append(f"--min-k {self.min_k}, --max-k {self.max_k}: need 1 <= min-k <= max-k")
        if self.max_k > len(lib.TYPES):
            problems.append(f"--max-k {self.max_k}: only {len(lib.TYPES)} constraint types exist")
        if self.add < 0:
            problems.append(f"--add {self.add}: must be >= 0")
        if self.min_final < 1:
            problems.append(f"--min-final {self.min_final}: must be >= 1")
        if problems:
            raise ValueError("invalid options:\n  " + "\n  ".join(problems))


@dataclass
class Drawn:
    final: list[dict]  # [{"type", "params"}] that the response satisfies
    events: list[dict]  # one per original or added constraint: {"type", "action", "reason"?}


def draw_target(response: str, originals: list[dict], ctx: Context, add: int = 0, min_final: int = 1) -> Drawn:
    """Verify each original constraint against the response; retarget or drop the violated ones; add
    satisfied ones. `ctx.response_lang` is the language the response is written in."""
    lang = ctx.response_lang
    final: list[dict] = []
    events: list[dict] = []
    for original in originals:
        ctype = lib.get(original["type"])
        if not ctype.applies(lang):
            events.append({"type": ctype.id, "action": "dropped", "reason": "wrong_language"})
            continue
        fits = ctype.fits(original["params"], lang)
        if fits and ctype.verify(response, original["params"]):
            action, params = "kept", original["params"]
        else:
            action, params = "retargeted", ctype.retarget(response, original["params"] if fits else None, ctx)
            if params is None or not ctype.fits(params, lang) or not ctype.verify(response, params):
                events.append({"type": ctype.id, "action": "dropped", "reason": "no_target"})
                continue
        candidate = final + [{"type": ctype.id, "params": params}]
        if not lib.compatible(candidate, lang):
            events.append({"type": ctype.id, "action": "dropped", "reason": "conflict"})
            continue
        final = candidate
        events.append({"type": ctype.id, "action": action})

    wanted = max(add, min_final - len(final))
    present = {c["type"] for c in final}
    pool = [t for t in sorted(lib.TYPES) if t not in present and lib.get(t).applies(lang)]
    ctx.rng.shuffle(pool)
    for type_id in pool:
        if wanted <= 0:
            break
        ctype = lib.get(type_id)
        params = ctype.retarget(response, None, ctx)
        if params is None or not ctype.fits(params, lang) or not ctype.verify(response, params):
            continue
        candidate = final + [{"type": type_id, "params": params}]
        if lib.compatible(candidate, lang):
            final = candidate
            events.append({"type": type_id, "action": "added"})
            wanted -= 1
    return Drawn(final, events)


@dataclass
class ConstraintReport:
    """Per constraint type: how many were kept, retargeted, dropped (by reason) and added."""

    by_type: dict = field(default_factory=lambda: defaultdict(Counter))
    drop_reasons: Counter = field(default_factory=Counter)

    def add(self, events: list[dict]) -> None:
        for e in events:
            self.by_type[e["type"]][e["action"]] += 1
            if e["action"] == "dropped":
                self.drop_reasons[e["reason"]] += 1

    def as_dict(self) -> dict:
        return {"by_type": {t: {a: self.by_type[t][a] for a in ACTIONS} for t in sorted(self.by_type)},
                "drop_reasons": dict(sorted(self.drop_reasons.items()))}

    def format(self) -> str:
        width = max([len("constraint type"), *(len(t) for t in self.by_type)]) + 2
        lines = [f"{'constraint type':<{width}}" + "".join(f"{a:>12}" for a in ACTIONS), "-" * (width + 48)]
        totals = Counter()
        for t in sorted(self.by_type):
            lines.append(f"{t:<{width}}" + "".join(f"{self.by_type[t][a]:>12}" for a in ACTIONS))
            totals.update(self.by_type[t])
        lines.append(f"{'ALL':<{width}}" + "".join(f"{totals[a]:>12}" for a in ACTIONS))
        if self.drop_reasons:
            lines.append("dropped because: " + ", ".join(f"{k} {v}" for k, v in sorted(self.drop_reasons.items())))
        return "\n".join(lines)


def build_record(*, instruction: str, response: str, prompt_lang: str, response_lang: str, originals: list[dict],
                 rng: random.Random, cfg: DrawConfig, source: str, pair_id: str, report: ConstraintReport,
                 extra_meta: dict | None = None) -> dict:
    """One training/eval record, or Rejected when no constraint can be made to hold."""
    if not response.strip():
        raise Rejected("empty_response")
    ctx = Context(rng=rng, lang=prompt_lang, response_lang=response_lang, instruction=instruction)
    drawn = draw_target(response, originals, ctx, add=cfg.add, min_final=cfg.min_final)
    if len(drawn.final) < cfg.min_final:
        raise Rejected("too_few_constraints")
    failing = [c["type"] for c in drawn.final if not lib.get(c["type"]).verify(response, c["params"])]
    if failing or not lib.compatible(drawn.final, response_lang):
        raise RuntimeError(f"{pair_id}: final constraints do not hold: {failing or lib.conflicts(drawn.final, response_lang)}")
    report.add(drawn.events)
    messages, layout = render_prompt(instruction, drawn.final, prompt_lang, rng)
    meta = {
        "suite": "complex_instr", "source": source, "pair_id": pair_id, "lang": prompt_lang,
        "response_lang": response_lang, "layout": layout, "instruction": instruction,
        "constraints": drawn.final, "original_constraints": originals, "events": drawn.events,
        **(extra_meta or {}),
    }
    return {"messages": messages + [{"role": "assistant", "content": response}],
            "task_type": f"complex_instr/{prompt_lang}/k{len(drawn.final)}", "meta": meta}
