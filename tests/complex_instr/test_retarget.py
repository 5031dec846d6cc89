"""Retargeting: parameters a person would write, and (property) whatever retarget returns, the verifier accepts."""

import json
import random
import re
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from suites.complex_instr import constraints as lib
from suites.complex_instr.constraints.base import Context, nice_above, nice_ceil, nice_floor, target_for
from suites.complex_instr.constraints.vocab import ZH_FUNCTION_CHARS, ZH_MEASURE_CHARS, keyword_candidates
from suites.complex_instr.generate import generate
from suites.complex_instr.sources import load_seed_pairs
from suites.complex_instr.text import CJK, CJK_RE


def ctx(lang="en", instruction="", seed=0):
    return Context(rng=random.Random(seed), lang=lang, response_lang=lang, instruction=instruction)


def words(n):
    return " ".join(["word"] * n) + "."


@pytest.mark.parametrize("n, floor, ceil, above", [(189, 180, 190, 190), (200, 200, 200, 250), (47, 45, 50, 50),
                                                   (7, 7, 7, 8), (10, 10, 10, 15), (1234, 1200, 1300, 1300)])
def test_round_numbers(n, floor, ceil, above):
    assert (nice_floor(n), nice_ceil(n), nice_above(n)) == (floor, ceil, above)


def test_asked_200_words_got_189_asks_180():
    ctype = lib.get("length_constraints:number_words")
    response = words(189)
    asked = {"relation": "at least", "num_words": 200}
    assert not ctype.verify(response, asked)
    assert ctype.retarget(response, asked, ctx()) == {"relation": "at least", "num_words": 180}


def test_at_most_rounds_up():
    ctype = lib.get("length_constraints:number_words")
    assert ctype.retarget(words(150), {"relation": "less than", "num_words": 100}, ctx()) == \
        {"relation": "less than", "num_words": 160}
    chars = lib.get("zh:character_count")
    assert chars.retarget("好" * 113, {"relation": "at most", "num_chars": 100}, ctx("zh")) == \
        {"relation": "at most", "num_chars": 120}


def test_at_least_zero_has_no_target():
    assert target_for(0, "at least") is None
    ctype = lib.get("detectable_content:number_placeholders")
    assert ctype.retarget("No brackets at all.", {"num_placeholders": 2}, ctx()) is None


def test_keywords_come_from_the_response_and_keep_what_held():
    ctype = lib.get("keywords:existence")
    response = "Lanterns glowed along the harbour while fishermen mended their nets. The harbour was quiet."
    found = ctype.retarget(response, {"keywords": ["harbour", "submarine"]}, ctx(seed=3))
    assert found["keywords"][0] == "harbour" and len(found["keywords"]) == 2
    assert found["keywords"][1] in {"lanterns", "glowed", "fishermen", "mended", "nets", "quiet"}
    assert ctype.verify(response, found)
    # function words are never keywords: "at least", "rather than", "along the"
    assert keyword_candidates("Stay at least five years, rather than less, along the coast.") == \
        ("coast", "stay", "years")


ZH_NUMERALS = set("〇零一二三四五六七八九十百千万亿两几半")


def zh_fragment_of(response: str, keyword: str) -> str | None:
    """A longer Chinese n-gram of the response that contains `keyword` and occurs as often as it does
    (at least twice), so that every occurrence of the keyword is inside it: "服务员" for "务员". Extensions
    by particles, numerals or measure words (花园 -> 花园里, 利息 -> 元利息) do not count."""
    count = response.count(keyword)
    not_word_chars = ZH_FUNCTION_CHARS | ZH_MEASURE_CHARS | ZH_NUMERALS
    if count < 2:
        return None
    for run in re.findall(f"[{CJK}]+", response):
        for i in range(len(run)):
            for j in range(i + len(keyword) + 1, min(len(run), i + len(keyword) + 4) + 1):
                gram = run[i:j]
                extra = gram.replace(keyword, "", 1)
                if keyword in gram and response.count(gram) == count and not set(extra) & not_word_chars:
                    return gram
    return None


def test_chinese_keywords_are_words_not_fragments():
    ctype = lib.get("keywords:existence")
    response = "春天来了，春天的花园里开满了花。我们在花园里散步。"
    found = ctype.retarget(response, None, ctx("zh", seed=1))
    assert set(found["keywords"]) <= {"春天", "花园", "散步"}
    # the audit's fragments: 务员 (服务员), 大熊 / 熊猫 (大熊猫), 五百 / 百元 (五百元)
    waiter = "服务员：您好。\n顾客：两位。\n服务员：这边请。\n服务员：请稍等。"
    assert keyword_candidates(waiter)[:1] == ("服务员",) and "务员" not in keyword_candidates(waiter)
    assert "服务" not in keyword_candidates(waiter)  # a lexicon word, but here only ever part of 服务员
    panda = "大熊猫爱吃竹子。野生大熊猫很少。大熊猫是国宝。"
    assert [w for w in keyword_candidates(panda) if CJK_RE.search(w)] == ["大熊猫"]
    money = "你得到五百元利息。又得到五百元利息。再得到五百二十五元利息。"
    assert [w for w in keyword_candidates(money) if CJK_RE.search(w)] == ["利息"]


def test_chinese_keywords_over_every_seed_pair_and_generated_sample():
    """No Chinese keyword candidate of any seed answer, nor any keyword retargeting or back-translation put
    in a generated prompt, is a fragment of a longer repeated n-gram or holds a numeral."""
    checked = 0
    for pair in load_seed_pairs():
        for word in keyword_candidates(pair.response):
            if CJK_RE.search(word):
                assert zh_fragment_of(pair.response, word) is None, (pair.id, word, zh_fragment_of(pair.response, word))
                assert not set(word) & ZH_NUMERALS, (pair.id, word)
                checked += 1
    assert checked >= 200
    chosen = Counter()
    for record in generate(1000, 3, "zh"):
        response = record["messages"][-1]["content"]
        asked = {w for c in record["meta"]["original_constraints"] for w in _keywords(c)}
        for c in record["meta"]["constraints"]:
            for word in _keywords(c):
                if CJK_RE.search(word) and word not in asked and c["type"] != "keywords:forbidden_words":
                    assert zh_fragment_of(response, word) is None, (record["meta"]["pair_id"], word)
                    assert not set(word) & ZH_NUMERALS, (record["meta"]["pair_id"], word)
                    chosen[word] += 1
    assert sum(chosen.values()) >= 200 and len(chosen) >= 60
    assert not {"务员", "大熊", "熊猫", "五百", "百元"} & set(chosen)


def _keywords(constraint: dict) -> list[str]:
    params = constraint["params"]
    return params.get("keywords", []) + params.get("forbidden_words", []) + [params.get("keyword", "")]


def test_end_phrase_is_the_last_sentence():
    ctype = lib.get("startend:end_checker")
    response = "Drink water.\n\nSleep well. Hope this helps!"
    assert ctype.retarget(response, {"end_phrase": "Any other questions?"}, ctx()) == {"end_phrase": "Hope this helps!"}
    assert ctype.retarget("word " * 40 + "end.", None, ctx()) is None  # too long to ask for verbatim


def test_end_phrase_leaves_out_a_leading_emoji_and_list_marker():
    ctype = lib.get("startend:end_checker")
    assert ctype.retarget("新鲜草莓今日到店！\n📍 地址：幸福路18号", None, ctx("zh")) == {"end_phrase": "地址：幸福路18号"}
    assert ctype.retarget("Steps:\n1. Mix.\n2) Bake it well.", None, ctx()) == {"end_phrase": "Bake it well."}


def test_no_sentence_count_that_every_answer_meets():
    ctype = lib.get("length_constraints:number_sentences")
    one = "Ottawa is the capital of Canada."
    assert ctype.retarget(one, {"relation": "at least", "num_sentences": 3}, ctx()) is None  # not "at least 1"
    for seed in range(10):
        assert ctype.retarget(one, None, ctx(seed=seed)) == {"relation": "less than", "num_sentences": 3}
    assert ctype.retarget("Go. Stop? Run!", {"relation": "at least", "num_sentences": 5}, ctx()) == \
        {"relation": "at least", "num_sentences": 3}


def test_chinese_first_character_is_asked_as_a_character():
    ctype = lib.get("length_constraints:nth_paragraph_first_word")
    response = "本周六下午三点举行读书会📚\n\n请大家提前读完全书🗣️\n\n想参加的朋友请报名🍜"
    params = ctype.retarget(response, {"num_paragraphs": 3, "nth_paragraph": 1, "first_word": "首"}, ctx("zh"))
    assert params == {"num_paragraphs": 3, "nth_paragraph": 1, "first_word": "本"}
    rendered = {ctype.render(params, "zh", random.Random(seed)) for seed in range(30)}
    assert rendered == {"回答共3段，段与段之间空一行，其中第1段必须以“本”字开头。", "请写3个段落（用空行分隔），第1段的第一个字是“本”。",
                        "全文分3段、段间空一行；第1段要以“本”字起头。"}
    poem = "<<故乡>>\n\n故乡是一条小河，\n悄悄留在了水里。\n\n多年以后我回来，\n像母亲叫我的小名。"
    for seed in range(10):  # never "begin paragraph 1 with 故" when paragraph 1 is the title <<故乡>>
        found = ctype.retarget(poem, {"num_paragraphs": 3, "nth_paragraph": 1, "first_word": "首"}, ctx("zh", seed=seed))
        assert found in ({"num_paragraphs": 3, "nth_paragraph": 2, "first_word": "故"},
                         {"num_paragraphs": 3, "nth_paragraph": 3, "first_word": "多"})
    assert ctype.retarget("- one\n\n*Two*", None, ctx()) is None
    english = {"num_paragraphs": 2, "nth_paragraph": 2, "first_word": "however"}
    assert "请写2个段落（用空行分隔），第2段的第一个词是“however”。" in {ctype.render(english, "zh", random.Random(seed)) for seed in range(30)}
    assert all("character" in ctype.render(params, "en", random.Random(seed)) for seed in range(10))


def test_structural_types_retarget_to_what_is_there():
    assert lib.get("detectable_format:number_bullet_lists").retarget("- a\n- b\n- c", {"num_bullets": 5}, ctx()) == \
        {"num_bullets": 3}
    assert lib.get("detectable_format:multiple_sections").retarget(
        "PART 1\nx\nPART 2\ny", {"section_spliter": "Section", "num_sections": 4}, ctx()) == \
        {"section_spliter": "PART", "num_sections": 2}
    assert lib.get("length_constraints:number_paragraphs").retarget(
        "a\n***\nb", {"num_paragraphs": 4, "separator": "blank_line"}, ctx()) == \
        {"num_paragraphs": 2, "separator": "divider"}  # no blank line in it: not "separated by blank lines"
    assert lib.get("length_constraints:number_paragraphs").retarget(
        "a\n\nb\n***\nc", {"num_paragraphs": 4, "separator": "blank_line"}, ctx()) == \
        {"num_paragraphs": 2, "separator": "divider"}
    assert lib.get("length_constraints:number_paragraphs").retarget(
        "Version one.\n******\nVersion two.", None, ctx()) is None  # two responses, not paragraphs
    assert lib.get("length_constraints:nth_paragraph_first_word").retarget("一段。\n***\n二段。", None, ctx("zh")) is None
    assert lib.get("detectable_content:postscript").retarget("Hi.\n\nP.P.S. more", {"postscript_marker": "P.S."},
                                                             ctx()) == {"postscript_marker": "P.P.S"}
    assert lib.get("language:response_language").retarget("这是中文回答。", {"language": "en"}, ctx()) == {"language": "zh"}
    assert lib.get("combination:repeat_prompt").retarget("Say hi. Hi!", None, ctx(instruction="Say hi.")) == \
        {"prompt_to_repeat": "Say hi."}
    assert lib.get("detectable_format:json_format").retarget("not json", {}, ctx()) is None


# --- property: retarget's parameters always verify ------------------------------------------------------

FRAGMENTS = [
    "word ", "The ", "river ", "Harbour ", "NASA ", "I ", "data, ", "e.g. ", "3.14 ", "1,000 ", "10:30 ", "don't ",
    "春天", "花园", "我们", "的", "，", "。", "！", "？", "“", "”", "：", "、", "(", ")", ",", ".", "?", "!", ";", ":",
    "\n", "\n\n", "\n***\n", "******", "* ", "- ", "+ ", "*bold*", "**strong**", "<<A Title>>", "<<标题>>",
    "[name]", '["a"]', "[x](y)", "P.S. ", "P.P.S ", "附言：", "Section 1\n", "SECTION 2\n", "PART 3\n", "第1部分\n",
    "第二部分\n", "My answer is yes.", "我的答案是：否。", '{"a": 1}', "```json\n[1]\n```", '"', "🎉", "👨‍👩‍👧", "✔️", "©",
    "🇨🇳", "# ", "ALL CAPS ", "lower ", "Ünïcödé ", "\t", "  ",
]
pieces = st.lists(st.sampled_from(FRAGMENTS), max_size=12).map("".join)


def _shape(parts: list[str], shape: str) -> str:
    """Wrap random pieces in the shapes the structural verifiers look for."""
    if shape == "quote":
        return '"' + " ".join(parts) + '"'
    if shape == "cquote":
        return "“" + "".join(parts) + "”"
    if shape == "json":
        return json.dumps({f"k{i}": p for i, p in enumerate(parts)}, ensure_ascii=False)
    if shape == "fenced_json":
        return "```json\n" + json.dumps(parts, ensure_ascii=False) + "\n```"
    if shape in ("Section", "PART"):
        return "\n".join(f"{shape} {i}\n{p}" for i, p in enumerate(parts, 1))
    if shape == "部分":
        return "\n".join(f"第{i}部分\n{p}" for i, p in enumerate(parts, 1))
    if shape == "two":
        return "\n******\n".join(parts[:2])
    if shape == "bullets":
        return "\n".join(f"* {p}" for p in parts)
    return "\n\n".join(f"{p} 🎉" for p in parts)


responses = st.one_of(
    st.lists(st.sampled_from(FRAGMENTS), max_size=40).map("".join),
    st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=6)), max_size=25).map("".join),
    st.builds(_shape, st.lists(pieces, min_size=1, max_size=4),
              st.sampled_from(["quote", "cquote", "json", "fenced_json", "Section", "PART", "部分", "two", "bullets",
                               "emoji_paragraphs"])),
)


@settings(max_examples=250, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(response=responses, seed=st.integers(0, 2**16), cut=st.integers(0, 30), lang=st.sampled_from(["en", "zh"]))
def test_retarget_params_always_verify(response, seed, cut, lang):
    instruction = response[:cut]
    for type_id, ctype in lib.TYPES.items():
        context = Context(rng=random.Random(seed), lang=lang, response_lang=lang, instruction=instruction)
        asked = ctype.sample(context)
        for params in (None, asked):
            found = ctype.retarget(response, params, context)
            if found is not None:
                assert ctype.verify(response, found), (type_id, params, found, response)
