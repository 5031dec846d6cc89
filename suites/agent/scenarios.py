"""Scenario synthesis: which tools a sample offers, which episodes it plays, and the finished record.

Task types: agent/single, agent/parallel, agent/multiple, agent/chain, agent/no_call, agent/clarify,
agent/tool_error and agent/multi_turn (2-4 episodes mixing the others, some depending on the history).
Every record is verified (suites.agent.verify) before it is returned.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field

from core.synth.generator import allocate_shares
from suites.agent import episodes as ep
from suites.agent.arguments import sample_arguments
from suites.agent.chains import ChainRecipe
from suites.agent.session import Session, Toolset
from suites.agent.verify import verify

SCENARIOS = ("single", "parallel", "multiple", "chain", "no_call", "clarify", "tool_error", "multi_turn")
DEFAULT_SHARES = {"single": 0.14, "parallel": 0.13, "multiple": 0.14, "chain": 0.13, "no_call": 0.1,
                  "clarify": 0.1, "tool_error": 0.11, "multi_turn": 0.15}
DATE_TOOLS = {"add_days", "days_between", "weekday"}


@dataclass
class ScenarioConfig:
    tools: str | None = None  # None: the built-in toolbox; else a module or JSON file (see catalog.load_tools)
    lang: str = "en"  # en | zh | mix
    shares: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_SHARES))
    system_prompt_rate: float = 0.85


class ScenarioBuilder:
    """`build(rng, index)` makes sample `index` of an `n`-sample run; labels depend on (n, shares) only,
    so shards agree with the unsharded run."""

    def __init__(self, config: ScenarioConfig, n: int):
        if config.lang not in ("en", "zh", "mix"):
            raise ValueError(f"--lang must be en, zh or mix, got {config.lang!r}")
        unknown = sorted(set(config.shares) - set(SCENARIOS))
        if unknown:
            raise ValueError(f"unknown scenario {unknown[0]!r}; scenarios: {', '.join(SCENARIOS)}")
        self.config = config
        self.toolset = Toolset.load(config.tools)
        self.tools = self.toolset.by_name
        self.unavailable = self._unavailable()
        shares = {k: v for k, v in config.shares.items() if k not in self.unavailable and v > 0}
        if not shares:
            raise ValueError(f"no scenario can be built with these tools: {self.unavailable}")
        self.labels = allocate_shares(n, shares) if n else []

    def _unavailable(self) -> dict[str, str]:
        out = {}
        ts = self.toolset
        if not ts.chains and not ts.links:
            out["chain"] = "no tool's result feeds another tool's parameter"
        if not ts.failable:
            out["tool_error"] = "no tool raised ToolError on sampled arguments"
        if not any(t.required for t in ts.tools):
            out["clarify"] = "no tool has a required parameter"
        if len(ts.tools) < 2:
            out["multiple"] = "needs at least two tools"
        return out

    # --- offered tools ----------------------------------------------------------------------------------------

    def _with_distractors(self, rng: random.Random, focus: list[str], lo: int, hi: int) -> list:
        others = [t for t in self.toolset.tools if t.name not in focus]
        extra = rng.sample(others, min(len(others), rng.randint(lo, hi)))
        offered = [self.tools[n] for n in dict.fromkeys(focus)] + extra
        rng.shuffle(offered)
        return offered

    def _system(self, s: Session) -> None:
        if {t.name for t in s.offered} & DATE_TOOLS and s.rng.random() < 0.35:
            s.today = (dt.date(2024, 1, 1) + dt.timedelta(days=s.rng.randrange(1500))).isoformat()
            s.system(s.ph.say(("system_today",), {"today": s.today}))
        elif s.rng.random() < self.config.system_prompt_rate:
            builtin = all(t.source == "builtin" for t in self.toolset.tools)
            s.system(s.rng.choice(s.ph.get("system") + (s.ph.get("system_builtin") if builtin else [])))

    # --- episodes per scenario ----------------------------------------------------------------------------------

    def _parallel_picks(self, rng: random.Random) -> list:
        k = rng.choice([2, 2, 2, 3, 3, 4])
        if rng.random() < 0.5:
            tool = rng.choice(self.toolset.tools)
            return [(tool, sample_arguments(tool, rng)) for _ in range(k)]
        tools = rng.sample(self.toolset.tools, min(k, len(self.toolset.tools)))
        return [(t, sample_arguments(t, rng)) for t in tools]

    def _pick_chain(self, rng: random.Random):
        return rng.choice(self.toolset.chains or self.toolset.links)

    @staticmethod
    def _chain_tools(chain) -> list[str]:
        return list(chain.tools) if isinstance(chain, ChainRecipe) else [chain.first, chain.second]

    def _session(self, rng: random.Random, lang: str, offered: list) -> Session:
        s = Session(self.toolset, offered, rng, lang)
        self._system(s)
        return s

    def _play(self, scenario: str, rng: random.Random, lang: str) -> tuple[Session, list[dict]]:
        tools = self.toolset.tools
        if scenario in ("single", "multiple"):
            tool = rng.choice(tools)
            offered = [tool] if scenario == "single" else self._with_distractors(rng, [tool.name], 1, 4)
            s = self._session(rng, lang, offered)
            outcome = ep.calls_episode(s, [(tool, sample_arguments(tool, rng))], scenario)
        elif scenario == "parallel":
            picks = self._parallel_picks(rng)
            s = self._session(rng, lang, self._with_distractors(rng, [t.name for t, _ in picks], 0, 2))
            outcome = ep.calls_episode(s, picks, scenario)
        elif scenario == "chain":
            chain = self._pick_chain(rng)
            s = self._session(rng, lang, self._with_distractors(rng, self._chain_tools(chain), 0, 2))
            outcome = ep.chain_episode(s, chain)
        elif scenario == "no_call":
            s = self._session(rng, lang, self._with_distractors(rng, [], 1, 5))
            outcome = ep.no_call_episode(s)
        elif scenario == "clarify":
            tool = rng.choice([t for t in tools if t.required])
            s = self._session(rng, lang, self._with_distractors(rng, [tool.name], 0, 3))
            outcome = ep.clarify_episode(s, tool)
        elif scenario == "tool_error":
            tool = self.tools[rng.choice(self.toolset.failable)]
            s = self._session(rng, lang, self._with_distractors(rng, [tool.name], 0, 3))
            outcome = ep.tool_error_episode(s, tool)
        else:
            return self._multi_turn(rng, lang)
        return s, [{"kind": outcome.kind, **outcome.info}]

    def _multi_turn(self, rng: random.Random, lang: str) -> tuple[Session, list[dict]]:
        offered = self._with_distractors(rng, [], min(3, len(self.toolset.tools)), 6)
        names = {t.name for t in offered}
        s = self._session(rng, lang, offered)
        chains = [c for c in self.toolset.chains or self.toolset.links if set(self._chain_tools(c)) <= names]
        failable = [n for n in self.toolset.failable if n in names]
        log, previous = [], None
        for turn in range(rng.randint(2, 4)):
            options = ["single", "single", "no_call", "clarify"] if turn else ["single", "single"]
            if not turn and len(offered) > 1:
                options.append("parallel")
            if chains:
                options.append("chain")
            if previous is not None and previous.last is not None:
                options += ["same_tool"] * 3
            if previous is not None and previous.number is not None and "calculate" in names:
                options += ["multiply"] * 2
            if failable and turn:
                options.append("tool_error")
            kind = rng.choice(options)
            if kind == "single":
                tool = rng.choice(offered)
                outcome = ep.calls_episode(s, [(tool, sample_arguments(tool, rng))], "single")
            elif kind == "parallel":
                tools = rng.sample(offered, 2)
                outcome = ep.calls_episode(s, [(t, sample_arguments(t, rng)) for t in tools], "parallel")
            elif kind == "chain":
                outcome = ep.chain_episode(s, rng.choice(chains))
            elif kind == "no_call":
                outcome = ep.no_call_episode(s)
            elif kind == "clarify":
                outcome = ep.clarify_episode(s, rng.choice([t for t in offered if t.required] or offered))
            elif kind == "tool_error":
                outcome = ep.tool_error_episode(s, self.tools[rng.choice(failable)])
            elif kind == "same_tool":
                outcome = ep.same_tool_followup(s, previous)
            else:
                outcome = ep.multiply_followup(s, previous)
            log.append({"kind": outcome.kind, **outcome.info})
            previous = outcome
        return s, log

    # --- the record -------------------------------------------------------------------------------------------

    def build(self, rng: random.Random, index: int) -> dict:
        scenario = self.labels[index]
        lang = self.config.lang if self.config.lang != "mix" else rng.choice(["en", "zh"])
        s, log = self._play(scenario, rng, lang)
        record = {
            "messages": s.messages,
            "tools": [t.schema() for t in s.offered],
            "task_type": f"agent/{scenario}",
            "meta": {"suite": "agent", "scenario": scenario, "lang": lang, "index": index,
                     "tools_source": self.toolset.source, "call_format": "template", "episodes": log,
                     "targets": s.targets},
        }
        verify(record, self.tools)
        return record


def eval_view(record: dict, rng: random.Random) -> dict:
    """Cut the record after one target turn (a primary one 80% of the time), so the turn to score is the
    last assistant message; meta["target"] says what it must do."""
    targets = [t for t in record["meta"]["targets"] if record["messages"][t["turn"]].get("train", True)]
    primary = [t for t in targets if t.get("primary")]
    target = rng.choice(primary if primary and rng.random() < 0.8 else targets)
    meta = {k: v for k, v in record["meta"].items() if k != "targets"}
    meta["target"] = {k: v for k, v in target.items() if k != "primary"}
    return {**record, "messages": record["messages"][: target["turn"] + 1], "meta": meta}

