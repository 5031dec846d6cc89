"""Questions with known answers over a user corpus: from the user's JSONL, or written by a teacher model.

User JSONL, one object per line::

    {"question": "...", "answer": "...", "aliases": ["..."], "gold_ids": ["doc-or-chunk-id", ...], "gold_text": "..."}

``aliases`` and ``id`` are optional; give ``gold_ids`` (document or chunk ids; two or more make a
two-document question whose last id holds the answer) or ``gold_text`` (a passage quoted from the corpus).
A gold document split into several chunks is represented by the chunk that contains the answer, else by
the chunk BM25 ranks highest for the question. Errors name file, line and field.
"""

from __future__ import annotations

import dataclasses
import json
import random
import re
from collections import Counter, defaultdict

from core.data.records import iter_json_objects
from suites.rag.bm25 import tokenize
from suites.rag.corpus import Chunk, CorpusError
from suites.rag.source import QA, Source, find_spans

QUESTION_FIELDS = {"id", "question", "answer", "aliases", "gold_ids", "gold_text"}
N_ALTERNATIVES = 6


def _squash(text: str) -> str:
    return " ".join(text.split())


class ChunkLookup:
    def __init__(self, chunks: list[Chunk]):
        self.chunks = chunks
        self._squashed: list[str] | None = None
        self.by_id = {c.id: c for c in chunks}
        self.by_doc: dict[str, list[Chunk]] = defaultdict(list)
        for c in chunks:
            self.by_doc[c.doc_id].append(c)

    def best_chunk(self, doc_id: str, question: str, answers: list[str]) -> Chunk:
        chunks = self.by_doc[doc_id]
        for chunk in chunks:
            if any(find_spans(chunk.text, a) for a in answers):
                return chunk
        query = Counter(tokenize(question))
        return max(chunks, key=lambda c: (sum(query[t] for t in set(tokenize(c.text))), -chunks.index(c)))

    def chunk_with_text(self, text: str) -> Chunk | None:
        if self._squashed is None:
            self._squashed = [_squash(c.text) for c in self.chunks]
        wanted = _squash(text)
        return next((c for c, s in zip(self.chunks, self._squashed) if wanted in s), None)


def _string_list(value, where: str, name: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise CorpusError(f"{where}: {name}: expected a list of non-empty strings")
    return value


def read_questions(path: str, chunks: list[Chunk]) -> list[dict]:
    """Validated question rows with their gold chunks resolved: {id, question, answer, aliases, gold}."""
    lookup = ChunkLookup(chunks)
    rows = []
    for line_no, obj in iter_json_objects(path, CorpusError, 'a JSON object'):
        where = f"{path}:{line_no}"
        unknown = sorted(set(obj) - QUESTION_FIELDS)
        if unknown:
            raise CorpusError(f"{where}: {unknown[0]}: unknown field (expected {sorted(QUESTION_FIELDS)})")
        for name in ("question", "answer"):
            if not isinstance(obj.get(name), str) or not obj[name].strip():
                raise CorpusError(f"{where}: {name}: {'missing' if name not in obj else 'expected a non-empty string'}")
        aliases = _string_list(obj.get("aliases", []), where, "aliases")
        answers = [obj["answer"], *aliases]
        if "gold_ids" in obj:
            gold = []
            for j, gid in enumerate(_string_list(obj["gold_ids"], where, "gold_ids")):
                if gid in lookup.by_id:
                    gold.append(lookup.by_id[gid])
                elif gid in lookup.by_doc:
                    gold.append(lookup.best_chunk(gid, obj["question"], answers))
                else:
                    raise CorpusError(f"{where}: gold_ids[{j}]: {gid!r} is neither a document nor a chunk id of the corpus")
        elif "gold_text" in obj:
            if not isinstance(obj["gold_text"], str) or not obj["gold_text"].strip():
                raise CorpusError(f"{where}: gold_text: expected a non-empty string")
            chunk = lookup.chunk_with_text(obj["gold_text"])
            if chunk is None:
                raise CorpusError(f"{where}: gold_text: not found in any chunk of the corpus (whitespace-insensitive)")
            gold = [chunk]
        else:
            raise CorpusError(f"{where}: gold_ids: missing (give gold_ids or gold_text)")
        if len({c.id for c in gold}) != len(gold):
            raise CorpusError(f"{where}: gold_ids: two ids resolve to the same chunk {gold[0].id!r}")
        rows.append({"id": str(obj.get("id", f"q{line_no}")), "question": obj["question"].strip(),
                     "answer": obj["answer"].strip(), "aliases": aliases, "gold": gold, "where": where})
    if not rows:
        raise CorpusError(f"{path}: no questions")
    return rows


_QUANTITY = re.compile(r"(\d[\d.,]*)(\s*)([^\d\s.,:].*)")  # "35 minutes", "23 kg", "5 euros"
_TIME = re.compile(r"(\d{1,2}):(\d{2})")  # "06:15"


def _shape(answer: str) -> str:
    """Answers of one shape can stand in for each other: numbers written the same way ("1843" and "1901",
    "12,400" and "98,100"), times of day, quantities in the same unit ("35 minutes" and "30 minutes", not
    "23 kg"), capitalised names, other text."""
    if re.fullmatch(r"[\d.,]+", answer):
        return "number:" + re.sub(r"\d", "9", answer)
    if _TIME.fullmatch(answer):
        return "time"
    quantity = _QUANTITY.fullmatch(answer)
    if quantity:
        return "quantity:" + quantity.group(3).lower()
    return "name" if answer[:1].isupper() else "text"


def _nearby(rng: random.Random, answer: str) -> list[str]:
    """Wrong values close to the answer, written the same way: integers (alone or with a unit) with the same
    number of digits, and times of day."""
    quantity, time = _QUANTITY.fullmatch(answer), _TIME.fullmatch(answer)
    if answer.isdigit() or (quantity and quantity.group(1).isdigit()):
        digits, rest = (answer, "") if answer.isdigit() else (quantity.group(1), quantity.group(2) + quantity.group(3))
        n, out = int(digits), []
        for _ in range(20):
            m = n + rng.choice((-1, 1)) * rng.randint(1, max(9, n // 5))
            if m > 0 and len(str(m)) == len(digits):
                out.append(f"{m}{rest}")
        return out
    if time:
        hour, minute = int(time.group(1)), int(time.group(2))
        width = len(time.group(1))
        return [f"{(hour + rng.randint(-3, 3)) % 24:0{width}d}:{(minute + 5 * rng.randint(1, 11)) % 60:02d}"
                for _ in range(10)]
    return []


def _alternatives(rng: random.Random, row: dict, pool: dict[str, list[str]]) -> tuple[str, ...]:
    """Wrong values of the answer's shape: other answers of that shape, and nearby numbers (see `_nearby`). None
    may occur in the gold passage or contain (or be contained in) the answer."""
    answer, text = row["answer"], row["gold"][-1].text.lower()
    candidates = [a for a in pool[_shape(answer)] if a != answer] + _nearby(rng, answer)
    rng.shuffle(candidates)
    out: list[str] = []
    for value in candidates:
        if value in out or value in answer or answer in value or find_spans(text, value.lower()):
            continue
        out.append(value)
        if len(out) == N_ALTERNATIVES:
            break
    return tuple(out)


def rows_to_qas(rows: list[dict], chunks: list[Chunk], seed: int, origin: str) -> tuple[list[QA], list[QA]]:
    """(one-document questions, two-document questions)."""
    lookup = ChunkLookup(chunks)
    rng = random.Random(f"rag-user-qa:{seed}")
    pool: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        pool[_shape(row["answer"])].append(row["answer"])
    single, multi = [], []
    for row in rows:
        gold = row["gold"]
        related = tuple(c.id for doc in dict.fromkeys(g.doc_id for g in gold) for c in lookup.by_doc[doc])
        spans = find_spans(gold[-1].text, row["answer"])
        qa = QA(id=row["id"], lang="", questions=(row["question"],), answer=row["answer"],
                gold_ids=tuple(g.id for g in gold), aliases=tuple(row["aliases"]), related_ids=related,
                value_spans=spans, alternatives=_alternatives(rng, row, pool) if spans else (), origin=origin)
        (multi if len(gold) > 1 else single).append(qa)
    return single, multi


_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN_WORD = re.compile(r"[A-Za-z]+")


def text_language(text: str) -> str:
    """"zh" when the text has more CJK characters than Latin words, else "en" (a Chinese character counts about
    as much as a word: "Python 的作者是谁？" is zh, "Who founded 岚溪镇 in 1843?" is en)."""
    return "zh" if len(_CJK.findall(text)) > len(_LATIN_WORD.findall(text)) else "en"


def other_language_questions(qas: list[QA], lang: str) -> int:
    """How many questions are written in another language than `lang` (judged by their first phrasing)."""
    return sum(text_language(qa.questions[0]) != lang for qa in qas)


# --- teacher-written questions ---------------------------------------------------------------------------

TEACHER_PROMPT = {
    "en": ("You write reading-comprehension questions.",
           "Passage:\n{title}\n{text}\n\nWrite one question that this passage answers, and its short answer copied "
           'word for word from the passage. Reply with JSON only: {{"question": "...", "answer": "..."}}'),
    "zh": ("你负责出阅读理解题。",
           "段落：\n{title}\n{text}\n\n请根据这段文字写一个问题，并给出从原文中逐字摘录的简短答案。"
           '只回复 JSON：{{"question": "...", "answer": "..."}}'),
}
_JSON_OBJECT = re.compile(r"\{.*?\}", re.S)


def parse_teacher_reply(reply: str, chunk: Chunk) -> tuple[dict | None, str]:
    """(row, "ok") or (None, reason): the reply must hold a JSON object whose answer occurs in the chunk."""
    for match in _JSON_OBJECT.finditer(reply):
        try:
            obj = json.loads(match.group())
        except json.JSONDecodeError:
            continue
        if not isinstance(obj, dict):
            continue
        question, answer = obj.get("question"), obj.get("answer")
        if not isinstance(question, str) or not isinstance(answer, str) or not question.strip() or not answer.strip():
            return None, "missing_question_or_answer"
        answer = answer.strip()
        if not find_spans(chunk.text, answer):
            return None, "answer_not_in_passage"
        if _squash(answer) == _squash(chunk.text):
            return None, "answer_is_whole_passage"
        return {"question": question.strip(), "answer": answer, "aliases": [], "gold": [chunk]}, "ok"
    return None, "no_json_object"


def teacher_rows(teacher, chunks: list[Chunk], n: int, seed: int, lang: str = "en",
                 min_chars: int = 80) -> tuple[list[dict], Counter]:
    """Ask the teacher for one question per sampled chunk. Returns usable rows and counts by outcome."""
    eligible = [c for c in chunks if len(c.text.strip()) >= min_chars]
    if not eligible:
        raise CorpusError(f"no chunk has {min_chars}+ characters to write a question from")
    picked = random.Random(f"rag-teacher:{seed}").sample(eligible, min(n, len(eligible)))
    system, user = TEACHER_PROMPT[lang]
    conversations = [[{"role": "system", "content": system},
                      {"role": "user", "content": user.format(title=c.title, text=c.text.strip())}] for c in picked]
    replies = teacher.complete(conversations, max_tokens=256, temperature=0.0, seed=seed)
    rows, outcomes, seen = [], Counter(), set()
    for chunk, reply in zip(picked, replies):
        row, outcome = parse_teacher_reply(reply, chunk)
        if row is not None and row["question"] in seen:
            row, outcome = None, "duplicate_question"
        outcomes[outcome] += 1
        if row is not None:
            seen.add(row["question"])
            row["id"] = f"teacher:{chunk.id}"
            rows.append(row)
    return rows, outcomes


def user_source(index, questions_path: str | None = None, teacher=None, teacher_questions: int = 0,
                seed: int = 0, languages: tuple[str, ...] = ("en",), retrieval: str = "bm25") -> tuple[Source, dict]:
    """A Source over a built RagIndex with user and/or teacher questions; also returns a summary of what was used."""
    chunks = index.chunks
    rows, summary = [], {}
    if questions_path:
        user_rows = read_questions(questions_path, chunks)
        rows += user_rows
        summary["user_questions"] = len(user_rows)
    if teacher is not None and teacher_questions > 0:
        written, outcomes = teacher_rows(teacher, chunks, teacher_questions, seed, languages[0])
        summary["teacher_questions"] = dict(sorted(outcomes.items()))
        if not written:
            raise CorpusError(f"the teacher wrote no usable question out of {sum(outcomes.values())} "
                              f"(outcomes: {dict(outcomes)}); try a stronger teacher model")
        rows += written
    if not rows:
        raise CorpusError("a user corpus needs questions: --questions FILE and/or --teacher SPEC --teacher-questions N")
    single, multi = rows_to_qas(rows, chunks, seed, origin="user")
    teacher_ids = {r["id"] for r in rows if r["id"].startswith("teacher:")}
    single = [dataclasses.replace(qa, origin="teacher") if qa.id in teacher_ids else qa for qa in single]
    summary.update({"single_doc": len(single), "multi_doc": len(multi),
                    "changeable": sum(1 for qa in single if qa.value_spans and qa.alternatives)})
    source = Source(name=f"corpus({len(chunks)} chunks)", passages=chunks,
                    single={lang: single for lang in languages}, multi={lang: multi for lang in languages},
                    retriever=index, retrieval_mode=retrieval)
    return source, summary
