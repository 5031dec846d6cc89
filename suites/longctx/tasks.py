"""The long-context tasks. Each plans what to hide (inserts at depths), how to ask, and how the answer
follows from where the inserts landed; `SampleFactory` splices the plan into a haystack at an exact token
length and writes the record.

task_type                 what the model must do
longctx/passkey           recall a pass key hidden in filler
longctx/niah_single       recall the value of one key
longctx/niah_multikey     the same, with distractor needles for other keys
longctx/niah_multivalue   recall every value given for one key
longctx/niah_multiquery   recall the values of several keys
longctx/variable_tracking follow chains of assignments (VAR B = VAR A) back to a value
longctx/counting          count how often a person is mentioned
longctx/chapters          list the chapters in which a person appears
longctx/doc_qa            answer a question about a user's document hidden among filler
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable
from dataclasses import dataclass, field

from core.synth.generator import Rejected
from suites.longctx import templates as T
from suites.longctx.haystack import Haystack, build_haystack
from suites.longctx.qa import QAData, QAError, count_mentions, document_insert
from suites.longctx.splice import Insert, Spliced, splice

TASKS = ("passkey", "niah_single", "niah_multikey", "niah_multivalue", "niah_multiquery", "variable_tracking",
         "counting", "chapters", "doc_qa")
SYNTHETIC_TASKS = TASKS[:-1]


@dataclass
class Plan:
    instruction: str
    question: str
    inserts: list[Insert]
    answer: Callable[[Spliced], tuple[str, list[str]]]  # -> (answer text, expected values)
    match: str  # how the scorer compares values: first | set | text
    in_context: dict[str, int] = field(default_factory=dict)  # exact counts: as often as the inserts state it
    answer_mentions: dict[str, int] = field(default_factory=dict)  # doc_qa: the answer as often as the document has it
    focus: int = 0  # the insert whose depth is meta.depth (its requested depth is uniform or fixed)
    meta: dict = field(default_factory=dict)


def _sep(lang: str) -> str:
    return " " if lang == "en" else ""


def _number(rng, digits: int) -> str:
    return str(rng.randint(10 ** (digits - 1), 10**digits - 1))


def _distinct(rng, make: Callable[[], str], k: int) -> list[str]:
    out: list[str] = []
    while len(out) < k:
        v = make()
        if v not in out and not any(v in o or o in v for o in out):
            out.append(v)
    return out


def _key(rng, lang: str) -> str:
    joiner = "-" if lang == "en" else ""
    adjective = rng.choice(T.ADJECTIVES[lang])
    return f"{adjective}{joiner}{rng.choice(T.NOUNS[lang])}" if lang == "en" else f"{adjective}{rng.choice(T.NOUNS[lang])}"


def _person(rng, lang: str) -> str:
    if lang == "en":
        return f"{rng.choice(T.FIRST_NAMES)} {rng.choice(T.SURNAMES)}"
    return rng.choice(T.ZH_SURNAMES) + rng.choice(T.ZH_GIVEN)


def _join(values: list[str], lang: str) -> str:
    return T.LIST_JOIN[lang].join(values)


def _fixed(answer: str, values: list[str]) -> Callable[[Spliced], tuple[str, list[str]]]:
    return lambda spliced: (answer, values)


# --- task planners: (rng, lang, depth, options) -> Plan --------------------------------------------------------


def plan_passkey(rng, lang, depth, opts) -> Plan:
    t = (T.PASSKEY_CLASSIC if opts.phrasing == "classic" else T.PASSKEY)[lang]
    words = opts.passkey_kind == "word"
    value = rng.choice(opts.word_values[lang]) if words else _number(rng, opts.passkey_digits)
    needle = Insert(_sep(lang) + rng.choice(t["needle"]).format(value=value), depth)
    answer = rng.choice(t["answer"]).format(value=value)
    return Plan(rng.choice(t["instruction"]), rng.choice(t["question"]), [needle], _fixed(answer, [value]),
                "exact" if words else "first", {value: needle.text.count(value)})


def plan_niah_single(rng, lang, depth, opts, distractors: int = 0) -> Plan:
    t = T.NIAH[lang]
    keys = _distinct(rng, lambda: _key(rng, lang), 1 + distractors)
    values = _distinct(rng, lambda: _number(rng, opts.value_digits), 1 + distractors)
    inserts = [Insert(_sep(lang) + rng.choice(t["needle"]).format(key=k, value=v), depth if i == 0 else rng.random())
               for i, (k, v) in enumerate(zip(keys, values))]
    answer = rng.choice(t["answer_single"]).format(key=keys[0], value=values[0])
    return Plan(rng.choice(t["instruction"]), rng.choice(t["question_single"]).format(key=keys[0]), inserts,
                _fixed(answer, [values[0]]), "first", dict.fromkeys(values, 1), meta={"key": keys[0]})


def plan_niah_multikey(rng, lang, depth, opts) -> Plan:
    return plan_niah_single(rng, lang, depth, opts, distractors=rng.randint(2, 4))


def plan_niah_multivalue(rng, lang, depth, opts) -> Plan:
    t = T.NIAH[lang]
    key = _key(rng, lang)
    values = _distinct(rng, lambda: _number(rng, opts.value_digits), rng.randint(2, 4))
    inserts = [Insert(_sep(lang) + rng.choice(t["needle"]).format(key=key, value=v), depth if i == 0 else rng.random())
               for i, v in enumerate(values)]
    template = rng.choice(t["answer_values"])

    def answer(spliced: Spliced) -> tuple[str, list[str]]:
        ordered = [values[i] for i in spliced.arrangement]  # in order of appearance
        return template.format(key=key, values=_join(ordered, lang)), ordered

    return Plan(rng.choice(t["instruction"]), rng.choice(t["question_values"]).format(key=key), inserts, answer, "set",
                dict.fromkeys(values, 1), meta={"key": key})


def plan_niah_multiquery(rng, lang, depth, opts) -> Plan:
    t = T.NIAH[lang]
    k = rng.randint(2, 4)
    keys = _distinct(rng, lambda: _key(rng, lang), k)
    values = _distinct(rng, lambda: _number(rng, opts.value_digits), k)
    inserts = [Insert(_sep(lang) + rng.choice(t["needle"]).format(key=a, value=v), depth if i == 0 else rng.random())
               for i, (a, v) in enumerate(zip(keys, values))]
    asked = list(range(k))
    rng.shuffle(asked)
    pairs = _join([T.PAIR[lang].format(key=keys[i], value=values[i]) for i in asked], lang)
    answer = rng.choice(t["answer_queries"]).format(pairs=pairs)
    question = rng.choice(t["question_queries"]).format(keys=_join([keys[i] for i in asked], lang))
    return Plan(rng.choice(t["instruction"]), question, inserts, _fixed(answer, [values[i] for i in asked]), "set",
                dict.fromkeys(values, 1), meta={"keys": [keys[i] for i in asked]})


def plan_variable_tracking(rng, lang, depth, opts) -> Plan:
    t = T.VARIABLES[lang]
    hops, other_hops = rng.randint(2, 5), rng.randint(2, 3)
    names = _distinct(rng, lambda: "".join(rng.choice(string.ascii_uppercase) for _ in range(5)), hops + other_hops)
    value, other = _distinct(rng, lambda: _number(rng, opts.passkey_digits), 2)
    inserts, counts, focus = [], {value: 1, other: 1}, 0
    for chain, chain_value in ((names[:hops], value), (names[hops:], other)):
        depths = [depth if chain_value == value and i == 0 else rng.random() for i in range(len(chain))]
        drawn_first = depths[0]  # one assignment picked at random: its depth is uniform, unlike the sorted ones
        depths.sort()  # assignments appear in chain order
        if chain_value == value:
            focus = depths.index(drawn_first)
        for i, name in enumerate(chain):
            text = (rng.choice(t["first"]).format(name=name, value=chain_value) if i == 0
                    else rng.choice(t["link"]).format(name=name, source=chain[i - 1]))
            inserts.append(Insert(_sep(lang) + text, depths[i], order=i))
            counts[name] = 1 if i == len(chain) - 1 else 2
    answer = rng.choice(t["answer"]).format(value=value, names=_join(names[:hops], lang))
    return Plan(rng.choice(t["instruction"]), rng.choice(t["question"]).format(value=value), inserts,
                _fixed(answer, names[:hops]), "set", counts, focus=focus, meta={"value": value})


def plan_counting(rng, lang, depth, opts) -> Plan:
    t = T.COUNTING[lang]
    name, count = _person(rng, lang), rng.randint(1, 9)
    inserts = [Insert(_sep(lang) + rng.choice(t["mention"]).format(name=name), depth if i == 0 else rng.random())
               for i in range(count)]
    answer = rng.choice(t["answer"]).format(name=name, count=count)
    return Plan(rng.choice(t["instruction"]), rng.choice(t["question"]).format(name=name), inserts,
                _fixed(answer, [str(count)]), "first", {name: count}, meta={"name": name})


def plan_chapters(rng, lang, depth, opts) -> Plan:
    t = T.CHAPTERS[lang]
    name, n_chapters = _person(rng, lang), rng.randint(3, 8)
    headings = [Insert("\n\n" + rng.choice(t["heading"]).format(number=c + 1) + "\n", c / n_chapters, order=-1)
                for c in range(n_chapters)]
    focus_depth = rng.random() if depth is None else depth
    chosen = {min(int(focus_depth * n_chapters), n_chapters - 1)}
    chosen.update(rng.sample(range(n_chapters), rng.randint(0, n_chapters - 1)))
    depths = [focus_depth] + [(c + rng.random()) / n_chapters for c in sorted(chosen) for _ in range(rng.randint(1, 2))]
    mentions = [Insert(_sep(lang) + rng.choice(t["mention"]).format(name=name), d) for d in depths]
    template = rng.choice(t["answer"])

    def answer(spliced: Spliced) -> tuple[str, list[str]]:
        chapter, found = 0, []
        for i in spliced.arrangement:  # a mention belongs to the last heading before it
            if i < n_chapters:
                chapter = i + 1
            elif chapter and chapter not in found:
                found.append(chapter)
        values = [str(c) for c in sorted(found)]
        return template.format(name=name, chapters=_join(values, lang)), values

    return Plan(rng.choice(t["instruction"]), rng.choice(t["question"]).format(name=name), headings + mentions,
                answer, "set", {name: len(mentions)}, focus=n_chapters, meta={"name": name, "chapters": n_chapters})


def plan_doc_qa(rng, lang, depth, opts, rows: list[dict] | None = None) -> Plan:
    """`rows`: the QA rows whose documents fit the sample (default all of opts.qa_rows)."""
    rows = opts.qa_rows if rows is None else rows
    if not rows:
        raise QAError("task doc_qa needs QA data: --qa-data FILE (JSONL of document, question, answer)")
    row = rows[rng.randrange(len(rows))]
    t = T.DOC_QA[lang]
    document = document_insert(rng.choice(t["document"]), row)
    return Plan(rng.choice(t["instruction"]), rng.choice(t["question"]).format(question=row["question"]),
                [Insert(document, depth)], _fixed(row["answer"], [row["answer"]]), "text",
                {row["document"].strip(): 1}, answer_mentions={row["answer"]: count_mentions(document, row["answer"])},
                meta={"source": row["source"]})


PLANNERS = {name: globals()[f"plan_{name}"] for name in TASKS}


# --- sample factory -------------------------------------------------------------------------------------------


@dataclass
class TaskOptions:
    passkey_digits: int = 5
    value_digits: int = 7
    system_share: float = 0.25  # share of samples with a system prompt
    qa_rows: list[dict] = field(default_factory=list)
    phrasing: str = "varied"  # varied: draw every template; classic: the classic passkey prompt (see templates)
    passkey_kind: str = "digits"  # digits: a passkey_digits number; word: one token of the tokenizer (see below)
    word_values: dict[str, list[str]] = field(default_factory=dict)  # filled by SampleFactory for "word"


class SampleFactory:
    """Builds records of exact token lengths for one tokenizer; haystacks are tokenised once per language."""

    def __init__(self, tokenizer, haystack: str | list[str] = "noise", verify: bool = True,
                 options: TaskOptions | None = None):
        self.tokenizer, self.haystack_spec, self.verify = tokenizer, haystack, verify
        self.options = options or TaskOptions()
        self._haystacks: dict[str, Haystack] = {}
        self.qa = QAData(self.options.qa_rows, tokenizer, self.options.system_share)

    def haystack(self, lang: str) -> Haystack:
        if lang not in self._haystacks:
            self._haystacks[lang] = build_haystack(self.haystack_spec, lang, self.tokenizer)
        return self._haystacks[lang]

    def built_haystacks(self) -> dict[str, Haystack]:
        """The haystacks tokenised so far, by language."""
        return dict(self._haystacks)

    def word_values(self, lang: str, wanted: int = 50) -> list[str]:
        """Passkey words that are one token of this tokenizer, in no passkey template, and absent from the
        haystack (or, when fewer than `wanted` are, the rarest in it: a window that shows one is redrawn). A
        one-token key is copied by a single attention head; a key of several tokens needs induction heads,
        which a model trained from scratch forms far more slowly (measured on the embedded model: 5-digit keys
        stay at chance after 2,000 steps of a pure copy task, one-token keys are learned in about 300)."""
        if lang not in self.options.word_values:
            templates = " ".join(str(v) for table in (T.PASSKEY, T.PASSKEY_CLASSIC) for v in table[lang].values())
            text = self.haystack(lang).text
            words = set()
            for token in self.tokenizer.get_vocab():
                word = self.tokenizer.convert_tokens_to_string([token]).strip()
                shape = re.fullmatch(r"[a-z]{4,}", word) if lang == "en" else re.fullmatch(r"[\u4e00-\u9fff]{2,}", word)
                if (shape and word not in templates
                        and len(self.tokenizer(_sep(lang) + word, add_special_tokens=False)["input_ids"]) == 1):
                    words.add(word)
            words = sorted(words)
            # drop fragments that are the start of a longer candidate ("alwa" of "always")
            words = [w for i, w in enumerate(words) if not (i + 1 < len(words) and words[i + 1].startswith(w))]
            counts = {w: text.count(w) for w in words}
            absent = [w for w in words if not counts[w]]
            words = absent if len(absent) >= wanted else sorted(words, key=lambda w: (counts[w], w))[:wanted]
            if len(words) < 20:
                raise ValueError(f"only {len(words)} one-token {lang} passkey words for this tokenizer; "
                                 "use passkey_kind='digits'")
            self.options.word_values[lang] = sorted(words)
        return self.options.word_values[lang]

    def build(self, rng, task: str, length: int, lang: str, depth: float | None = None) -> dict:
        """One record; raises core.synth.generator.Rejected (counted and retried by the caller) when the draw is unusable.
        `depth` fixes the requested depth of the focus needle (a grid); by default it is uniform."""
        if task not in PLANNERS:
            raise ValueError(f"unknown task {task!r}; choose from {', '.join(TASKS)}")
        if task == "passkey" and self.options.passkey_kind == "word":
            self.word_values(lang)
        extra = {"rows": self.qa.rows_for(length, lang, self.haystack(lang))} if task == "doc_qa" and self.qa.rows else {}
        plan = PLANNERS[task](rng, lang, depth if depth is not None else rng.random(), self.options, **extra)
        system = rng.choice(T.SYSTEM[lang]) if rng.random() < self.options.system_share else None

        def render(context: str) -> list[dict]:
            messages = [{"role": "system", "content": system}] if system else []
            return messages + [{"role": "user", "content": f"{plan.instruction}\n\n{context}\n\n{plan.question}"}]

        spliced = splice(self.haystack(lang), self.tokenizer, length, plan.inserts, render, rng, self.verify)
        for text, expected in plan.in_context.items():
            if spliced.context.count(text) != expected:
                raise Rejected("accidental_duplicate_in_haystack")
        for phrase, expected in plan.answer_mentions.items():
            if count_mentions(spliced.context, phrase) != expected:
                raise Rejected("answer_in_filler")
        answer, values = plan.answer(spliced)
        meta = {
            "suite": "longctx", "task": task, "lang": lang, "length": length, "tokens": spliced.tokens,
            "depth": round(spliced.depths[plan.focus], 6), "depths": [round(d, 6) for d in spliced.depths],
            "answers": values, "match": plan.match, "haystack": self.haystack(lang).name,
            "haystack_wraps": spliced.wraps, "length_verified": spliced.verified, **plan.meta,
        }
        if depth is not None:
            meta["requested_depth"] = depth
        return {"messages": spliced.messages + [{"role": "assistant", "content": answer}],
                "task_type": f"longctx/{task}", "meta": meta}
