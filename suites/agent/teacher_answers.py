"""Teacher-written assistant text for agent samples (`--teacher`, see core.synth.teacher).

Every sample is first built from templates as usual: calls sampled, executed and verified, targets recorded.
The teacher then writes the text turns it is given, in rounds: round k sends the k-th such turn of every
sample still in play in one `complete` call, each conversation ending right before that turn (tool calls and
tool results included, and the teacher's own earlier turns of the sample). The turns are the answers that
follow tool results and, with `no_call`, the replies to requests that need no tool (chat, a question about
the tools, an unsupported ask); clarifying questions stay templated, since the next user turn answers that
exact question.

A reply is checked before it replaces anything; a failed check rejects the sample with its reason:
  teacher_empty_reply            the reply is empty or whitespace
  teacher_reply_made_call        the reply holds a tool call, or something parse_reply takes for a broken one
  teacher_answer_missing_result  an answer does not state the facts of the results it follows (values.missing_facts)
The sample is then rebuilt with its next template attempt and its turns asked again, up to `attempts` builds;
after that it is skipped and counted. A template text never stands in for a rejected reply. The finished
record is verified again as a whole (suites.agent.verify).
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from core.data.records import validate_record
from core.synth.generator import GenerationReport, Rejected, sample_rng
from suites.agent.parse import parse_reply
from suites.agent.values import missing_facts

TEACHER_REASONS = ("teacher_empty_reply", "teacher_reply_made_call", "teacher_answer_missing_result")
TEACHABLE_NO_CALL = ("chat", "capabilities", "out_of_scope")
MAX_BUILD_ATTEMPTS = 20  # template rejections in a row before giving up, as in core.synth.generator.generate_records


@dataclass(frozen=True)
class TeacherConfig:
    max_tokens: int = 256
    temperature: float = 0.7
    no_call: bool = False  # the teacher also writes the replies to requests that need no tool
    attempts: int = 3  # template builds per sample whose turns the teacher is asked for; then it is skipped

    def __post_init__(self):
        if self.max_tokens < 1 or self.temperature < 0 or self.attempts < 1:
            raise ValueError(f"teacher options: max_tokens and attempts must be >= 1 and temperature >= 0, got "
                             f"max_tokens={self.max_tokens}, temperature={self.temperature}, attempts={self.attempts}")


def add_agent_teacher_args(parser) -> None:
    from core.synth.teacher import add_teacher_args

    add_teacher_args(parser)
    group = parser.add_argument_group("teacher turns (agent)")
    group.add_argument("--teacher-max-tokens", type=int, default=TeacherConfig.max_tokens)
    group.add_argument("--teacher-temperature", type=float, default=TeacherConfig.temperature)
    group.add_argument("--teacher-no-call", action="store_true",
                       help="the teacher also writes the replies to requests that need no tool")
    group.add_argument("--teacher-attempts", type=int, default=TeacherConfig.attempts,
                       help="builds per sample whose teacher turns are asked for before the sample is skipped")


def teacher_config_from_args(args) -> TeacherConfig | None:
    """None for the template teacher; agent teacher options given without a teacher are an error."""
    config = TeacherConfig(args.teacher_max_tokens, args.teacher_temperature, args.teacher_no_call,
                           args.teacher_attempts)
    if args.teacher in (None, "template"):
        if config != TeacherConfig():
            raise ValueError("--teacher-max-tokens/--teacher-temperature/--teacher-no-call/--teacher-attempts "
                             "need --teacher hf:PATH|openai:URL#model")
        return None
    return config


def teacher_turns(record: dict, no_call: bool) -> list[int]:
    """The turns a teacher writes: answers, and with `no_call` the replies to requests needing no tool."""
    return sorted(t["turn"] for t in record["meta"]["targets"]
                  if t["kind"] == "answer" or (no_call and t["kind"] == "no_call"
                                               and t.get("reason") in TEACHABLE_NO_CALL))


def check_reply(reply: str, target: dict) -> str:
    """The reply as it goes into the record, or Rejected(reason)."""
    text = reply.strip()
    if not text:
        raise Rejected("teacher_empty_reply")
    parsed = parse_reply(text)
    if parsed.calls or parsed.errors:
        raise Rejected("teacher_reply_made_call")
    if target["kind"] == "answer" and missing_facts(text, target["facts"]):
        raise Rejected("teacher_answer_missing_result")
    return text


@dataclass
class _Job:
    index: int
    attempt: int  # the template attempt (RNG salt) the record was built with
    tries: int  # builds of this index sent to the teacher so far, this one included
    record: dict
    turns: list[int]
    done: int = 0  # turns written so far

    @property
    def finished(self) -> bool:
        return self.done == len(self.turns)

    def target(self) -> dict:
        return next(t for t in self.record["meta"]["targets"] if t["turn"] == self.turns[self.done])


class TeacherRun:
    """Builds the records of `indices` with teacher-written turns; `build(rng, index)` is the template builder
    and `verify(record)` the whole-record check, both raising Rejected."""

    def __init__(self, build: Callable, verify: Callable[[dict], None], teacher, config: TeacherConfig,
                 seed: int, report: GenerationReport):
        self.build, self.verify, self.teacher, self.config = build, verify, teacher, config
        self.seed, self.report = seed, report
        self.outcome = Counter()  # asked, accepted, rounds, skipped
        self.rejected = Counter()

    def _start(self, index: int, attempt: int, tries: int) -> _Job:
        for a in range(attempt, attempt + MAX_BUILD_ATTEMPTS):
            try:  # the salt of core.synth.generator.generate_records: a first build equals the template run's record
                record = self.build(sample_rng(self.seed, index, salt=str(a) if a else ""), index)
            except Rejected as e:
                self.report.reject(e.reason)
                continue
            validate_record(record)
            return _Job(index, a, tries, record, teacher_turns(record, self.config.no_call))
        raise RuntimeError(f"sample {index}: rejected {MAX_BUILD_ATTEMPTS} times in a row; see report "
                           f"{self.report.rejected}")

    def _reject(self, job: _Job, reason: str) -> _Job | None:
        self.report.reject(reason)
        self.rejected[reason] += 1
        if job.tries < self.config.attempts:
            return self._start(job.index, job.attempt + 1, job.tries + 1)
        self.outcome["skipped"] += 1
        return None

    def _finish(self, job: _Job) -> dict:
        job.record["meta"]["teacher"] = {"name": self.teacher.name, "turns": job.turns}
        self.verify(job.record)
        validate_record(job.record)
        return job.record

    def _settle(self, jobs: list[_Job], done: dict[int, dict]) -> list[_Job]:
        """Finish the jobs with no turn left to ask; return the others in index order."""
        pending, waiting = list(jobs), []
        while pending:
            job = pending.pop()
            if not job.finished:
                waiting.append(job)
                continue
            try:
                done[job.index] = self._finish(job)
            except Rejected as e:
                retry = self._reject(job, e.reason)
                pending += [retry] if retry is not None else []
        return sorted(waiting, key=lambda j: j.index)

    def run(self, indices) -> list[dict]:
        done: dict[int, dict] = {}
        waiting = self._settle([self._start(i, 0, 1) for i in indices], done)
        while waiting:
            conversations = [copy.deepcopy(j.record["messages"][: j.turns[j.done]]) for j in waiting]
            replies = self.teacher.complete(conversations, max_tokens=self.config.max_tokens,
                                            temperature=self.config.temperature, seed=self.seed)
            self.outcome.update(rounds=1, asked=len(waiting))
            answered = []
            for job, reply in zip(waiting, replies, strict=True):
                try:
                    text = check_reply(reply, job.target())
                except Rejected as e:
                    retry = self._reject(job, e.reason)
                    answered += [retry] if retry is not None else []
                    continue
                job.record["messages"][job.turns[job.done]]["content"] = text
                job.done += 1
                self.outcome["accepted"] += 1
                answered.append(job)
            waiting = self._settle(answered, done)
        records = [done[i] for i in sorted(done)]
        for record in records:
            self.report.add(record)
        self.report.extra["teacher"] = self.summary()
        return records

    def summary(self) -> dict:
        return {"name": self.teacher.name, **{k: self.outcome[k] for k in ("rounds", "asked", "accepted", "skipped")},
                "rejected": dict(sorted(self.rejected.items())), "stats": self.teacher.stats.as_dict()}


def format_summary(summary: dict) -> str:
    s = summary["stats"]
    return (f"teacher {summary['name']}: {summary['asked']} turns asked in {summary['rounds']} rounds, "
            f"{summary['accepted']} accepted, rejected {summary['rejected'] or 'none'}, {summary['skipped']} samples "
            f"skipped; {s['conversations']} conversations, {s['cache_hits']} cache hits, {s['requests']} requests "
            f"({s['retries']} retries), {s['failures']} failed, {s['truncated']} cut at max_tokens")
