"""Offline counting rules the verifiers are built on."""

import pytest

from suites.complex_instr import constraints as lib
from suites.complex_instr.constraints.base import Context
from suites.complex_instr.text import (
    count_emojis,
    count_sentences,
    count_words,
    detect_language,
    loose_variants,
    paragraphs,
    sentences,
    words,
)


def test_words_count_cjk_characters_and_keep_contractions_whole():
    assert words("我爱NLP models") == ["我", "爱", "NLP", "models"]
    assert words("Don't over-think it, O'Neil!") == ["Don't", "over-think", "it", "O'Neil"]
    assert count_words("3.14 and 1,000") == 5  # digits split at punctuation: 3 / 14 / and / 1 / 000
    assert count_words("") == 0


def test_sentences_respect_abbreviations_decimals_and_line_breaks():
    assert count_sentences("Mr. Lee paid $3.50 at 5 p.m. yesterday. Then he left!") == 2
    assert count_sentences("Heading\n- item one\n- item two") == 2  # a heading runs on into the first item
    assert count_sentences("第一句。第二句！第三句？") == 3
    assert count_sentences("Wait... What?") == 2
    assert count_sentences("Wait... what?") == 1  # before a lowercase word an ellipsis is a pause
    assert count_sentences("*** --- !!!") == 0


ZH_SLEEP_LIST = ("1. 每天固定时间睡觉和起床，周末也尽量不打乱作息。\n2. 睡前一小时远离手机和电脑屏幕。\n"
                 "3. 下午两点以后不喝咖啡和浓茶。\n4. 保持卧室安静、黑暗、凉爽。\n5. 白天适当运动，但睡前两小时内不要做剧烈运动。")


@pytest.mark.parametrize("text, expected", [
    # numbered, lettered and roman markers, with "." ")" "、" or parentheses, are not sentences
    ("1. Mix the flour.\n2. Add the eggs.\n3. Bake it.", ["Mix the flour.", "Add the eggs.", "Bake it."]),
    ("1) Eat well\n2) Sleep well", ["Eat well", "Sleep well"]),
    ("(1) one\n(2) two\n(3) three", ["one", "two", "three"]),
    ("a. apples\nb. pears", ["apples", "pears"]),
    ("A) Yes.\nB) No.", ["Yes.", "No."]),
    ("i. first\nii. second\niv. fourth", ["first", "second", "fourth"]),
    ("- tea\n* coffee\n+ water", ["tea", "coffee", "water"]),
    ("## 2. Results\n> 1. Quoted item.", ["Results\nQuoted item."]),
    ("Do this. 2. Do that.", ["Do this.", "Do that."]),  # a marker right after a sentence
    ("Steps: 1. mix the dough 2. bake it.", ["Steps: 1. mix the dough 2. bake it."]),  # inline list, one sentence
    # Chinese markers: 1. / 1、/ 一、/ （一）/ (1)
    (ZH_SLEEP_LIST, ["每天固定时间睡觉和起床，周末也尽量不打乱作息。", "睡前一小时远离手机和电脑屏幕。",
                     "下午两点以后不喝咖啡和浓茶。", "保持卧室安静、黑暗、凉爽。", "白天适当运动，但睡前两小时内不要做剧烈运动。"]),
    ("1、早睡。2、早起。", ["早睡。", "早起。"]),
    ("一、总则\n（一）目的。\n（二）范围。", ["总则", "目的。", "范围。"]),
    ("1.先洗菜。\n2.再切菜。", ["先洗菜。", "再切菜。"]),
    ("（1）准备材料。(2) 开始做饭！", ["准备材料。", "开始做饭！"]),
    # abbreviations, initials and decimals do not end a sentence; numbers that end one still do
    ("Eat fruit, e.g. apples. Dr. Lee agrees.", ["Eat fruit, e.g. apples.", "Dr. Lee agrees."]),
    ("It costs 3.5 dollars, i.e. cheap. J. R. R. Tolkien wrote it.",
     ["It costs 3.5 dollars, i.e. cheap.", "J. R. R. Tolkien wrote it."]),
    ("She has a Ph.D. in physics. It was 2. Then it was 3.", ["She has a Ph.D. in physics.", "It was 2.", "Then it was 3."]),
    ("I was born in 1990. I moved in 2010.", ["I was born in 1990.", "I moved in 2010."]),
    ("价格是3.5元。很便宜！", ["价格是3.5元。", "很便宜！"]),
    ("42.", ["42."]),  # a bare number with nothing after it is an answer, not a marker
    # emphasis closing after the mark belongs to the sentence it closes
    ("*第一，先早睡。* 想早起一小时，就要早一小时上床。", ["*第一，先早睡。*", "想早起一小时，就要早一小时上床。"]),
    ("**Keep a schedule.** Wake at the same time. *Get light.*", ["**Keep a schedule.**", "Wake at the same time.",
                                                                  "*Get light.*"]),
])
def test_list_markers_abbreviations_and_decimals_make_no_sentences(text, expected):
    assert sentences(text) == expected
    assert count_sentences(text) == len(expected)


def test_a_five_item_chinese_list_has_five_sentences():
    """The audit's case: zh-009 was asked for at least 10 sentences because "1." to "5." counted too."""
    assert count_sentences(ZH_SLEEP_LIST) == 5
    ctype = lib.get("length_constraints:number_sentences")
    asked = {"relation": "at least", "num_sentences": 10}
    assert not ctype.verify(ZH_SLEEP_LIST, asked)
    assert ctype.retarget(ZH_SLEEP_LIST, asked, Context(lang="zh", response_lang="zh")) == \
        {"relation": "at least", "num_sentences": 5}
    assert lib.get("startend:end_checker").retarget("1. Sleep early.\n2. Rest well.", None, Context()) == \
        {"end_phrase": "Rest well."}


def test_paragraphs_split_on_blank_lines_and_dividers():
    assert paragraphs("a\nb\n\n\nc\n***\nd\n---\n") == ["a\nb", "c", "d"]
    assert paragraphs("   \n") == []


def test_language_detection_offline():
    assert detect_language("The quick brown fox jumps over the lazy dog.") == "en"
    assert detect_language("今天天气很好，我们用 Python 写代码。") == "zh"
    assert detect_language("Le chat est sur la table et il dort dans la maison.") == "fr"
    assert detect_language("Der Hund ist nicht in dem Haus und ich bin auch nicht da.") == "de"
    assert detect_language("これは日本語の文章です。") == "ja"
    assert detect_language("Привет, как дела?") == "ru"
    assert detect_language("12345 !!!") == ""


def test_emoji_clusters():
    assert count_emojis("🎉👨‍👩‍👧🇨🇳👍🏽✔️") == 5
    assert count_emojis("© ® ™ plain text ★") == 1  # ★ (U+2605) is in the symbol block and counts
    assert count_emojis("") == 0


def test_loose_variants_match_ifeval():
    variants = loose_variants("first\n*middle*\nlast")
    assert variants[:4] == ["first\n*middle*\nlast", "*middle*\nlast", "first\n*middle*", "*middle*"]
    assert variants[7] == "middle"
    assert len(variants) == 8
