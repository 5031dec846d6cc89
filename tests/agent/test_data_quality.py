"""What the data teaches beyond validity: requests that mean "until now" are not answered with an arbitrary
date, count_substring answers are not mostly "1", and user tools read well in Chinese and stay varied in
English."""

import json
import os
import random
import re
from collections import Counter

import pytest

from suites.agent.builtin_hooks import SAMPLERS
from suites.agent.catalog import load_tools
from suites.agent.generate import generate
from suites.agent.phrasing import Phrasing, first_sentence, load_phrasing
from suites.agent.toolbox import count_substring
from tests.agent.conftest import FIXTURES

# Words that tie a request to the current date: the value then cannot be whatever the user replies.
NOW = re.compile(r"\b(today|since|ago|so far|this year|currently|(until|till|by|right) now)\b|现在|今天|距今|至今|今年|目前",
                 re.I)
USER_TOOLS = os.path.join(FIXTURES, "user_tools.py")
MIXED_SCRIPT = re.compile(r"[\u4e00-\u9fff][A-Za-z]|[A-Za-z][\u4e00-\u9fff]")


def stated_today(record: dict) -> str | None:
    """The date a system_today prompt states, None without one."""
    first = record["messages"][0]
    for lang in ("en", "zh"):
        for template in load_phrasing(lang)["system_today"]:
            pattern = re.escape(template).replace(re.escape("{today}"), r"(\d{4}-\d{2}-\d{2})")
            match = re.fullmatch(pattern, first["content"]) if first["role"] == "system" else None
            if match:
                return match.group(1)
    return None


def request_before(record: dict, turn: int) -> str:
    return next(m["content"] for m in reversed(record["messages"][:turn]) if m["role"] == "user")


def test_a_clarify_request_never_refers_to_today(mixed_records):
    """The assistant asks for the missing value and the user supplies any value: so the request must not
    already fix it as today ("How many days have passed since 2009-09-21?" asked for an end date)."""
    n = Counter()
    for record in mixed_records:
        for target in record["meta"]["targets"]:
            if target.get("reason") == "clarify":
                request = request_before(record, target["turn"])
                assert not NOW.search(request), (request, record["messages"][target["turn"]]["content"])
                n[target["missing"]] += 1
    assert n["end_date"] > 10 and sum(n.values()) > 300


def test_a_request_about_today_uses_the_stated_date(mixed_records):
    """"How many days since X?" / "N days from today?" only with today's date in the system prompt, and the call
    then counts to (or from) exactly that date, unless the request names its date itself."""
    n_days_between = n_add_days = 0
    for record in mixed_records:
        today = stated_today(record)
        for target in record["meta"]["targets"]:
            if target["kind"] != "call":
                continue
            request = request_before(record, target["turn"])
            for call in target["calls"]:
                anchor = {"days_between": "end_date", "add_days": "date"}.get(call["name"])
                if anchor is None or not NOW.search(request) or call["arguments"][anchor] in request:
                    continue
                assert today is not None and call["arguments"][anchor] == today, (request, call, today)
                n_days_between += call["name"] == "days_between"
                n_add_days += call["name"] == "add_days"
    assert n_days_between > 10 and n_add_days > 10


def test_count_substring_cases_spread_over_counts():
    rng = random.Random(7)
    counts = Counter(count_substring(**SAMPLERS["count_substring"](rng))["count"] for _ in range(3000))
    shares = {k: v / 3000 for k, v in counts.items()}
    assert max(shares.values()) < 0.3, shares
    assert all(0.2 < shares[k] for k in (0, 1, 2)) and 0.2 < sum(v for k, v in shares.items() if k >= 3) < 0.3
    assert max(counts) >= 5


def test_count_substring_sampling_is_deterministic():
    draws = [[SAMPLERS["count_substring"](rng) for _ in range(200)] for rng in (random.Random(3), random.Random(3))]
    assert draws[0] == draws[1]


def test_count_substring_answers_in_the_mix_are_not_mostly_one(mixed_records):
    counts = Counter()
    for record in mixed_records:
        for message in record["messages"]:
            if message["role"] == "tool" and message["name"] == "count_substring":
                counts[json.loads(message["content"])["count"]] += 1
    total = sum(counts.values())
    assert total > 100 and max(counts.values()) / total <= 0.5, counts
    assert {0, 1, 2} <= set(counts) and any(k >= 3 for k in counts)


@pytest.fixture(scope="module")
def user_tool_records():
    return {lang: generate(400, 4, lang, tools=USER_TOOLS) for lang in ("zh", "en")}


def test_chinese_requests_for_english_tools_are_well_formed(user_tool_records):
    tools = {t.name: t for t in load_tools(USER_TOOLS)}
    descriptions = {first_sentence(t.description) for t in tools.values()}
    n_requests = 0
    for record in user_tool_records["zh"]:
        for message in record["messages"]:
            if message["role"] not in ("user", "assistant") or not message.get("content"):
                continue
            text = message["content"]
            # Chinese never runs straight into Latin letters ("请get today's temperature...").
            assert not MIXED_SCRIPT.search(text), text
            for description in descriptions:  # an English description only appears in parentheses
                for match in re.finditer(re.escape(description), text):
                    assert text[match.start() - 1] == "（" and text[match.end()] == "）", text
        if record["task_type"] in ("agent/single", "agent/multiple"):
            request = record["messages"][next(i for i, m in enumerate(record["messages"]) if m["role"] == "user")]
            call = record["meta"]["targets"][0]["calls"][0]
            assert call["name"] in request["content"]  # the English description is never the verb
            for key, value in call["arguments"].items():
                assert f"{key}={value}" in request["content"] or f"{key} 为 {value}" in request["content"]
            n_requests += 1
    assert n_requests > 80


def test_user_tool_phrasing_is_varied_and_deterministic(user_tool_records):
    english = [next(m["content"] for m in r["messages"] if m["role"] == "user") for r in user_tool_records["en"]
               if r["task_type"] in ("agent/single", "agent/multiple")]
    named = sum(any(name in text for name in ("get_weather", "city_population")) for text in english)
    assert 0.2 < named / len(english) < 0.6  # frames built on the description and frames naming the tool
    frames = Counter(re.sub(r"(city|unit|temperature)[^.,?]*", "", text)[:12] for text in english)
    assert len(frames) >= 8
    chinese = [next(m["content"] for m in r["messages"] if m["role"] == "user") for r in user_tool_records["zh"]
               if r["task_type"] in ("agent/single", "agent/multiple")]
    assert len({text[:4] for text in chinese}) >= 5
    again = generate(400, 4, "zh", tools=USER_TOOLS)
    assert json.dumps(again, ensure_ascii=False) == json.dumps(user_tool_records["zh"], ensure_ascii=False)


def test_a_chinese_docstring_is_embedded_in_chinese_and_quoted_in_english(tmp_path):
    module = tmp_path / "zh_tools.py"
    module.write_text('def city_population(city: str) -> dict:\n    """查询城市人口。\n\n    Args:\n        city: 城市名称\n'
                      '    """\n    return {"population": len(city) * 1000}\n', encoding="utf-8")
    tool = load_tools(str(module))[0]
    zh, en = Phrasing("zh", random.Random(0)), Phrasing("en", random.Random(0))
    zh_requests = {zh.generic_request(tool, {"city": "Paris"}) for _ in range(200)}
    assert "请查询城市人口。参数：城市名称为 Paris。" in zh_requests  # the description as the verb
    assert zh.param_label(tool, "city") == "城市名称" and en.param_label(tool, "city") == "city"
    en_requests = {en.generic_request(tool, {"city": "Paris"}) for _ in range(200)}
    assert all("city_population" in text for text in en_requests)  # never "Please 查询城市人口."
    assert "Run city_population (查询城市人口) for city=Paris." in en_requests


def test_mixed_script_spacing_only_at_slot_and_list_boundaries():
    zh = Phrasing("zh", random.Random(0))
    assert zh.fill("请调用{name}得到{n}个结果：{x}。", {"name": "get_weather", "n": 3, "x": "东京"}) == \
        "请调用 get_weather 得到 3 个结果：东京。"
    assert zh.fill("{a}和{b}", {"a": "ab中文", "b": "x"}) == "ab中文和 x"  # inside a value: untouched
    assert zh.join(["city 为 Tokyo", "temperature 为 22"]) == "city 为 Tokyo 和 temperature 为 22"
    assert zh.join(["东京", "巴黎", "x"]) == "东京、巴黎和 x"
    en = Phrasing("en", random.Random(0))
    assert en.fill("{a}和{b}", {"a": "x", "b": "y"}) == "x和y"  # English phrasing is filled as written
