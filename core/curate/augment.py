"""Robustness augmentation: copies of samples whose prompt is degraded (typos, an unfinished sentence,
mixed Chinese / English / pinyin) while the answer stays exactly as it was.

Prompts are not trained on, so such copies cost nothing and teach the model to answer messy input. Only
the final line of the last user message before the last trained answer is degraded (that is where the
question usually sits; documents and data above it stay intact). Each copy carries
``meta.robustness = {"kinds": [...], "source": "file:line", "seed": S}`` so that quality gates judge only
its answer and never remove it as noise. Same seed, same copies.
"""

from __future__ import annotations

import copy
import random
import re
from collections import Counter
from dataclasses import dataclass, field

from core.curate.gates import trained_assistant
from core.synth.generator import sample_rng

KINDS = ("typos", "unfinished", "mixed_script")

# Confusable characters that Chinese typists really mix up (same or similar pinyin).
HOMOPHONES = [
    "在再", "的得地", "做作", "已以", "他她它", "那哪", "即既", "象像", "帐账", "须需", "坐座", "到道",
    "形型", "辨辩", "竟竞", "汽气", "园圆", "反返", "份分", "练炼",
]
CONFUSABLE = {ch: group.replace(ch, "") for group in HOMOPHONES for ch in group}

# Chinese word -> (pinyin without tones, English). Used both ways for mixed-script prompts.
LEXICON = {
    "为什么": ("weishenme", "why"), "什么": ("shenme", "what"), "怎么": ("zenme", "how"),
    "可以": ("keyi", "can"), "请": ("qing", "please"), "谢谢": ("xiexie", "thanks"), "帮我": ("bangwo", "help me"),
    "天气": ("tianqi", "weather"), "问题": ("wenti", "question"), "知道": ("zhidao", "know"),
    "告诉": ("gaosu", "tell"), "哪里": ("nali", "where"), "今天": ("jintian", "today"),
    "明天": ("mingtian", "tomorrow"), "多少": ("duoshao", "how many"), "计算": ("jisuan", "calculate"),
    "文件": ("wenjian", "file"), "答案": ("daan", "answer"), "意思": ("yisi", "meaning"),
    "这个": ("zhege", "this"), "需要": ("xuyao", "need"), "查找": ("chazhao", "find"),
    "翻译": ("fanyi", "translate"), "总结": ("zongjie", "summarize"), "文档": ("wendang", "document"),
    "时间": ("shijian", "time"), "名字": ("mingzi", "name"), "价格": ("jiage", "price"),
    "城市": ("chengshi", "city"), "数字": ("shuzi", "number"), "列出": ("liechu", "list"),
    "解释": ("jieshi", "explain"), "比较": ("bijiao", "compare"), "一下": ("yixia", "a bit"),
}
ENGLISH = {en: (zh, pinyin) for zh, (pinyin, en) in LEXICON.items()}
ZH_RE = re.compile("|".join(sorted(LEXICON, key=len, reverse=True)))
EN_RE = re.compile(r"\b(" + "|".join(sorted(map(re.escape, ENGLISH), key=len, reverse=True)) + r")\b", re.IGNORECASE)
WORD_RE = re.compile(r"[A-Za-z]{3,}")
QWERTY = ["qwertyuiop", "asdfghjkl", "zxcvbnm"]
NEIGHBOURS = {
    ch: "".join(QWERTY[r][k] for r in range(3) for k in range(len(QWERTY[r]))
                if (r, k) != (row, col) and abs(r - row) <= 1 and abs(k - col) <= 1)
    for row, keys in enumerate(QWERTY) for col, ch in enumerate(keys)
}


@dataclass
class AugmentConfig:
    fraction: float = 0.0  # share of the kept samples that get one robustness copy
    seed: int = 0
    kinds: list[str] = field(default_factory=lambda: list(KINDS))
    typo_rate: float = 0.15  # chance per word (Latin) or character (CJK) to be misspelt


def _typo_word(word: str, rng: random.Random) -> str:
    i = rng.randrange(1, len(word) - 1)
    op = rng.choice(["swap", "drop", "double", "neighbour"])
    if op == "swap":
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if op == "drop":
        return word[:i] + word[i + 1 :]
    if op == "double":
        return word[: i + 1] + word[i] + word[i + 1 :]
    ch = word[i].lower()
    swap = rng.choice(NEIGHBOURS.get(ch, ch))
    return word[:i] + (swap.upper() if word[i].isupper() else swap) + word[i + 1 :]


def typos(text: str, rng: random.Random, rate: float) -> str:
    """Misspell Latin words (swap, drop, double, keyboard neighbour) and swap CJK characters for their
    homophones; at least one change when anything is eligible."""
    words = [m for m in WORD_RE.finditer(text)]
    chars = [i for i, ch in enumerate(text) if ch in CONFUSABLE]
    spots = [("w", m.start(), m.end()) for m in words] + [("c", i, i + 1) for i in chars]
    if not spots:
        return text
    chosen = {s for s in spots if rng.random() < rate} or {rng.choice(spots)}
    out, last = [], 0
    for kind, start, end in sorted(chosen, key=lambda s: s[1]):
        piece = text[start:end]
        out += [text[last:start], _typo_word(piece, rng) if kind == "w" else rng.choice(CONFUSABLE[piece])]
        last = end
    return "".join(out) + text[last:]


def unfinished(text: str, rng: random.Random) -> str:
    """Cut the text at 50-85% of its length (at a space when there is one nearby) and drop the trailing
    punctuation, as if the user hit enter too early."""
    if len(text) < 8:
        return text
    cut = int(len(text) * rng.uniform(0.5, 0.85))
    space = text.rfind(" ", 0, cut)
    if space > len(text) // 3:
        cut = space
    head = text[:cut].rstrip(" \t,.;:!?，。；：！？、")
    return head if len(head) >= 3 else text


def mixed_script(text: str, rng: random.Random) -> str:
    """Swap some English words for Chinese or pinyin and some Chinese words for pinyin or English."""
    spots = [(m.start(), m.end(), "zh") for m in ZH_RE.finditer(text)]
    spots += [(m.start(), m.end(), "en") for m in EN_RE.finditer(text)]
    if not spots:
        return text
    chosen = {s for s in spots if rng.random() < 0.5} or {rng.choice(spots)}
    out, last = [], 0
    for start, end, lang in sorted(chosen):
        piece = text[start:end]
        if lang == "zh":
            pinyin, english = LEXICON[piece]
            new = pinyin if rng.random() < 0.6 else english
        else:
            zh, pinyin = ENGLISH[piece.lower()]
            new = zh if rng.random() < 0.6 else pinyin
        out += [text[last:start], new]
        last = end
    return "".join(out) + text[last:]


def target_message(record: dict) -> int | None:
    """Index of the last user message (with text) before the last trained assistant message."""
    trained = trained_assistant(record)
    if not trained:
        return None
    users = [i for i, m in enumerate(record["messages"][: trained[-1]]) if m["role"] == "user" and m.get("content")]
    return users[-1] if users else None


def degrade(text: str, kinds: list[str], rng: random.Random, typo_rate: float) -> str:
    head, sep, line = text.rpartition("\n")
    for kind in kinds:
        if kind == "typos":
            line = typos(line, rng, typo_rate)
        elif kind == "unfinished":
            line = unfinished(line, rng)
        elif kind == "mixed_script":
            line = mixed_script(line, rng)
    return head + sep + line


def robustness_copy(record: dict, source: str, index: int, cfg: AugmentConfig) -> dict | None:
    """A degraded copy of `record`, or None when no kind changes its prompt."""
    target = target_message(record)
    if target is None:
        return None
    rng = sample_rng(cfg.seed, index, "robustness")
    original = record["messages"][target]["content"]
    order = list(cfg.kinds)
    rng.shuffle(order)
    kinds = sorted(order[: rng.choice([1, 2])], key=KINDS.index)
    degraded = degrade(original, kinds, rng, cfg.typo_rate)
    if degraded == original:  # e.g. nothing to mix: fall back to the other kinds one by one
        for kind in order:
            kinds = [kind]
            degraded = degrade(original, kinds, rng, cfg.typo_rate)
            if degraded != original:
                break
        else:
            return None
    out = copy.deepcopy(record)
    out["messages"][target]["content"] = degraded
    out["meta"] = {**record.get("meta", {}), "robustness": {"kinds": kinds, "source": source, "seed": cfg.seed}}
    return out


def add_robustness_copies(records: list[tuple[str, dict]], cfg: AugmentConfig) -> tuple[list[tuple[int, dict]], Counter]:
    """Pick round(fraction x eligible) records (seeded) and make one copy of each. `records` are
    (where, record) pairs; returns (position of the source in `records`, copy) pairs and counts by kind
    and by reason a record got no copy."""
    stats: Counter = Counter()
    eligible = [i for i, (_, r) in enumerate(records)
                if not isinstance(r.get("meta", {}).get("robustness"), dict) and target_message(r) is not None]
    stats["ineligible (no user prompt before a trained answer, or already a copy)"] = len(records) - len(eligible)
    n = round(cfg.fraction * len(eligible))
    chosen = sorted(random.Random(f"{cfg.seed}:robustness").sample(eligible, n))
    copies = []
    for position in chosen:
        where, record = records[position]
        made = robustness_copy(record, where, position, cfg)
        if made is None:
            stats["no kind changed the prompt"] += 1
            continue
        copies.append((position, made))
        for kind in made["meta"]["robustness"]["kinds"]:
            stats[f"kind: {kind}"] += 1
    return copies, stats
