"""The RAG scorer on hand-written replies, one group per scenario."""

import json

import pytest

from suites.rag.eval import is_refusal, main, score_reply
from suites.rag.generate import main as generate_main


def record(scenario, **meta):
    return {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "ref"}],
            "task_type": f"rag/{scenario}", "meta": {"scenario": scenario, **meta}}


GROUNDED = record("grounded", answer="1843", aliases=["eighteen forty-three"], gold_positions=[1])


@pytest.mark.parametrize("reply, accuracy, citation", [
    ("According to [2], Velmora was founded in 1843.", 1, 1),
    ("Velmora was founded in 1,843 [2].", 1, 1),
    ("It was founded in eighteen forty-three, per [2].", 1, 1),
    ("根据文档[2]，维尔莫拉建于１８４３年。", 1, 1),
    ("It was founded in 1843 [1].", 1, 0),
    ("It was founded in 18430 [2].", 0, 1),
    ("Velmora was founded in 1844 [2].", 0, 1),
    ("I can't find that in the documents, maybe 1843? [2]", 0, 1),
    ("", 0, 0),
])
def test_grounded(reply, accuracy, citation):
    assert score_reply(GROUNDED, reply) == {"correct": accuracy, "accuracy": accuracy, "citation": citation}


def test_text_answers_match_case_insensitively_and_as_whole_words():
    rec = record("grounded", answer="Ashen River", aliases=[], gold_positions=[0])
    assert score_reply(rec, "It lies on the ashen river [1].")["correct"] == 1
    assert score_reply(rec, "It lies on the Ashen Riverside [1].")["correct"] == 0


def test_multi_doc_needs_both_citations():
    rec = record("multi_doc", answer="1901", aliases=[], gold_positions=[0, 3])
    assert score_reply(rec, "X was founded by Y [1], who was born in 1901 [4].") == \
        {"correct": 1, "accuracy": 1, "citation": 1}
    assert score_reply(rec, "Y was born in 1901 [4].") == {"correct": 1, "accuracy": 1, "citation": 0}


@pytest.mark.parametrize("scenario", ["empty", "irrelevant"])
@pytest.mark.parametrize("reply, correct, rejection, hallucination", [
    ("The knowledge base returned nothing for this, so I don't know.", 1, 1, 0),
    ("None of the documents mention when Velmora was founded.", 1, 1, 0),
    ("The retrieved documents don't contain the founding year.", 1, 1, 0),
    ("知识库里没有相关信息，我无法回答。", 1, 1, 0),
    ("检索结果为空。", 1, 1, 0),
    ("Velmora was founded in 1843.", 0, 0, 1),
    ("I don't know, but probably 1843.", 0, 1, 1),
    ("The documents are about Karsund and Tamholm.", 0, 0, 0),
    ("", 0, 0, 0),
])
def test_rejection(scenario, reply, correct, rejection, hallucination):
    rec = record(scenario, answer="1843", aliases=[], gold_positions=[])
    assert score_reply(rec, reply) == {"correct": correct, "rejection": rejection, "hallucination": hallucination}


COUNTERFACTUAL = record("counterfactual", answer="1799", aliases=[], gold_positions=[2],
                        altered={"original": "1843", "replacement": "1799", "position": 2, "doc_id": "t", "spans": [0]})


@pytest.mark.parametrize("reply, adherence, citation", [
    ("According to [3], Velmora was founded in 1799.", 1, 1),
    ("1799 [3].", 1, 1),
    ("Velmora was founded in 1843.", 0, 0),
    ("[3] says 1799, but actually it was 1843.", 0, 1),
    ("Document [3] is wrong; I won't say.", 0, 1),
])
def test_counterfactual_adherence(reply, adherence, citation):
    assert score_reply(COUNTERFACTUAL, reply) == {"correct": adherence, "adherence": adherence, "citation": citation}


CONFLICTING = record("conflicting", answer="1843", aliases=[], gold_positions=[0],
                     conflict={"values": ["1843", "1799"], "positions": [0, 2], "doc_ids": ["t", "t/note"]})


@pytest.mark.parametrize("reply, acknowledged, cites_both", [
    ("The sources disagree: [1] says 1843 while [3] says 1799.", 1, 1),
    ("文档[1]和文档[3]的答案不同（1843与1799）。", 1, 1),
    ("It is either 1799 or 1843.", 1, 0),
    ("Velmora was founded in 1843 [1].", 0, 0),
    ("Velmora was founded in 1799 [3], see also [1].", 0, 1),
])
def test_conflict_acknowledgement(reply, acknowledged, cites_both):
    assert score_reply(CONFLICTING, reply) == {"correct": acknowledged, "acknowledged": acknowledged,
                                               "cites_both": cites_both}


@pytest.mark.parametrize("label, reply, correct", [
    ("retrieve", "retrieve", 1), ("retrieve", " Retrieve.", 1), ("chat", "chat", 1), ("chat", "CHAT\n", 1),
    ("retrieve", "chat", 0), ("chat", "retrieve", 0), ("retrieve", "", 0), ("retrieve", "I would retrieve", 0),
])
def test_route_classification(label, reply, correct):
    assert score_reply(record("route", route=label), reply) == {"correct": correct, "route_accuracy": correct}


def test_refusal_detection_does_not_fire_on_plain_answers():
    for text in ["Velmora was founded in 1843 [2].", "答案是1843[2]。", "Document [1] says that Orsa worked in botany.",
                 "The answer is a lantern festival [3]."]:
        assert not is_refusal(text)


def test_unknown_scenario():
    with pytest.raises(ValueError, match="unknown rag scenario"):
        score_reply(record("mystery"), "x")


def test_eval_cli_scores_given_replies_and_a_model(tmp_path, capsys):
    data = tmp_path / "eval.jsonl"
    generate_main(["--n", "40", "--out", str(data), "--lang", "mix"])
    records = [json.loads(line) for line in data.read_text(encoding="utf-8").splitlines()]
    replies = tmp_path / "replies.jsonl"
    replies.write_text("".join(json.dumps({"reply": r["messages"][-1]["content"]}) + "\n" for r in records))
    capsys.readouterr()
    result = main(["--data", str(data), "--responses", str(replies), "--out", str(tmp_path / "r.json")])
    assert result["ALL"]["correct"] == 1.0 and result["ALL"]["n"] == 40
    assert {k for k in result if k.startswith("rag/")} == {r["task_type"] for r in records}
    assert "rag/conflicting" in capsys.readouterr().out
    saved = json.loads((tmp_path / "r.json").read_text())
    assert saved["by_task_type"]["ALL"]["correct"] == 1.0
    # the embedded tiny model (random weights) generates replies end to end and scores ~0
    result = main(["--model", "tiny", "--data", str(data), "--limit", "4", "--max-new-tokens", "4"])
    assert result["ALL"]["n"] == 4 and result["ALL"]["correct"] == 0.0
