"""Offline counting rules the verifiers are built on."""

from suites.complex_instr.text import (
    count_emojis,
    count_sentences,
    count_words,
    detect_language,
    loose_variants,
    paragraphs,
    words,
)


def test_words_count_cjk_characters_and_keep_contractions_whole():
    assert words("我爱NLP models") == ["我", "爱", "NLP", "models"]
    assert words("Don't over-think it, O'Neil!") == ["Don't", "over-think", "it", "O'Neil"]
    assert count_words("3.14 and 1,000") == 5  # digits split at punctuation: 3 / 14 / and / 1 / 000
    assert count_words("") == 0


def test_sentences_respect_abbreviations_decimals_and_line_breaks():
    assert count_sentences("Mr. Lee paid $3.50 at 5 p.m. yesterday. Then he left!") == 2
    assert count_sentences("Heading\n- item one\n- item two") == 3
    assert count_sentences("第一句。第二句！第三句？") == 3
    assert count_sentences("Wait... what?") == 2
    assert count_sentences("*** --- !!!") == 0


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
