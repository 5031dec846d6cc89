"""The seed set shipped with the suite: size, languages, forms, and that every constraint family is reachable."""

import random
from collections import Counter

from suites.complex_instr import constraints as lib
from suites.complex_instr.constraints.base import Context
from suites.complex_instr.sources import load_seed_pairs
from suites.complex_instr.text import count_cjk, count_words, detect_language


def test_size_languages_and_forms():
    pairs = load_seed_pairs()
    assert len(pairs) >= 100
    assert len({p.id for p in pairs}) == len(pairs)
    langs = Counter(p.lang for p in pairs)
    assert langs["en"] >= 50 and langs["zh"] >= 45
    forms = Counter(p.form for p in pairs)
    for form in ("list", "json", "sections", "letter", "poem", "short", "long"):
        assert forms[form] >= 2, form
    assert len(forms) >= 20
    assert len({p.instruction for p in pairs}) == len(pairs) and len({p.response for p in pairs}) == len(pairs)


def test_responses_are_in_their_language_and_lengths_vary():
    pairs = load_seed_pairs()
    for p in pairs:
        assert detect_language(p.response) == p.lang, p.id
        assert p.response == p.response.strip()
    en_lengths = sorted(count_words(p.response) for p in pairs if p.lang == "en")
    zh_lengths = sorted(count_cjk(p.response) for p in pairs if p.lang == "zh")
    assert en_lengths[0] <= 20 and en_lengths[-1] >= 300
    assert zh_lengths[0] <= 40 and zh_lengths[-1] >= 400


def test_chinese_prose_uses_full_width_punctuation():
    punctuation = lib.get("zh:punctuation")
    misses = [p.id for p in load_seed_pairs() if p.lang == "zh" and p.form != "json"
              and not punctuation.verify(p.response, {})]
    assert misses == []


def test_every_constraint_type_is_satisfied_by_some_seed():
    """The default offline run can produce every type (by retargeting or back-translation)."""
    reachable = Counter()
    for p in load_seed_pairs():
        for type_id, ctype in lib.TYPES.items():
            if not ctype.applies(p.lang):
                continue
            ctx = Context(rng=random.Random(0), lang=p.lang, response_lang=p.lang, instruction=p.instruction)
            params = ctype.retarget(p.response, None, ctx)
            if params is not None and ctype.verify(p.response, params):
                reachable[type_id] += 1
    assert set(reachable) == set(lib.TYPES), set(lib.TYPES) - set(reachable)
    assert min(reachable.values()) >= 2
