"""Episodes: one user request and everything the assistant does about it. A record is a system prompt plus
one episode (most scenarios) or several (multi-turn sessions). Each returns what a follow-up may build on."""

from __future__ import annotations

from dataclasses import dataclass, field

from core.synth.generator import Rejected
from suites.agent.arguments import sample_arguments, validation_errors
from suites.agent.builtin_hooks import ERROR_CASES, ErrorCase
from suites.agent.chains import ChainRecipe, chain_display_slots
from suites.agent.phrasing import answer_facts
from suites.agent.schema import Tool
from suites.agent.session import Session, succeeds
from suites.agent.values import fmt, scalar_leaves


@dataclass
class Outcome:
    kind: str
    last: tuple[Tool, dict, object] | None = None  # the last successful single call: (tool, args, result)
    number: float | int | None = None  # a numeric result a follow-up can compute with
    info: dict = field(default_factory=dict)


def _number_of(tool: Tool, result) -> float | int | None:
    numbers = [v for v in scalar_leaves(result) if isinstance(v, int | float) and not isinstance(v, bool)]
    return numbers[0] if len(numbers) == 1 else None


def combine(s: Session, parts: list[str], joiners: str, numbered: str, intro: str | None = None) -> str:
    if len(parts) == 1:
        return parts[0]
    if s.rng.random() < 0.4:
        lines = [s.ph.fill(s.ph.get("parallel", numbered), {"i": i + 1, "request": p, "answer": p})
                 for i, p in enumerate(parts)]
        head = s.ph.pick("parallel", intro) if intro else ""
        return "\n".join(([head] if head else []) + lines)
    out = parts[0]
    for part in parts[1:]:
        out += s.ph.pick("parallel", joiners) + part
    return out


def request_for(s: Session, tool: Tool, args: dict) -> tuple[str, dict]:
    """The user's words for a call. With today's date in the system prompt, add_days may say "from today" and
    days_between "since <date>": the call then uses the stated date, so the request needs no question."""
    if tool.source == "builtin" and s.today:
        if tool.name == "add_days" and s.rng.random() < 0.6:
            args = {"date": s.today, "days": abs(args["days"]) or 1}
        elif tool.name == "days_between" and args["start_date"] < s.today and s.rng.random() < 0.5:
            args = {"start_date": args["start_date"], "end_date": s.today}
        else:
            return s.ph.request(tool, args), args
        return s.ph.say(("tools", tool.name, "request_today"), s.ph.arg_slots(tool, args)), args
    return s.ph.request(tool, args), args


def calls_episode(s: Session, picks: list[tuple[Tool, dict]], kind: str) -> Outcome:
    """single / multiple (one call) and parallel (several independent calls in one turn)."""
    texts, final = [], []
    for tool, args in picks:
        text, args = request_for(s, tool, args)
        texts.append(text)
        final.append((tool, args))
    if len({(t.name, repr(sorted(a.items()))) for t, a in final}) < len(final):
        raise Rejected("duplicate_call")
    s.user(combine(s, texts, "joiners", "numbered", "intro"))
    executions = s.call(final, primary=True)
    answers = [s.ph.answer(t, a, e.value, specific=len(final) > 1) for (t, a), e in zip(final, executions)]
    facts = [f for (t, _), e in zip(final, executions) for f in s.facts(t, e)]
    s.say(combine(s, answers, "answer_joiners", "answer_numbered"), "answer", facts=facts)
    tool, args = final[-1]
    last = (tool, args, executions[-1].value) if len(final) == 1 else None
    return Outcome(kind, last=last, number=_number_of(tool, executions[-1].value) if last else None,
                   info={"tools": [t.name for t, _ in final]})


def chain_episode(s: Session, chain) -> Outcome:
    """`chain` is a built-in ChainRecipe or a GenericLink between two user tools."""
    if isinstance(chain, ChainRecipe):
        recipe = chain
        plan = recipe.plan(s.rng)
        shown = chain_display_slots(recipe, plan, s.ph.display)
        s.user(s.ph.say(("chains", recipe.name, "request"), shown))

        def step(name: str, args: dict):
            return s.call([(s.tool(name), args)], primary=True)[0].value

        slots, facts = recipe.run(plan, step, s.lang)
        s.say(s.ph.say(("chains", recipe.name, "answer"), chain_display_slots(recipe, slots, s.ph.display)),
              "answer", facts=facts)
        return Outcome("chain", info={"recipe": recipe.name})
    link = chain
    first, second = s.tool(link.first), s.tool(link.second)
    first_args = sample_arguments(first, s.rng)
    second_args = sample_arguments(second, s.rng)
    second_args.pop(link.key, None)
    first_text = s.ph.task(first, first_args)
    second_text = s.ph.task(second, second_args)
    s.user(s.ph.say(("chains", "generic", "request"), {"first": first_text, "second": second_text, "key": link.key}))
    result = s.call([(first, first_args)], primary=True)[0].value
    if not isinstance(result, dict) or link.key not in result:
        raise Rejected("chain_link_missing")
    second_args[link.key] = result[link.key]
    execution = s.call([(second, second_args)], primary=True)[0]
    facts = answer_facts(second, execution.value, s.lang)
    s.say(s.ph.say(("chains", "generic", "answer"),
                   {"first_name": first.name, "second_name": second.name, "key": link.key,
                    "key_value": fmt(result[link.key]), "facts": s.ph.generic_facts(execution.value)}),
          "answer", facts=facts)
    return Outcome("chain", info={"recipe": f"{link.first}->{link.second}.{link.key}"})


def no_call_episode(s: Session) -> Outcome:
    """Tools are offered but the request needs none: chat, a question about the tools, or an unsupported ask."""
    haystack = " ".join(f"{t.name} {t.description}" for t in s.offered).lower()
    out_of_scope = [o for o in s.ph.get("no_call", "out_of_scope") if not any(k in haystack for k in o["keywords"])]
    kind = s.rng.choice(["chat", "capabilities"] + ["out_of_scope"] * 2 * bool(out_of_scope))
    capabilities = s.ph.capabilities(s.offered)
    if kind == "chat":
        pair = s.rng.choice(s.ph.get("no_call", "chat"))
        question, answer = s.rng.choice(pair["q"]), s.rng.choice(pair["a"])
    elif kind == "capabilities":
        question = s.ph.pick("no_call", "capabilities", "q")
        answer = s.ph.say(("no_call", "capabilities", "a"), {"capabilities": capabilities})
    else:
        item = s.rng.choice(out_of_scope)
        question = s.rng.choice(item["q"])
        answer = s.ph.say(("no_call", "out_of_scope_answer"), {"topic": item["topic"], "capabilities": capabilities})
    s.user(question)
    s.say(answer, "no_call", primary=True, reason=kind)
    return Outcome("no_call", info={"reason": kind})


def clarify_episode(s: Session, tool: Tool) -> Outcome:
    """A required argument is missing: the assistant asks, the user answers, then the call happens."""
    args = sample_arguments(tool, s.rng)
    if tool.source == "builtin":  # the templates ask only for required arguments
        args = {k: v for k, v in args.items() if k in tool.required}
    if tool.source == "builtin" and tool.name == "add_days":
        args["days"] = abs(args["days"]) or 1  # the clarify requests say "later"
    specs = s.ph.get("tools", tool.name, "clarify") if tool.source == "builtin" and s.ph.has(
        "tools", tool.name, "clarify") else []
    if specs:
        spec = s.rng.choice(specs)
        missing = spec["missing"]
        slots = s.ph.arg_slots(tool, args)
        without = {k: v for k, v in slots.items() if k != missing}
        s.user(s.ph.fill(s.rng.choice(spec["request"]), without))
        question = s.ph.fill(s.rng.choice(spec["question"]), without)
        reply = s.ph.fill(s.rng.choice(spec["reply"]), slots)
    else:
        if not tool.required:
            raise Rejected("no_required_argument")
        missing = s.rng.choice(tool.required)
        label = s.ph.param_label(tool, missing)
        s.user(s.ph.generic_request(tool, args, omit=missing))
        question = s.ph.say(("generic", "clarify", "question"), {"param_label": label, "param": missing,
                                                                 "name": tool.name})
        reply = s.ph.say(("generic", "clarify", "reply"), {"param_label": label, "value": fmt(args[missing])})
    s.say(question, "no_call", primary=True, reason="clarify", missing=missing)
    s.user(reply)
    execution = s.call([(tool, args)])[0]
    s.say(s.ph.answer(tool, args, execution.value), "answer", facts=s.facts(tool, execution))
    return Outcome("clarify", last=(tool, args, execution.value), number=_number_of(tool, execution.value),
                   info={"tool": tool.name, "missing": missing})


def _user_error_case(s: Session, tool: Tool) -> ErrorCase:
    for _ in range(16):
        args = sample_arguments(tool, s.rng)
        if not validation_errors(tool, args) and not succeeds(tool, args, default=True):
            return ErrorCase(tool.name, args, None, "generic")
    raise Rejected("no_failing_arguments")


def tool_error_episode(s: Session, tool: Tool) -> Outcome:
    """The call fails: the assistant explains the error, or retries with corrected arguments."""
    case = ERROR_CASES[tool.name](s.rng) if tool.source == "builtin" else _user_error_case(s, tool)
    s.user(s.ph.request(tool, case.arguments))
    # A failing first call the model could have avoided (notation, partial name) is shown but not trained.
    failed = s.call([(tool, case.arguments)], expect_ok=False, train=False if case.fixed else None,
                    primary=case.fixed is None, error=True)[0]
    if failed.ok:
        raise Rejected("error_case_succeeded")
    if case.fixed is None:
        advice_key = case.reason if s.ph.has("tool_error", "advice", case.reason) else "generic"
        advice = s.ph.pick("tool_error", "advice", advice_key)
        s.say(s.ph.say(("tool_error", "explain"), {"name": tool.name, "error": failed.error, "advice": advice}),
              "answer", primary=True, facts=[failed.error])
        return Outcome("tool_error", info={"tool": tool.name, "reason": case.reason, "recovery": "explain"})
    note = s.ph.say(("tool_error", "retry_note", case.reason), s.ph.arg_slots(tool, case.fixed))
    execution = s.call([(tool, case.fixed)], content=note, primary=True)[0]
    s.say(s.ph.answer(tool, case.fixed, execution.value), "answer", facts=s.facts(tool, execution))
    return Outcome("tool_error", last=(tool, case.fixed, execution.value),
                   number=_number_of(tool, execution.value),
                   info={"tool": tool.name, "reason": case.reason, "recovery": "retry"})


def same_tool_followup(s: Session, previous: Outcome) -> Outcome:
    """"And what about X?": the same tool with one argument changed; the rest comes from the history."""
    tool, args, _ = previous.last
    for _ in range(8):
        fresh = sample_arguments(tool, s.rng)
        changed = [k for k in fresh if k in args and fresh[k] != args[k] and not isinstance(fresh[k], bool)]
        if changed:
            break
    else:
        raise Rejected("followup_no_change")
    key = s.rng.choice(changed)
    new_args = {**args, key: fresh[key]}
    # "And what about X?" is only unambiguous when no other argument has X's type.
    kind = tool.properties.get(key, {}).get("type")
    ambiguous = any(tool.properties.get(k, {}).get("type") == kind for k in args if k != key)
    s.user(s.ph.say(("followup", "same_tool_labeled" if ambiguous else "same_tool"),
                    {"value": s.ph.display(key, fresh[key]), "param_label": s.ph.param_label(tool, key)}))
    execution = s.call([(tool, new_args)], primary=True)[0]
    s.say(s.ph.answer(tool, new_args, execution.value), "answer", facts=s.facts(tool, execution))
    return Outcome("followup", last=(tool, new_args, execution.value), number=_number_of(tool, execution.value),
                   info={"tool": tool.name, "changed": key, "depends_on_history": True})


def multiply_followup(s: Session, previous: Outcome) -> Outcome:
    """"Now multiply that by k": calculate on the previous numeric result."""
    tool = s.tool("calculate")
    k = s.rng.randint(2, 12)
    args = {"expression": s.ph.fill(s.ph.get("followup", "multiply_expression"), {"previous": fmt(previous.number),
                                                                                  "k": k})}
    s.user(s.ph.say(("followup", "multiply"), {"k": k}))
    execution = s.call([(tool, args)], primary=True)[0]
    s.say(s.ph.answer(tool, args, execution.value), "answer", facts=s.facts(tool, execution))
    return Outcome("followup", last=(tool, args, execution.value), number=execution.value["result"],
                   info={"tool": "calculate", "depends_on_history": True})
