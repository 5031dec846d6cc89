"""Hand-written positive and negative cases for every verifier, in English and Chinese where the type applies."""

import json

import pytest

from suites.complex_instr import constraints as lib
from suites.complex_instr.text import CJK_RE

# (type, params, response, strict verdict)
CASES = [
    # keywords:existence
    ("keywords:existence", {"keywords": ["river", "bridge"]}, "The River flows under the old bridge.", True),
    ("keywords:existence", {"keywords": ["river", "bridge"]}, "The river flows past the bridges.", True),
    ("keywords:existence", {"keywords": ["river", "bridge"]}, "The riverbank has a bridgehead.", False),
    ("keywords:existence", {"keywords": ["春天"]}, "春天来了，花都开了。", True),
    ("keywords:existence", {"keywords": ["春天", "秋天"]}, "春天来了，花都开了。", False),
    ("keywords:existence", {"keywords": ["python"]}, "我喜欢用Python写代码。", True),
    # keywords:frequency
    ("keywords:frequency", {"keyword": "data", "relation": "at least", "frequency": 2},
     "Data beats opinions. More data, better data.", True),
    ("keywords:frequency", {"keyword": "data", "relation": "at least", "frequency": 2}, "Use the database.", False),
    ("keywords:frequency", {"keyword": "data", "relation": "less than", "frequency": 2}, "One data point.", True),
    ("keywords:frequency", {"keyword": "朋友", "relation": "at least", "frequency": 2}, "朋友就是愿意听你说话的朋友。", True),
    ("keywords:frequency", {"keyword": "朋友", "relation": "less than", "frequency": 2}, "朋友就是愿意听你说话的朋友。", False),
    # keywords:forbidden_words
    ("keywords:forbidden_words", {"forbidden_words": ["very", "really"]}, "It is quite good.", True),
    ("keywords:forbidden_words", {"forbidden_words": ["very", "really"]}, "It is Very good.", False),
    ("keywords:forbidden_words", {"forbidden_words": ["every"]}, "Everyone agreed.", True),  # whole words only
    ("keywords:forbidden_words", {"forbidden_words": ["然后"]}, "先洗菜，再切菜。", True),
    ("keywords:forbidden_words", {"forbidden_words": ["然后"]}, "先洗菜，然后切菜。", False),
    # keywords:letter_frequency
    ("keywords:letter_frequency", {"letter": "e", "relation": "at least", "let_frequency": 3}, "Eve sees trees.", True),
    ("keywords:letter_frequency", {"letter": "e", "relation": "less than", "let_frequency": 3}, "Eve sees trees.", False),
    ("keywords:letter_frequency", {"letter": "z", "relation": "less than", "let_frequency": 1}, "No such letter.", True),
    # language:response_language
    ("language:response_language", {"language": "en"}, "This answer is written in English.", True),
    ("language:response_language", {"language": "en"}, "这个回答是用中文写的。", False),
    ("language:response_language", {"language": "en"}, "Le chat est sur la table et il dort.", False),
    ("language:response_language", {"language": "zh"}, "这个回答是用中文写的，提到了 Python。", True),
    ("language:response_language", {"language": "zh"}, "Le chat est sur la table et il dort.", False),
    # length_constraints:number_words
    ("length_constraints:number_words", {"relation": "at least", "num_words": 5}, "One two three four five.", True),
    ("length_constraints:number_words", {"relation": "at least", "num_words": 6}, "One two three four five.", False),
    ("length_constraints:number_words", {"relation": "less than", "num_words": 5}, "Don't over-think it.", True),
    ("length_constraints:number_words", {"relation": "less than", "num_words": 3}, "Don't over-think it.", False),
    # length_constraints:number_sentences
    ("length_constraints:number_sentences", {"relation": "at least", "num_sentences": 3},
     "Dr. Smith arrived at 3.30 p.m. today. He was late! Why?", True),
    ("length_constraints:number_sentences", {"relation": "at least", "num_sentences": 4},
     "Dr. Smith arrived at 3.30 p.m. today. He was late! Why?", False),
    ("length_constraints:number_sentences", {"relation": "less than", "num_sentences": 3}, "今天下雨了。我没有带伞！", True),
    ("length_constraints:number_sentences", {"relation": "less than", "num_sentences": 2}, "今天下雨了。我没有带伞！", False),
    # length_constraints:number_paragraphs
    ("length_constraints:number_paragraphs", {"num_paragraphs": 2, "separator": "blank_line"},
     "First paragraph.\n\nSecond paragraph.", True),
    ("length_constraints:number_paragraphs", {"num_paragraphs": 3, "separator": "blank_line"},
     "First paragraph.\n\nSecond paragraph.", False),
    ("length_constraints:number_paragraphs", {"num_paragraphs": 3, "separator": "divider"}, "一段。\n***\n二段。\n***\n三段。", True),
    ("length_constraints:number_paragraphs", {"num_paragraphs": 3, "separator": "divider"}, "一段。\n***\n\n***\n三段。", False),
    ("length_constraints:number_paragraphs", {"num_paragraphs": 2, "separator": "divider"}, "一段。\n\n二段。", False),
    ("length_constraints:number_paragraphs", {"num_paragraphs": 2, "separator": "blank_line"}, "One.\n***\nTwo.", False),
    ("length_constraints:number_paragraphs", {"num_paragraphs": 2, "separator": "blank_line"}, "One.\n\n***\n\nTwo.", True),
    ("length_constraints:number_paragraphs", {"num_paragraphs": 2, "separator": "blank_line"}, "方案一\n******\n方案二", False),
    # length_constraints:nth_paragraph_first_word
    ("length_constraints:nth_paragraph_first_word", {"num_paragraphs": 2, "nth_paragraph": 2, "first_word": "then"},
     "We start.\n\n\"Then,\" she said, \"we finish.\"", True),
    ("length_constraints:nth_paragraph_first_word", {"num_paragraphs": 2, "nth_paragraph": 2, "first_word": "then"},
     "We start.\n\nAnd then we finish.", False),
    ("length_constraints:nth_paragraph_first_word", {"num_paragraphs": 2, "nth_paragraph": 1, "first_word": "首"},
     "首先，准备材料。\n\n然后，开始做饭。", True),
    ("length_constraints:nth_paragraph_first_word", {"num_paragraphs": 3, "nth_paragraph": 1, "first_word": "首"},
     "首先，准备材料。\n\n然后，开始做饭。", False),
    ("length_constraints:nth_paragraph_first_word", {"num_paragraphs": 2, "nth_paragraph": 2, "first_word": "然"},
     "首先，准备材料。\n***\n然后，开始做饭。", False),  # a divider, not a blank line, between them
    # zh:character_count
    ("zh:character_count", {"relation": "at least", "num_chars": 10}, "今天天气很好，我们去公园散步吧。", True),
    ("zh:character_count", {"relation": "at least", "num_chars": 20}, "今天天气很好，我们去公园散步吧。", False),
    ("zh:character_count", {"relation": "at most", "num_chars": 14}, "今天天气很好，我们去公园散步吧。", True),
    ("zh:character_count", {"relation": "at most", "num_chars": 13}, "今天天气很好，我们去公园散步吧。", False),
    # detectable_format:number_bullet_lists
    ("detectable_format:number_bullet_lists", {"num_bullets": 3}, "Tips:\n* one\n* two\n- three\n\nDone.", True),
    ("detectable_format:number_bullet_lists", {"num_bullets": 3}, "Tips:\n* one\n* two\n***\n-5 degrees", False),
    ("detectable_format:number_bullet_lists", {"num_bullets": 2}, "建议：\n- 早睡\n- 早起", True),
    ("detectable_format:number_bullet_lists", {"num_bullets": 2}, "建议：\n1. 早睡\n2. 早起", False),
    # detectable_format:constrained_response
    ("detectable_format:constrained_response", {"options": "en"}, "Tomatoes are fruit.\n\nMy answer is yes.", True),
    ("detectable_format:constrained_response", {"options": "en"}, "Yes, they are.", False),
    ("detectable_format:constrained_response", {"options": "zh"}, "会伤眼睛。\n\n我的答案是：是。", True),
    ("detectable_format:constrained_response", {"options": "zh"}, "会伤眼睛。我的答案是肯定的。", False),
    # detectable_format:number_highlighted_sections
    ("detectable_format:number_highlighted_sections", {"num_highlights": 2}, "*First* point and **second** point.", True),
    ("detectable_format:number_highlighted_sections", {"num_highlights": 2}, "*First* point and ** ** nothing.", False),
    ("detectable_format:number_highlighted_sections", {"num_highlights": 1}, "这是*重点*。", True),
    ("detectable_format:number_highlighted_sections", {"num_highlights": 1}, "这里没有重点。", False),
    # detectable_format:multiple_sections
    ("detectable_format:multiple_sections", {"section_spliter": "Section", "num_sections": 2},
     "Section 1\nIntro.\n\nSection 2\nBody.", True),
    ("detectable_format:multiple_sections", {"section_spliter": "Section", "num_sections": 2},
     "SECTION 1\nIntro.\n\nSECTION 2\nBody.", False),
    ("detectable_format:multiple_sections", {"section_spliter": "部分", "num_sections": 2}, "第1部分：起因\n……\n第2部分：结果\n……", True),
    ("detectable_format:multiple_sections", {"section_spliter": "部分", "num_sections": 3}, "第1部分：起因\n……\n第2部分：结果\n……", False),
    # detectable_format:json_format
    ("detectable_format:json_format", {}, '```json\n{"a": [1, 2]}\n```', True),
    ("detectable_format:json_format", {}, '{"名称": "龙井", "产地": "杭州"}', True),
    ("detectable_format:json_format", {}, 'Here it is: {"a": 1}', False),
    ("detectable_format:json_format", {}, "42", False),  # a bare number is not a JSON document an answer is wrapped in
    ("detectable_format:json_format", {}, '{“名称”：“龙井”，“产地”：“杭州”}', False),  # full-width quotes and colons
    ("detectable_format:json_format", {}, '以下是结果：{"名称": "龙井"}', False),
    # detectable_format:title
    ("detectable_format:title", {}, "<<Ode to Tea>>\n\nLeaves unfold.", True),
    ("detectable_format:title", {}, "Ode to Tea\n\nLeaves unfold.", False),
    ("detectable_format:title", {}, "<<秋信>>\n\n风把信写在梧桐叶上。", True),
    ("detectable_format:title", {}, "<<  >>\n秋信", False),
    # detectable_content:number_placeholders
    ("detectable_content:number_placeholders", {"num_placeholders": 2}, "Dear [name], see you at [place].", True),
    ("detectable_content:number_placeholders", {"num_placeholders": 2}, 'Dear [name], see ["a", "b"] and [docs](http://x).', False),
    ("detectable_content:number_placeholders", {"num_placeholders": 1}, "尊敬的[房东姓名]：您好！", True),
    ("detectable_content:number_placeholders", {"num_placeholders": 1}, "尊敬的房东：您好！", False),
    # detectable_content:postscript
    ("detectable_content:postscript", {"postscript_marker": "P.S."}, "See you soon.\n\nP.S. Bring snacks.", True),
    ("detectable_content:postscript", {"postscript_marker": "P.S."}, "See you soon.\n\nP.P.S. Bring snacks.", False),
    ("detectable_content:postscript", {"postscript_marker": "P.P.S"}, "See you soon.\n\nP.P.S. Bring snacks.", True),
    ("detectable_content:postscript", {"postscript_marker": "附言"}, "祝好！\n\n附言：记得带伞。", True),
    ("detectable_content:postscript", {"postscript_marker": "附言"}, "祝好！记得带伞，这是附言。", False),
    # startend:end_checker
    ("startend:end_checker", {"end_phrase": "Any other questions?"}, "Done.\nAny other questions?  ", True),
    ("startend:end_checker", {"end_phrase": "Any other questions?"}, "Any other questions? Bye.", False),
    ("startend:end_checker", {"end_phrase": "希望对你有帮助。"}, "先休息一下。希望对你有帮助。", True),
    ("startend:end_checker", {"end_phrase": "希望对你有帮助。"}, "希望对你有帮助。再见！", False),
    # startend:quotation
    ("startend:quotation", {}, '"Keep going."', True),
    ("startend:quotation", {}, '"Keep going." she said.', False),
    ("startend:quotation", {}, "“每一道题都算数。”", True),
    ("startend:quotation", {}, "“每一道题都算数。", False),
    # combination:two_responses
    ("combination:two_responses", {}, "Name one.\n******\nName two.", True),
    ("combination:two_responses", {}, "Same.\n******\nSame.", False),
    ("combination:two_responses", {}, "方案一\n******\n方案二\n******\n方案三", False),
    ("combination:two_responses", {}, "方案一\n******\n方案二", True),
    # combination:repeat_prompt
    ("combination:repeat_prompt", {"prompt_to_repeat": "Name three colours."},
     "name three colours. Red, yellow and blue.", True),
    ("combination:repeat_prompt", {"prompt_to_repeat": "Name three colours."}, "Red, yellow and blue.", False),
    ("combination:repeat_prompt", {"prompt_to_repeat": "中国的首都是哪里？"}, "中国的首都是哪里？是北京。", True),
    ("combination:repeat_prompt", {"prompt_to_repeat": "中国的首都是哪里？"}, "是北京。中国的首都是哪里？", False),
    # change_case:capital_word_frequency
    ("change_case:capital_word_frequency", {"relation": "at least", "capital_frequency": 2},
     "ALWAYS wear goggles. NEVER taste chemicals. I said so.", True),
    ("change_case:capital_word_frequency", {"relation": "at least", "capital_frequency": 3},
     "ALWAYS wear goggles. NEVER taste chemicals. I said so.", False),
    ("change_case:capital_word_frequency", {"relation": "less than", "capital_frequency": 1}, "I am A person.", True),
    # change_case:english_capital
    ("change_case:english_capital", {}, "DO NOT USE THE LIFTS. GATHER AT 2 PM.", True),
    ("change_case:english_capital", {}, "DO NOT USE THE LIFTs.", False),
    ("change_case:english_capital", {}, "请勿使用电梯 OK", False),
    # change_case:english_lowercase
    ("change_case:english_lowercase", {}, "the light comes in slowly and nobody is in a hurry.", True),
    ("change_case:english_lowercase", {}, "the light comes in slowly and I wait.", False),
    ("change_case:english_lowercase", {}, "今天 ok", False),
    # punctuation:no_comma
    ("punctuation:no_comma", {}, "Short and sweet.", True),
    ("punctuation:no_comma", {}, "Short, sweet.", False),
    ("punctuation:no_comma", {}, "大熊猫爱吃竹子。", True),
    ("punctuation:no_comma", {}, "大熊猫，爱吃竹子。", False),
    # emoji:count
    ("emoji:count", {"relation": "at least", "num_emojis": 2}, "Party 🎉 time 👨‍👩‍👧 yes", True),
    ("emoji:count", {"relation": "exactly", "num_emojis": 3}, "Party 🎉 time 👨‍👩‍👧 yes", False),  # a ZWJ family is one
    ("emoji:count", {"relation": "at most", "num_emojis": 1}, "新婚快乐！🎉", True),
    ("emoji:count", {"relation": "at most", "num_emojis": 1}, "新婚快乐！🎉💕", False),
    ("emoji:count", {"relation": "exactly", "num_emojis": 1}, "Copyright © 2024 ✔️", True),  # © is text, ✔️ is emoji
    # emoji:paragraph_end
    ("emoji:paragraph_end", {}, "Shipped it 🚀\n\nLunch on me 🍕", True),
    ("emoji:paragraph_end", {}, "Shipped it 🚀\n\nLunch on me.", False),
    ("emoji:paragraph_end", {}, "读书会在周六📚\n\n请提前报名🍜", True),
    ("emoji:paragraph_end", {}, "读书会在周六📚 欢迎参加\n\n请提前报名🍜", False),
    # zh:punctuation
    ("zh:punctuation", {}, "今天是2024年10月1日，10:30出发，票价1,200元。", True),
    ("zh:punctuation", {}, "今天出发,票价很贵.", False),
    ("zh:punctuation", {}, "你好吗?我很好!", False),
    ("zh:punctuation", {}, "No Chinese here.", False),
]


def test_every_type_has_hand_written_positive_and_negative_cases():
    covered = {}
    for type_id, _, _, verdict in CASES:
        covered.setdefault(type_id, set()).add(verdict)
    assert set(covered) == set(lib.TYPES)
    assert all(v == {True, False} for v in covered.values()), {k: v for k, v in covered.items() if v != {True, False}}


def is_chinese_case(params: dict, response: str) -> bool:
    """A Chinese case: the response or a parameter holds Chinese, or a parameter names Chinese."""
    return bool(CJK_RE.search(response + json.dumps(params, ensure_ascii=False))) or "zh" in params.values()


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_type_has_positive_and_negative_cases_in_each_language_it_applies_to(lang):
    covered = {}
    for type_id, params, response, verdict in CASES:
        if is_chinese_case(params, response) == (lang == "zh"):
            covered.setdefault(type_id, set()).add(verdict)
    applies = [t for t in sorted(lib.TYPES) if lib.get(t).applies(lang)]
    missing = {t: sorted({True, False} - covered.get(t, set())) for t in applies if covered.get(t) != {True, False}}
    assert missing == {}
    assert len(applies) == (27 if lang == "en" else 24)


@pytest.mark.parametrize("type_id, params, response, expected", CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_strict_verdict(type_id, params, response, expected):
    assert lib.get(type_id).verify(response, params) is expected


# Replies that fail strictly but pass the loose reading (IFEval's first/last line removed, emphasis stripped).
LOOSE_CASES = [
    ("detectable_format:json_format", {}, 'Sure, here is the JSON:\n{"a": 1}'),
    ("detectable_format:json_format", {}, '好的，以下是JSON：\n{"名称": "龙井"}'),
    ("startend:end_checker", {"end_phrase": "Hope this helps!"}, "Answer.\nHope this helps!\n(generated)"),
    ("startend:quotation", {}, 'Here you go:\n"Keep going."'),
    ("change_case:english_lowercase", {}, "Sure!\nthe sky is blue because of scattering."),
    ("keywords:existence", {"keywords": ["pineapple"]}, "I like pine*apple*."),
    ("punctuation:no_comma", {}, "Well, here it is:\n大熊猫爱吃竹子。"),
    ("combination:repeat_prompt", {"prompt_to_repeat": "Name a colour."}, "Okay.\nName a colour. Red."),
]


@pytest.mark.parametrize("type_id, params, response", LOOSE_CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(LOOSE_CASES)])
def test_loose_accepts_what_strict_rejects(type_id, params, response):
    ctype = lib.get(type_id)
    assert not ctype.verify(response, params)
    assert ctype.verify(response, params, loose=True)


def test_loose_still_rejects_a_real_miss():
    ctype = lib.get("detectable_format:json_format")
    assert not ctype.verify("Sure:\nnot json at all\nreally", {}, loose=True)
    assert not lib.get("keywords:existence").verify("Nothing here.\nAt all.", {"keywords": ["tea"]}, loose=True)
