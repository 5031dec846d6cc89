"""The state of one sample being built: the toolset it draws from, its messages, and its targets (what
each assistant turn is expected to do, recorded in `meta` for verification and evaluation)."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field

from core.synth.generator import Rejected
from suites.agent.arguments import UnsupportedSchema, sample_arguments, validation_errors
from suites.agent.builtin_hooks import ERROR_CASES
from suites.agent.catalog import load_tools
from suites.agent.chains import BUILTIN_CHAINS, ChainRecipe, GenericLink, discover_links
from suites.agent.phrasing import Phrasing, answer_facts
from suites.agent.schema import Execution, Tool, ToolRaised, ToolSpecError, execute


@dataclass
class Toolset:
    tools: list[Tool]
    source: str  # "builtin" or the --tools argument, recorded in meta so eval can re-run calls
    chains: list[ChainRecipe] = field(default_factory=list)
    links: list[GenericLink] = field(default_factory=list)
    failable: list[str] = field(default_factory=list)  # tools that can be driven into a ToolError
    raised: Counter = field(default_factory=Counter)  # "tool: ExceptionType" -> calls rejected as execution_raised

    @property
    def by_name(self) -> dict[str, Tool]:
        return {t.name: t for t in self.tools}

    @classmethod
    def load(cls, spec: str | None = None) -> Toolset:
        tools = load_tools(spec)
        source = spec or "builtin"
        names = {t.name for t in tools}
        if all(t.source == "builtin" for t in tools):
            chains = [c for c in BUILTIN_CHAINS if set(c.tools) <= names]
            return cls(tools, source, chains=chains, failable=sorted(n for n in ERROR_CASES if n in names))
        check_samplable(tools)
        return cls(tools, source, links=discover_links(tools), failable=probe_failable(tools))


def check_samplable(tools: list[Tool]) -> None:
    """Fail up front, naming the tool and field, when a user tool's arguments cannot be sampled."""
    rng = random.Random(0)
    for tool in tools:
        try:
            args = sample_arguments(tool, rng)
        except UnsupportedSchema as e:
            raise ToolSpecError(f"{tool.source}: {e}") from None
        errors = validation_errors(tool, args)
        if errors:
            raise ToolSpecError(f"{tool.source}: sampled arguments do not validate ({errors[0]}); "
                                "add \"examples\" or an enum to the parameter")


def probe_failable(tools: list[Tool], probes: int = 24, seed: int = 0) -> list[str]:
    """User tools that raised ToolError on some schema-valid sampled arguments (fixed probe seed)."""
    rng = random.Random(seed)
    out = []
    for tool in tools:
        for _ in range(probes):
            try:
                args = sample_arguments(tool, rng)
            except ValueError:
                break
            if not validation_errors(tool, args) and not succeeds(tool, args, default=True):
                out.append(tool.name)
                break
    return out


def succeeds(tool: Tool, args: dict, default: bool) -> bool:
    """Whether the call returns a result; `default` when the tool raises (a bug that is neither success nor a
    ToolError the model could explain)."""
    try:
        return execute(tool, args).ok
    except ToolRaised:
        return default


class Session:
    def __init__(self, toolset: Toolset, offered: list[Tool], rng: random.Random, lang: str):
        self.toolset, self.offered, self.rng, self.lang = toolset, offered, rng, lang
        self.ph = Phrasing(lang, rng)
        self.messages: list[dict] = []
        self.targets: list[dict] = []
        self.today: str | None = None  # set when the system prompt states today's date

    def tool(self, name: str) -> Tool:
        return self.toolset.by_name[name]

    def system(self, text: str) -> None:
        self.messages.append({"role": "system", "content": text})

    def user(self, text: str) -> None:
        self.messages.append({"role": "user", "content": text})

    def say(self, text: str, kind: str, primary: bool = False, **target) -> None:
        """An assistant text turn: kind "answer" (states facts) or "no_call" (chat, refusal, question)."""
        self.targets.append({"turn": len(self.messages), "kind": kind, "primary": primary, **target})
        self.messages.append({"role": "assistant", "content": text})

    def call(self, picks: list[tuple[Tool, dict]], content: str = "", primary: bool = False, expect_ok: bool = True,
             train: bool | None = None, error: bool = False) -> list[Execution]:
        """One assistant turn calling every pick, then one tool turn per call with its real result."""
        for tool, args in picks:
            if validation_errors(tool, args):
                raise Rejected("schema_invalid")
        try:
            executions = [execute(tool, args) for tool, args in picks]
        except ToolRaised as e:
            self.toolset.raised[f"{e.tool}: {e.kind}"] += 1
            raise Rejected("execution_raised") from None
        if expect_ok and not all(e.ok for e in executions):
            raise Rejected("execution_failed")
        calls = [{"name": tool.name, "arguments": args} for tool, args in picks]
        target = {"turn": len(self.messages), "kind": "call", "primary": primary, "calls": calls}
        if error:
            target["error"] = True  # the call is expected to fail (agent/tool_error)
        self.targets.append(target)
        message = {"role": "assistant", "content": content,
                   "tool_calls": [{"type": "function", "function": dict(c)} for c in calls]}
        if train is not None:
            message["train"] = train
        self.messages.append(message)
        for (tool, _), execution in zip(picks, executions):
            self.messages.append({"role": "tool", "name": tool.name, "content": execution.content})
        return executions

    def facts(self, tool: Tool, execution: Execution) -> list[str]:
        return answer_facts(tool, execution.value, self.lang)
