"""--teacher for the agent suite: teacher-written answers (and no-call replies) checked against the tool results,
rejections counted by reason, requests batched per round, the template default unchanged byte for byte."""

import hashlib
import json
from collections import Counter

import pytest

from core.data.records import read_records
from core.synth.generator import GenerationReport, Rejected
from core.synth.openai_client import TeacherStats
from core.synth.teacher import Teacher
from suites.agent.generate import generate, main
from suites.agent.teacher_answers import TEACHABLE_NO_CALL, TeacherConfig, check_reply
from suites.agent.values import fmt

BAD_ANSWER = "Sorry, I have no idea what the tool said."
CALL_REPLY = '<tool_call>\n{"name": "calculate", "arguments": {"expression": "1 + 1"}}\n</tool_call>'


def leaf_pairs(value, prefix=""):
    if isinstance(value, dict):
        return [p for k in sorted(value) for p in leaf_pairs(value[k], f"{prefix}{k}.")]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in leaf_pairs(v, f"{prefix}{i}.")]
    return [(prefix.rstrip("."), value)]


class ScriptedTeacher:
    """A deterministic Teacher: states every value of the tool results after the last user turn, and fails on
    purpose (an answer without the results, or a tool call instead of a no-call reply) for one conversation in
    `bad_every`, chosen by a hash of the conversation. Logs every call."""

    def __init__(self, bad_every: int = 0):
        self.name, self.stats, self.bad_every = "scripted", TeacherStats(), bad_every
        self.calls: list[dict] = []
        self.sent_bad = Counter()

    def is_bad(self, conversation: list[dict]) -> bool:
        digest = hashlib.sha256(json.dumps(conversation, sort_keys=True, ensure_ascii=False).encode()).digest()
        return bool(self.bad_every) and digest[0] % self.bad_every == 0

    def reply(self, conversation: list[dict]) -> str:
        last_user = max(i for i, m in enumerate(conversation) if m["role"] == "user")
        results = [json.loads(m["content"]) for m in conversation[last_user:] if m["role"] == "tool"]
        if not results:
            return CALL_REPLY if self.is_bad(conversation) else f"Glad you asked: {conversation[-1]['content'][:30]}"
        if self.is_bad(conversation):
            return BAD_ANSWER
        return "  From the tools: " + "; ".join(f"{k}: {fmt(v)}" for r in results for k, v in leaf_pairs(r)) + "\n"

    def complete(self, conversations, max_tokens=512, temperature=0.7, seed=0):
        self.calls.append({"conversations": conversations, "max_tokens": max_tokens, "temperature": temperature,
                           "seed": seed})
        self.stats.add(conversations=len(conversations), requests=len(conversations))
        replies = [self.reply(c) for c in conversations]
        self.sent_bad.update("answer" if r == BAD_ANSWER else "call" for r in replies if r in (BAD_ANSWER, CALL_REPLY))
        return replies

    @property
    def sent(self) -> list[list[dict]]:
        return [c for call in self.calls for c in call["conversations"]]


SCRIPTED = TeacherConfig(max_tokens=99, temperature=0.5)


def run(n=80, seed=3, lang="en", config=SCRIPTED, bad_every=5, **kwargs):
    teacher, report = ScriptedTeacher(bad_every), GenerationReport()
    records = generate(n, seed, lang, report=report, teacher=teacher, teacher_config=config, **kwargs)
    return teacher, report, records


def test_scripted_teacher_is_a_teacher():
    assert isinstance(ScriptedTeacher(), Teacher)


def test_teacher_answers_land_in_the_answer_turns_and_see_the_conversation_up_to_them():
    teacher, report, records = run()
    sent = [json.dumps(c, sort_keys=True) for c in teacher.sent]
    n_answers = 0
    for record in records:
        answers = [t["turn"] for t in record["meta"]["targets"] if t["kind"] == "answer"]
        assert record["meta"]["teacher"] == {"name": "scripted", "turns": answers}
        for turn in answers:
            before = record["messages"][:turn]
            assert record["messages"][turn]["content"] == teacher.reply(before).strip()
            assert before[-1]["role"] == "tool"  # the answer follows the tool results, which the teacher saw
            assert json.dumps(before, sort_keys=True) in sent  # exactly this conversation, earlier answers included
            n_answers += 1
        assert BAD_ANSWER not in json.dumps(record, ensure_ascii=False)
    assert n_answers > 80 and all(c[-1]["role"] == "tool" for c in teacher.sent)
    assert all((c["max_tokens"], c["temperature"], c["seed"]) == (99, 0.5, 3) for c in teacher.calls)


def test_requests_are_batched_in_rounds():
    teacher, report, records = run()
    summary = report.extra["teacher"]
    n_no_call = sum(r["task_type"] == "agent/no_call" for r in records)
    # Round one asks every sample with an answer turn at once; later rounds the next turns and the rebuilt ones.
    assert len(teacher.calls[0]["conversations"]) == 80 - n_no_call
    assert summary["rounds"] == len(teacher.calls) < 15
    assert summary["asked"] == len(teacher.sent) == summary["accepted"] + sum(summary["rejected"].values())
    assert summary["stats"]["conversations"] == len(teacher.sent)


def test_answers_missing_the_result_are_rejected_and_counted_never_replaced():
    teacher, report, records = run()
    bad = teacher.sent_bad["answer"]
    assert bad > 5
    assert report.rejected["teacher_answer_missing_result"] == bad
    assert report.extra["teacher"]["rejected"] == {"teacher_answer_missing_result": bad}
    assert len(records) + report.extra["teacher"]["skipped"] == 80
    assert sum(report.written.values()) == len(records)
    # Every answer in the output is a scripted one: none fell back to the template.
    assert all(r["messages"][t]["content"].startswith("From the tools: ")
               for r in records for t in r["meta"]["teacher"]["turns"])


def test_no_call_turns_are_template_unless_asked_and_untouched_samples_equal_the_template_run():
    teacher, report, records = run()
    template = {r["meta"]["index"]: r for r in generate(80, 3, "en")}
    no_call = [r for r in records if r["task_type"] == "agent/no_call"]
    assert no_call
    for record in no_call:
        assert record["meta"].pop("teacher") == {"name": "scripted", "turns": []}
        assert record == template[record["meta"]["index"]]


def test_teacher_no_call_replies_and_calls_in_replies_are_rejected():
    config = TeacherConfig(no_call=True, attempts=5)
    teacher, report, records = run(n=60, seed=4, config=config, bad_every=4, shares={"no_call": 1, "clarify": 1})
    assert teacher.sent_bad["call"] > 3
    assert report.rejected["teacher_reply_made_call"] == teacher.sent_bad["call"]
    reasons = Counter()
    for record in records:
        for target in record["meta"]["targets"]:
            if target["kind"] != "no_call":
                continue
            reasons[target["reason"]] += 1
            text = record["messages"][target["turn"]]["content"]
            asked = target["reason"] in TEACHABLE_NO_CALL
            assert (target["turn"] in record["meta"]["teacher"]["turns"]) == asked
            assert text.startswith("Glad you asked: ") == asked  # clarifying questions stay templated
    assert reasons["clarify"] > 10 and sum(reasons[r] for r in TEACHABLE_NO_CALL) > 10
    assert len(records) == 60


def test_attempts_exhausted_skip_the_sample_and_count_it():
    class Hopeless(ScriptedTeacher):
        def reply(self, conversation):
            return BAD_ANSWER

    teacher, report = Hopeless(), GenerationReport()
    records = generate(30, 1, "en", report=report, teacher=teacher, teacher_config=TeacherConfig(attempts=2))
    skipped = report.extra["teacher"]["skipped"]
    assert {r["task_type"] for r in records} == {"agent/no_call"}  # the only samples with no answer to write
    assert skipped == 30 - len(records) > 20
    assert report.rejected["teacher_answer_missing_result"] == 2 * skipped == len(teacher.sent)
    assert report.extra["teacher"]["accepted"] == 0


def test_same_replies_same_bytes_and_shards_concatenate():
    def dump(records):
        return "\n".join(json.dumps(r, ensure_ascii=False, sort_keys=True) for r in records)

    _, _, whole = run(n=45, lang="mix")
    _, _, again = run(n=45, lang="mix")
    assert dump(whole) == dump(again)
    parts = [run(n=45, lang="mix", indices=range(k * 15, (k + 1) * 15))[2] for k in range(3)]
    assert dump([r for part in parts for r in part]) == dump(whole)
    assert dump(run(n=45, lang="mix", seed=4)[2]) != dump(whole)


def test_template_default_is_byte_identical(tmp_path, capsys):
    args = ["--n", "120", "--seed", "7", "--lang", "mix"]
    main(args + ["--out", str(tmp_path / "default.jsonl")])
    main(args + ["--out", str(tmp_path / "template.jsonl"), "--teacher", "template"])
    assert (tmp_path / "default.jsonl").read_bytes() == (tmp_path / "template.jsonl").read_bytes()
    records = read_records(tmp_path / "default.jsonl")
    assert records == generate(120, 7, "mix") and all("teacher" not in r["meta"] for r in records)
    assert "teacher" not in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(args + ["--out", str(tmp_path / "x.jsonl"), "--teacher-no-call"])
    assert "--teacher-no-call/--teacher-attempts need --teacher" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(args + ["--out", str(tmp_path / "x.jsonl"), "--teacher", "gpt-4"])
    assert 'unknown teacher "gpt-4"' in capsys.readouterr().err


@pytest.mark.parametrize("reply, reason", [
    ("", "teacher_empty_reply"),
    ("  \n ", "teacher_empty_reply"),
    (CALL_REPLY, "teacher_reply_made_call"),
    ("Let me check. <tool_call>{not json", "teacher_reply_made_call"),
    ('{"name": "calculate", "arguments": {"expression": "2"}}', "teacher_reply_made_call"),
    ("The total is 17.", "teacher_answer_missing_result"),  # 7 is not in 17
    ("It costs 7.", "teacher_answer_missing_result"),  # the name is missing
])
def test_check_reply_rejects(reply, reason):
    with pytest.raises(Rejected) as caught:
        check_reply(reply, {"kind": "answer", "facts": ["7", "Spice Rack"]})
    assert caught.value.reason == reason


def test_check_reply_accepts_and_strips():
    target = {"kind": "answer", "facts": ["7", "Spice Rack"]}
    assert check_reply("\n The spice rack costs $7.\n", target) == "The spice rack costs $7."
    assert check_reply(" Hello! ", {"kind": "no_call", "reason": "chat"}) == "Hello!"


def test_teacher_config_is_checked():
    for bad in ({"attempts": 0}, {"max_tokens": 0}, {"temperature": -0.1}):
        with pytest.raises(ValueError, match="max_tokens and attempts must be >= 1 and temperature >= 0"):
            TeacherConfig(**bad)


def test_openai_endpoint_teacher_end_to_end(tmp_path, capsys, tiny_tokenizer):
    """The CLI against the local OpenAI-compatible server (the tiny model): the requests carry the conversation
    up to the answer with its tool calls and results; the tiny model's replies state no result, so each is
    rejected and counted; a second run is answered from the cache with the same bytes."""
    from core.model.loading import load_model
    from tests.scripts.openai_server import TinyOpenAIServer, from_openai_messages

    args = ["--n", "8", "--seed", "2", "--teacher-max-tokens", "8", "--teacher-attempts", "1",
            "--teacher-cache", str(tmp_path / "cache")]
    with TinyOpenAIServer(load_model("tiny"), tiny_tokenizer) as server:
        args += ["--teacher", f"openai:{server.base_url}#tiny"]
        main(args + ["--out", str(tmp_path / "a.jsonl"), "--report", str(tmp_path / "a.json")])
        first = capsys.readouterr().err
        bodies = [r["body"] for r in server.requests]
        server.reset()
        main(args + ["--out", str(tmp_path / "b.jsonl"), "--report", str(tmp_path / "b.json")])
        second = capsys.readouterr().err
        assert server.requests == []
    report = json.loads((tmp_path / "a.json").read_text())
    teacher = report["teacher"]
    assert teacher["asked"] == len(bodies) == teacher["stats"]["requests"] > 4 and teacher["rounds"] == 1
    assert teacher["accepted"] == 0 and sum(teacher["rejected"].values()) == len(bodies) == teacher["skipped"]
    assert sum(report["rejected"][r] for r in teacher["rejected"]) == len(bodies)
    assert set(teacher["rejected"]) <= {"teacher_empty_reply", "teacher_reply_made_call",
                                        "teacher_answer_missing_result"}
    records = read_records(tmp_path / "a.jsonl")
    assert report["written"] == len(records) == 8 - len(bodies) and {r["task_type"] for r in records} == {"agent/no_call"}
    for body in bodies:
        assert (body["max_tokens"], body["seed"], body["temperature"]) == (8, 2, 0.7)
        messages = body["messages"]
        assert messages[-1]["role"] == "tool" and messages[-1]["tool_call_id"]
        call_ids = [c["id"] for m in messages for c in m.get("tool_calls") or []]
        assert [m["tool_call_id"] for m in messages if m["role"] == "tool"] == call_ids
        assert from_openai_messages(messages)[-1]["role"] == "tool"
    assert f"[agent] teacher openai:{server.base_url}#tiny: {len(bodies)} turns asked in 1 rounds" in first
    assert f"{len(bodies)} conversations, 0 cache hits, {len(bodies)} requests" in first
    assert f"{len(bodies)} conversations, {len(bodies)} cache hits, 0 requests" in second
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()


@pytest.mark.slow
def test_train_takes_a_teacher(tmp_path, monkeypatch, capsys):
    import suites.agent.train as train

    teacher = ScriptedTeacher()
    seen = []

    def from_args(args):
        seen.append(args.teacher)
        return teacher

    monkeypatch.setattr(train, "teacher_from_args", from_args)
    result = train.main(["--teacher", "openai:http://127.0.0.1:9/v1#scripted", "--teacher-max-tokens", "64",
                         "--n-train", "16", "--n-eval", "4", "--max-steps", "1", "--micro_batch_size", "4",
                         "--data.max_len", "1024", "--progress", "false", "--skip-eval-before",
                         "--eval-max-new-tokens", "8", "--out", str(tmp_path / "run")])
    assert seen == ["openai:http://127.0.0.1:9/v1#scripted"] and result["fit"].steps == 1
    out = capsys.readouterr().out
    assert "[agent] train data, teacher scripted:" in out and "[agent] eval data, teacher scripted:" in out
    train_records = read_records(tmp_path / "run" / "data" / "train.jsonl")
    assert len(train_records) == 16 and all(r["meta"]["teacher"]["name"] == "scripted" for r in train_records)
    for record in train_records:
        for turn in record["meta"]["teacher"]["turns"]:
            assert record["messages"][turn]["content"] == teacher.reply(record["messages"][:turn]).strip()
    assert {c["max_tokens"] for c in teacher.calls} == {64}
    with pytest.raises(SystemExit, match="need --teacher"):
        train.main(["--teacher-no-call", "--out", str(tmp_path / "x")])


def test_eval_records_with_a_teacher_keep_the_teacher_turns_they_still_have():
    teacher, report, records = run(n=60, seed=5, eval_records=True, bad_every=0)
    assert len(records) == 60 and report.extra["teacher"]["rejected"] == {}
    answers = 0
    for record in records:
        turns = record["meta"]["teacher"]["turns"]
        assert all(t < len(record["messages"]) for t in turns)
        for turn in turns:
            assert record["messages"][turn]["content"] == teacher.reply(record["messages"][:turn]).strip()
        target = record["meta"]["target"]
        if target["kind"] == "answer":  # the turn to score is the teacher's answer
            assert target["turn"] in turns
            answers += 1
    assert answers > 5
