"""One RAG training sample per scenario. Each builder takes its own RNG, so a sample depends only on
(seed, index); `meta` records every decision (documents shown, gold ids and positions, what was altered).

  grounded       gold passage among hard negatives (BM25 hits for the question), at a uniform random slot
  multi_doc      two gold passages (first hop names the entity, second holds the answer) among negatives
  empty          nothing retrieved: the answer says so and does not improvise
  irrelevant     only passages unrelated to the question: same
  conflicting    the gold passage and a second source that states another value: the answer names both
  counterfactual the gold passage's fact is replaced by a wrong value: the answer follows the document
  route          retrieve-or-chat classification of a user message
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from core.synth.generator import Rejected
from suites.rag import routing
from suites.rag import templates as T
from suites.rag.corpus import Chunk
from suites.rag.source import QA, Source, copy_with_value, find_spans, replace_spans

SCENARIOS = ("grounded", "multi_doc", "empty", "irrelevant", "conflicting", "counterfactual", "route")
DEFAULT_SHARES = {"grounded": 0.25, "multi_doc": 0.15, "empty": 0.1, "irrelevant": 0.1, "conflicting": 0.15,
                  "counterfactual": 0.15, "route": 0.1}
ANSWERED = ("grounded", "multi_doc", "counterfactual")  # scenarios whose reference gives one answer value


@dataclass
class ScenarioConfig:
    min_docs: int = 3
    max_docs: int = 5
    negative_pool: int = 12  # hard negatives are drawn from this many top retrieval hits
    route_retrieve_share: float = 0.5
    route_general_share: float = 0.5  # of retrieve messages: built-in general-knowledge questions, not the source's
    route_general_split: str = "all"  # which general questions: all, or the train / eval share (routing.py)

    def __post_init__(self):
        if not 1 <= self.min_docs <= self.max_docs:
            raise ValueError(f"--docs: need 1 <= min <= max, got {self.min_docs}-{self.max_docs}")
        if self.negative_pool < 1:
            raise ValueError("--negative-pool must be >= 1")
        if not (0 <= self.route_retrieve_share <= 1 and 0 <= self.route_general_share <= 1):
            raise ValueError("route_retrieve_share and route_general_share must be in [0, 1]")
        if self.route_general_split not in routing.SPLITS:
            raise ValueError(f"route_general_split must be one of {routing.SPLITS}, got {self.route_general_split!r}")


def _contains_any(text: str, values: list[str]) -> bool:
    lowered = text.lower()
    return any(find_spans(lowered, v.lower()) for v in values if v)


class SampleBuilder:
    def __init__(self, source: Source, config: ScenarioConfig, lang: str):
        self.source, self.config, self.lang = source, config, lang
        self.single = source.single.get(lang, [])
        self.multi = source.multi.get(lang, [])
        self.changeable = [qa for qa in self.single if qa.value_spans and qa.alternatives]
        self.invented = sorted({name for qa in self.single + self.multi for name in qa.mentions})
        self.general = routing.general_split(lang, config.route_general_split)
        self.random_fill = 0  # negatives drawn at random because retrieval found too few, all samples
        self.sample_random = 0  # the same, for the sample being built

    # --- documents -------------------------------------------------------------------------------------
    def negatives(self, rng: random.Random, qa: QA, question: str, count: int, avoid_values: list[str],
                  strict: bool = False) -> list[Chunk]:
        """`count` passages that do not hold the answer (nor any value in `avoid_values`), drawn from the top
        retrieval hits; `strict` also drops passages that mention the question's subject. When retrieval finds
        too few (a small corpus), random eligible passages fill in, counted in `self.random_fill`."""
        if count <= 0:
            return []
        excluded = qa.excluded_ids

        def eligible(passage: Chunk) -> bool:
            text = f"{passage.title}\n{passage.text}"
            return not (passage.id in excluded or passage.doc_id in excluded or _contains_any(text, avoid_values)
                        or (strict and _contains_any(text, list(qa.mentions))))

        depth = self.config.negative_pool + count + len(excluded) + 8
        candidates = [p for p in self.source.search(question, depth) if eligible(p)]
        pool = candidates[: max(self.config.negative_pool, count)]
        if len(pool) >= count:
            return rng.sample(pool, count)
        chosen = {p.id for p in pool}
        passages = self.source.passages
        for _ in range(50 * count):
            passage = passages[rng.randrange(len(passages))]
            if passage.id not in chosen and eligible(passage):
                pool.append(passage)
                chosen.add(passage.id)
                self.random_fill += 1
                self.sample_random += 1
                if len(pool) == count:
                    break
        if len(pool) < count:
            raise Rejected("too_few_negatives")
        rng.shuffle(pool)
        return pool

    def prompt(self, rng: random.Random, docs: list[Chunk], question: str) -> tuple[list[dict], dict]:
        system_id = rng.randrange(len(T.SYSTEM[self.lang]))
        layout_id = rng.randrange(len(T.LAYOUTS[self.lang]))
        frame, doc_format, sep, nothing = T.LAYOUTS[self.lang][layout_id]
        shown = sep.join(doc_format.format(n=n, title=d.title.strip(), text=d.text.strip())
                         for n, d in enumerate(docs, start=1)) if docs else nothing
        messages = [{"role": "system", "content": T.SYSTEM[self.lang][system_id]},
                    {"role": "user", "content": frame.format(docs=shown, question=question)}]
        return messages, {"system": system_id, "layout": layout_id}

    def statement(self, qa: QA, value: str, variant: int) -> str:
        return (qa.statement or T.GENERIC_STATEMENTS[self.lang][variant]).format(value=value)

    def statement_variant(self, rng: random.Random, qa: QA, templates: dict) -> int:
        """Which generic statement a question without its own (a user's) uses; drawn only then, and recorded."""
        if qa.statement:
            return -1
        templates["clause"] = rng.randrange(len(T.GENERIC_STATEMENTS[self.lang]))
        return templates["clause"]

    def topic(self, qa: QA, question: str) -> str:
        return qa.topic or T.GENERIC_TOPIC[self.lang].format(question=question)

    # --- scenarios -------------------------------------------------------------------------------------
    def build(self, scenario: str, rng: random.Random) -> tuple[list[dict], str, dict]:
        """(prompt messages, reference answer, meta) for one sample."""
        if scenario == "route":
            return self.route(rng)
        qa = rng.choice(self.multi if scenario == "multi_doc" else
                        self.changeable if scenario in ("conflicting", "counterfactual") else self.single)
        question = rng.choice(qa.questions)
        n_docs = rng.randint(self.config.min_docs, self.config.max_docs)
        meta = {"qa_id": qa.id, "origin": qa.origin, "question": question, "answer": qa.answer,
                "aliases": list(qa.aliases), "gold_ids": list(qa.gold_ids)}
        self.sample_random = 0
        docs, answer, extra = getattr(self, scenario)(rng, qa, question, n_docs, meta)
        messages, template_ids = self.prompt(rng, docs, question)
        meta.update(extra)
        if self.sample_random:
            meta["random_negatives"] = self.sample_random
        meta["doc_ids"] = [d.id for d in docs]
        meta["num_docs"] = len(docs)
        meta["templates"] = {**template_ids, **meta.get("templates", {})}
        return messages, answer, meta

    def grounded(self, rng, qa, question, n_docs, meta):
        gold = self.source.by_id[qa.gold_ids[0]]
        docs = self.negatives(rng, qa, question, n_docs - 1, [qa.answer, *qa.aliases])
        slot = rng.randrange(n_docs)
        docs.insert(slot, gold)
        answer, templates = self.cite_answer(rng, qa, qa.answer, slot + 1)
        return docs, answer, {"gold_positions": [slot], "templates": templates}

    def counterfactual(self, rng, qa, question, n_docs, meta):
        value = rng.choice(qa.alternatives)
        gold = self.source.by_id[qa.gold_ids[0]]
        altered = Chunk(id=gold.id, doc_id=gold.doc_id, title=gold.title,
                        text=replace_spans(gold.text, qa.value_spans, qa.answer, value))
        docs = self.negatives(rng, qa, question, n_docs - 1, [qa.answer, *qa.aliases, value])
        slot = rng.randrange(n_docs)
        docs.insert(slot, altered)
        answer, templates = self.cite_answer(rng, qa, value, slot + 1)
        return docs, answer, {
            "answer": value, "aliases": [], "gold_positions": [slot], "templates": templates,
            "altered": {"doc_id": gold.id, "position": slot, "original": qa.answer, "replacement": value,
                        "spans": list(qa.value_spans)}}

    def cite_answer(self, rng, qa: QA, value: str, number: int) -> tuple[str, dict]:
        templates = {"answer": rng.randrange(len(T.GROUNDED[self.lang]))}
        clause = self.statement(qa, value, self.statement_variant(rng, qa, templates))
        return T.fill(T.GROUNDED[self.lang][templates["answer"]], c=str(number), clause=clause, value=value), templates

    def multi_doc(self, rng, qa, question, n_docs, meta):
        first, second = (self.source.by_id[i] for i in qa.gold_ids)
        n_docs = max(n_docs, 3)
        docs = self.negatives(rng, qa, question, n_docs - 2, [qa.answer, *qa.aliases])
        slots = rng.sample(range(n_docs), 2)
        for slot, passage in sorted(zip(slots, (first, second))):
            docs.insert(slot, passage)
        phrasings = (T.MULTI_DOC if qa.bridge else T.MULTI_DOC_GENERIC)[self.lang]
        k = rng.randrange(len(phrasings))
        templates = {"answer": k} if qa.bridge else {"answer": k, "answer_set": "multi_doc_generic"}
        clause = self.statement(qa, qa.answer, self.statement_variant(rng, qa, templates)) if qa.bridge else ""
        answer = T.fill(phrasings[k], c1=str(slots[0] + 1), c2=str(slots[1] + 1), bridge=qa.bridge,
                        clause=clause, value=qa.answer)
        return docs, answer, {"gold_positions": slots, "templates": templates}

    def empty(self, rng, qa, question, n_docs, meta):
        k = rng.randrange(len(T.EMPTY[self.lang]))
        answer = T.fill(T.EMPTY[self.lang][k], topic=self.topic(qa, question))
        return [], answer, {"gold_positions": [], "templates": {"answer": k}}

    def irrelevant(self, rng, qa, question, n_docs, meta):
        docs = self.negatives(rng, qa, question, n_docs, [qa.answer, *qa.aliases], strict=True)
        k = rng.randrange(len(T.IRRELEVANT[self.lang]))
        answer = T.fill(T.IRRELEVANT[self.lang][k], topic=self.topic(qa, question),
                        refs=T.join_refs(list(range(1, len(docs) + 1)), self.lang),
                        titles=T.join_titles([d.title.strip() for d in docs], self.lang))
        return docs, answer, {"gold_positions": [], "templates": {"answer": k}}

    def conflicting(self, rng, qa, question, n_docs, meta):
        value = rng.choice(qa.alternatives)
        gold = self.source.by_id[qa.gold_ids[0]]
        if self.source.second_source is not None:
            other = self.source.second_source(qa, value, rng)
        else:
            title = rng.choice(T.SECOND_SOURCE_TITLES[self.lang]).format(title=gold.title.strip())
            other = copy_with_value(gold, qa, value, f"{gold.id}~alt", title)
        n_docs = max(n_docs, 3)
        docs = self.negatives(rng, qa, question, n_docs - 2, [qa.answer, *qa.aliases, value])
        slots = rng.sample(range(n_docs), 2)
        for slot, passage in sorted(zip(slots, (gold, other))):
            docs.insert(slot, passage)
        pairs = [(slots[0] + 1, qa.answer, gold), (slots[1] + 1, value, other)]
        if rng.random() < 0.5:  # which source the answer names first is random, not tied to position or truth
            pairs.reverse()
        (a, va, da), (b, vb, db) = pairs
        templates = {"answer": rng.randrange(len(T.CONFLICTING[self.lang]))}
        variant = self.statement_variant(rng, qa, templates)
        answer = T.fill(T.CONFLICTING[self.lang][templates["answer"]], a=str(a), b=str(b), va=va, vb=vb,
                        clause_a=self.statement(qa, va, variant), clause_b=self.statement(qa, vb, variant),
                        ta=da.title.strip(), tb=db.title.strip())
        return docs, answer, {
            "gold_positions": [slots[0]], "templates": templates,
            "conflict": {"values": [qa.answer, value], "doc_ids": [gold.id, other.id], "positions": slots}}

    def route(self, rng: random.Random) -> tuple[list[dict], str, dict]:
        return routing.route_sample(rng, self.lang, self.single + self.multi, self.invented, self.general,
                                    self.config.route_retrieve_share, self.config.route_general_share)
