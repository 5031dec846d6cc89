"""Retargeting: parameters a person would write, and (property) whatever retarget returns, the verifier accepts."""

import json
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from suites.complex_instr import constraints as lib
from suites.complex_instr.constraints.base import Context, nice_above, nice_ceil, nice_floor, target_for


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
    assert found["keywords"][1] in {"lanterns", "glowed", "along", "fishermen", "mended", "their", "nets", "quiet"}
    assert ctype.verify(response, found)


def test_chinese_keywords_are_words_not_fragments():
    ctype = lib.get("keywords:existence")
    response = "春天来了，春天的花园里开满了花。我们在花园里散步。"
    found = ctype.retarget(response, None, ctx("zh", seed=1))
    assert set(found["keywords"]) <= {"春天", "花园", "散步"}


def test_end_phrase_is_the_last_sentence():
    ctype = lib.get("startend:end_checker")
    response = "Drink water.\n\nSleep well. Hope this helps!"
    assert ctype.retarget(response, {"end_phrase": "Any other questions?"}, ctx()) == {"end_phrase": "Hope this helps!"}
    assert ctype.retarget("word " * 40 + "end.", None, ctx()) is None  # too long to ask for verbatim


def test_structural_types_retarget_to_what_is_there():
    assert lib.get("detectable_format:number_bullet_lists").retarget("- a\n- b\n- c", {"num_bullets": 5}, ctx()) == \
        {"num_bullets": 3}
    assert lib.get("detectable_format:multiple_sections").retarget(
        "PART 1\nx\nPART 2\ny", {"section_spliter": "Section", "num_sections": 4}, ctx()) == \
        {"section_spliter": "PART", "num_sections": 2}
    assert lib.get("length_constraints:number_paragraphs").retarget(
        "a\n***\nb", {"num_paragraphs": 4, "separator": "blank_line"}, ctx()) == \
        {"num_paragraphs": 2, "separator": "blank_line"}
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
