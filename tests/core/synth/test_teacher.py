import glob
import json
import logging
import time

import pytest

from core.model.generation import generate_replies
from core.model.loading import load_model
from core.synth.openai_client import RequestCache, parse_retry_after, to_openai_messages
from core.synth.teacher import HFTeacher, OpenAITeacher, TeacherError, load_teacher
from tests.scripts.openai_server import TinyOpenAIServer, from_openai_messages

CONVERSATIONS = [
    [{"role": "user", "content": "What is 2+3?"}],
    [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "你好，今天天气怎么样？"}],
    [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "Hello."}, {"role": "user", "content": "bye"}],
]
TOOLS = [{"type": "function", "function": {"name": "calc", "description": "Evaluate",
          "parameters": {"type": "object", "properties": {"expr": {"type": "string"}}, "required": ["expr"]}}}]
TOOL_CONVERSATION = [
    {"role": "user", "content": "What is 2+3 and 4*5?"},
    {"role": "assistant", "content": "", "train": False, "tool_calls": [
        {"type": "function", "function": {"name": "calc", "arguments": {"expr": "2+3"}}},
        {"type": "function", "function": {"name": "calc", "arguments": {"expr": "4*5"}}}]},
    {"role": "tool", "name": "calc", "content": "5"},
    {"role": "tool", "name": "calc", "content": "20"},
]
MAX_TOKENS = 8
SEED = 0  # one whose three replies differ, so a mix-up of the order shows
SAMPLING = {"max_tokens": MAX_TOKENS, "temperature": 1.0, "seed": SEED}  # greedy tiny replies are all "\n\n..."
FAST = {"backoff_base_s": 0.001, "backoff_max_s": 0.01, "progress": False}


@pytest.fixture(scope="module")
def tiny_model():
    return load_model("tiny")


@pytest.fixture(scope="module")
def server(tiny_model, tiny_tokenizer):
    with TinyOpenAIServer(tiny_model, tiny_tokenizer) as s:
        yield s


@pytest.fixture
def fresh(server):
    server.reset()
    return server


@pytest.fixture(scope="module")
def reference(tiny_model, tiny_tokenizer):
    """Replies of the same model to each conversation alone, straight from core.model.generation."""
    replies = [generate_replies(tiny_model, tiny_tokenizer, [{"messages": c}], max_new_tokens=MAX_TOKENS,
                                do_sample=True, temperature=1.0, seed=SEED, progress=False)[0][0]
               for c in CONVERSATIONS]
    assert len(set(replies)) == len(replies)
    return replies


def teacher(server, tmp_path=None, **options):
    options = {**FAST, "cache_dir": str(tmp_path / "cache") if tmp_path else None, **options}
    return load_teacher(f"openai:{server.base_url}#tiny", **options)


def test_specs():
    assert load_teacher(None) is None
    assert load_teacher("template") is None
    t = load_teacher("openai:http://127.0.0.1:9/v1/#my-model", cache_dir=None)
    assert isinstance(t, OpenAITeacher)
    assert (t.config.base_url, t.config.model, t.url) == ("http://127.0.0.1:9/v1", "my-model",
                                                          "http://127.0.0.1:9/v1/chat/completions")
    with pytest.raises(ValueError, match='name the model after "#"'):
        load_teacher("openai:http://127.0.0.1:9/v1")
    with pytest.raises(ValueError, match="unknown teacher"):
        load_teacher("gpt-4")
    with pytest.raises(ValueError, match=r"\['batch_size'\] do not apply"):
        load_teacher("openai:http://127.0.0.1:9/v1#m", batch_size=4)
    with pytest.raises(ValueError, match="concurrency must be >= 1"):
        load_teacher("openai:http://127.0.0.1:9/v1#m", concurrency=0)
    with pytest.raises(ValueError, match=r"conversations\[1\]"):
        t.complete([[{"role": "user", "content": "x"}], []])


def test_endpoint_replies_equal_local_generation(fresh, reference):
    t = teacher(fresh)
    assert t.complete(CONVERSATIONS, **SAMPLING) == reference
    bodies = sorted((r["body"] for r in fresh.requests), key=lambda b: CONVERSATIONS.index(b["messages"]))
    assert [b["messages"] for b in bodies] == CONVERSATIONS
    assert all((b["model"], b["max_tokens"], b["temperature"], b["seed"]) == ("tiny", MAX_TOKENS, 1.0, SEED)
               for b in bodies)


def test_hf_teacher_equals_local_generation(tiny_model, tiny_tokenizer):
    t = load_teacher("hf:tiny", progress=False)
    assert isinstance(t, HFTeacher)
    prompts = [{"messages": c} for c in CONVERSATIONS]
    for options in (SAMPLING, {"max_tokens": MAX_TOKENS, "temperature": 0.0}):
        sample = options.get("temperature", 0) > 0
        expected = generate_replies(tiny_model, tiny_tokenizer, prompts, max_new_tokens=MAX_TOKENS, do_sample=sample,
                                    seed=options.get("seed", 0), progress=False)
        assert t.complete(CONVERSATIONS, **options) == [r[0] for r in expected]
    assert t.complete(CONVERSATIONS, **{**SAMPLING, "seed": SEED + 1}) != t.complete(CONVERSATIONS, **SAMPLING)
    assert t.stats.conversations == 12


def test_tool_conversation_round_trip(fresh, tiny_model, tiny_tokenizer):
    converted = to_openai_messages(TOOL_CONVERSATION)
    calls = converted[1]["tool_calls"]
    assert [c["function"]["arguments"] for c in calls] == ['{"expr": "2+3"}', '{"expr": "4*5"}']
    assert [m.get("tool_call_id") for m in converted[2:]] == [calls[0]["id"], calls[1]["id"]]
    assert "train" not in converted[1]
    expected = generate_replies(tiny_model, tiny_tokenizer, [{"messages": TOOL_CONVERSATION}],
                                max_new_tokens=MAX_TOKENS, do_sample=True, seed=SEED, progress=False)[0][0]
    assert teacher(fresh).complete([TOOL_CONVERSATION], **SAMPLING) == [expected]
    assert from_openai_messages(fresh.requests[0]["body"]["messages"]) == [
        {k: v for k, v in m.items() if k != "train"} for m in TOOL_CONVERSATION]


@pytest.mark.parametrize("status", [500, 502, 429])
def test_retries_then_succeeds(fresh, reference, status):
    fresh.reset(fail_first=2, fail_status=status)
    t = teacher(fresh, max_retries=3)
    assert t.complete(CONVERSATIONS[:1], **SAMPLING) == reference[:1]
    assert len(fresh.requests) == 3
    assert t.stats.as_dict() == {"conversations": 1, "cache_hits": 0, "requests": 3, "retries": 2, "failures": 0,
                                 "truncated": t.stats.truncated}


def test_retry_after_is_honoured(fresh, reference):
    fresh.reset(fail_first=1, fail_status=429, retry_after="0.5")
    t = teacher(fresh, max_retries=1)
    start = time.monotonic()
    assert t.complete(CONVERSATIONS[:1], **SAMPLING) == reference[:1]
    assert time.monotonic() - start >= 0.5  # backoff alone would wait at most 0.01 s
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    assert parse_retry_after("later") is None


def test_gives_up_with_a_clear_error(fresh):
    fresh.reset(fail_first=100, fail_status=503)
    t = teacher(fresh, max_retries=2)
    with pytest.raises(TeacherError, match=r"1 of 1 conversations failed .*gave up after 3 attempts; last: HTTP 503"):
        t.complete(CONVERSATIONS[:1], max_tokens=MAX_TOKENS)
    assert len(fresh.requests) == 3 and t.stats.failures == 1 and t.stats.retries == 2


def test_client_errors_are_not_retried(fresh):
    fresh.reset(fail_first=1, fail_status=400)
    with pytest.raises(TeacherError, match="HTTP 400: .*injected failure 1"):
        teacher(fresh, max_retries=3).complete(CONVERSATIONS[:1], max_tokens=MAX_TOKENS)
    assert len(fresh.requests) == 1


def test_timeout(fresh, reference):
    # Timeouts well above a tiny generation (~10 ms) so that a loaded CI machine does not trip them.
    fresh.reset(sleep_first=1, sleep_s=2.5)
    with pytest.raises(TeacherError, match=r"gave up after 1 attempts; last: no answer within the 0.8 s timeout"):
        teacher(fresh, timeout_s=0.8, max_retries=0).complete(CONVERSATIONS[:1], max_tokens=MAX_TOKENS)
    fresh.reset(sleep_first=1, sleep_s=2.5)
    t = teacher(fresh, timeout_s=0.8, max_retries=1)
    assert t.complete(CONVERSATIONS[:1], **SAMPLING) == reference[:1]
    assert t.stats.retries == 1 and len(fresh.requests) == 2


def test_connection_refused_is_retried_then_clear(tmp_path):
    t = load_teacher("openai:http://127.0.0.1:9/v1#m", max_retries=1, cache_dir=None, **FAST)
    with pytest.raises(TeacherError, match=r"gave up after 2 attempts; last: cannot connect to http://127.0.0.1:9/v1"):
        t.complete(CONVERSATIONS[:1])
    assert t.stats.retries == 1


def test_second_run_is_all_cache_hits(fresh, reference, tmp_path):
    conversations = CONVERSATIONS + [CONVERSATIONS[0]]  # a duplicate is asked once
    first = teacher(fresh, tmp_path).complete(conversations, **SAMPLING)
    assert first == reference + reference[:1]
    assert len(fresh.requests) == 3
    assert len(glob.glob(str(tmp_path / "cache" / "*" / "*.json"))) == 3
    fresh.reset()
    again = teacher(fresh, tmp_path)  # a new process would start exactly like this
    assert again.complete(conversations, **SAMPLING) == first
    assert fresh.requests == []
    assert again.stats.cache_hits == 4 and again.stats.requests == 0
    # Every request field is part of the key.
    for change in ({"max_tokens": MAX_TOKENS - 1}, {"temperature": 0.5}, {"seed": SEED + 1}):
        fresh.reset()
        teacher(fresh, tmp_path).complete(CONVERSATIONS[:1], **{**SAMPLING, **change})
        assert len(fresh.requests) == 1, change
    entry = json.load(open(RequestCache(str(tmp_path / "cache")).path(
        RequestCache.key(again.url, {"model": "tiny", "messages": CONVERSATIONS[0], **SAMPLING}))))
    assert entry["reply"] == reference[0] and entry["request"]["messages"] == CONVERSATIONS[0]


def test_api_key_never_leaks(fresh, tmp_path, monkeypatch, caplog, capsys):
    secret = "sk-test-5f3a9c1e7b"
    monkeypatch.setenv("SUITE_TEACHER_KEY", secret)
    caplog.set_level(logging.DEBUG)
    # A misbehaving endpoint that echoes the Authorization header into its error body.
    fresh.reset(fail_first=1, fail_status=500, echo_auth=True)
    t = teacher(fresh, tmp_path, api_key_env="SUITE_TEACHER_KEY", max_retries=2, progress=True)
    t.complete(CONVERSATIONS, max_tokens=MAX_TOKENS)
    assert {r["authorization"] for r in fresh.requests} == {f"Bearer {secret}"}  # it is sent ...
    fresh.reset(fail_first=100, fail_status=500, echo_auth=True)
    with pytest.raises(TeacherError) as error:
        teacher(fresh, tmp_path, api_key_env="SUITE_TEACHER_KEY", max_retries=1).complete(
            [[{"role": "user", "content": "new"}]], max_tokens=MAX_TOKENS)
    assert "Bearer ***" in str(error.value) and secret not in str(error.value)
    assert "retry 1/2" in caplog.text and "Bearer ***" in caplog.text  # ... and redacted everywhere else
    out = capsys.readouterr()
    assert f"[teacher] tiny at {fresh.base_url}: 3 conversations, 0 cache hits, 4 requests (1 retries), 0 failed" \
        in out.err
    files = glob.glob(str(tmp_path / "cache" / "**" / "*"), recursive=True)
    assert len([f for f in files if f.endswith(".json")]) == 3
    for text in [caplog.text, out.out, out.err, repr(t), *(open(f, encoding="utf-8").read() for f in files
                                                          if f.endswith(".json"))]:
        assert secret not in text


def test_concurrency_limit(fresh):
    conversations = [[{"role": "user", "content": f"question {i}"}] for i in range(8)]
    for concurrency in (1, 4):
        fresh.reset(delay_s=0.1)
        teacher(fresh, concurrency=concurrency).complete(conversations, max_tokens=2)
        assert fresh.max_in_flight == concurrency and len(fresh.requests) == 8


def test_replies_cut_at_max_tokens_are_counted(fresh):
    t = teacher(fresh)
    t.complete(CONVERSATIONS, max_tokens=2, temperature=0.0)
    assert t.stats.truncated == 3  # the random-init model does not end a turn within 2 tokens


def test_partial_failure_keeps_the_answered_ones(fresh, reference, tmp_path):
    fresh.reset(fail_first=1, fail_status=500)
    with pytest.raises(TeacherError, match=r"1 of 3 conversations failed .* The 2 answered are cached"):
        teacher(fresh, tmp_path, max_retries=0, concurrency=1).complete(CONVERSATIONS, **SAMPLING)
    fresh.reset()
    assert teacher(fresh, tmp_path).complete(CONVERSATIONS, **SAMPLING) == reference
    assert [r["body"]["messages"] for r in fresh.requests] == [CONVERSATIONS[0]]  # only the failed one again
