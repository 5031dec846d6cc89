"""python -m suites.rag.eval --model PATH|tiny --data eval.jsonl [--out results.json] [--responses replies.jsonl]

Scores replies per scenario, from what the generator recorded in `meta`:

  grounded, multi_doc   accuracy: the answer (or an alias) is in the reply, and it is not a refusal;
                        citation: every gold document's number is cited
  empty, irrelevant     rejection: the reply declines; hallucination: it states the answer anyway;
                        correct = rejection without hallucination
  counterfactual        adherence: the document's (altered) value is given and the true one is not
  conflicting           acknowledged: both values are named; cites_both: both sources are cited
  route                 route_accuracy: the first word is the right label (retrieve / chat)

Matching ignores case, full-width forms and thousands separators; a number only matches a whole number.
"""

from __future__ import annotations

import re
import unicodedata

from suites.rag.source import find_spans

REFUSAL_EN = re.compile(
    r"\b(?:can ?not|can't|cannot|couldn't|could not|don't know|do not know|unable to|not able to|"
    r"no (?:information|documents?|relevant|reliable|results?)|nothing (?:was )?(?:retrieved|found|about|on)|"
    r"(?:don't|do not|doesn't|does not) (?:contain|mention|cover|say)|not (?:mentioned|found|covered)|"
    r"is not in|isn't in|not in (?:the|any|them)|won't guess|has nothing|returned nothing|came back empty|"
    r"unrelated to|say nothing|says nothing|none of (?:them|the documents))\b")
REFUSAL_ZH = re.compile(r"没有|无法|不知道|找不到|没找到|不能|未能|未找到|不包含|无关|不会猜测|为空")
_CITATION = re.compile(r"\[(\d+)\]")
_WORD = re.compile(r"[a-z]+")


def normalize(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold().replace("\u2019", "'")
    text = re.sub(r"(?<=\d),(?=\d{3}(?!\d))", "", text)
    return " ".join(text.split())


def mentions(reply: str, value: str) -> bool:
    """`value` occurs in the reply outside citation markers ("[5]" does not state the value 5)."""
    value = normalize(value)
    text = _CITATION.sub(" ", normalize(reply))
    return bool(value) and bool(find_spans(text, value))


def mentions_any(reply: str, values: list[str]) -> bool:
    return any(mentions(reply, v) for v in values if v)


def is_refusal(reply: str) -> bool:
    text = normalize(reply)
    return bool(REFUSAL_EN.search(text) or REFUSAL_ZH.search(text))


def cited(reply: str) -> set[int]:
    return {int(n) for n in _CITATION.findall(unicodedata.normalize("NFKC", reply))}


def route_label(reply: str) -> str | None:
    words = _WORD.findall(normalize(reply))
    return words[0] if words else None


def score_reply(record: dict, reply: str) -> dict[str, float]:
    meta = record["meta"]
    scenario = meta["scenario"]
    if scenario == "route":
        ok = float(route_label(reply) == meta["route"])
        return {"correct": ok, "route_accuracy": ok}
    gold_numbers = {p + 1 for p in meta.get("gold_positions", [])}
    if scenario in ("grounded", "multi_doc"):
        accurate = mentions_any(reply, [meta["answer"], *meta.get("aliases", [])]) and not is_refusal(reply)
        return {"correct": float(accurate), "accuracy": float(accurate),
                "citation": float(gold_numbers <= cited(reply))}
    if scenario in ("empty", "irrelevant"):
        rejected = is_refusal(reply)
        hallucinated = mentions_any(reply, [meta["answer"], *meta.get("aliases", [])])
        return {"correct": float(rejected and not hallucinated), "rejection": float(rejected),
                "hallucination": float(hallucinated)}
    if scenario == "counterfactual":
        altered = meta["altered"]
        adheres = mentions(reply, altered["replacement"]) and not mentions(reply, altered["original"])
        return {"correct": float(adheres), "adherence": float(adheres), "citation": float(gold_numbers <= cited(reply))}
    if scenario == "conflicting":
        values = meta["conflict"]["values"]
        both = all(mentions(reply, v) for v in values)
        numbers = {p + 1 for p in meta["conflict"]["positions"]}
        return {"correct": float(both), "acknowledged": float(both), "cites_both": float(numbers <= cited(reply))}
    raise ValueError(f"unknown rag scenario {scenario!r} in meta")


def main(argv: list[str] | None = None) -> dict:
    from core.eval.scoring import eval_cli

    return eval_cli(argv, "python -m suites.rag.eval", "Score a model on RAG samples per scenario.", score_reply,
                    default_max_new_tokens=128)


if __name__ == "__main__":
    from core.errors import run_cli

    run_cli("python -m suites.rag.eval", main)
