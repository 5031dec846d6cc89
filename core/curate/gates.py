"""The per-sample quality gates (length bounds, unique-token ratio, blocklist) and the text views of a
record that every gate reads.

A gate judges one *field* of a record:

  answer  the trained assistant messages (content, plus tool calls as JSON)
  prompt  the user messages
  dialog  user and assistant messages (no system prompt, no tool results)
  sample  every message

Robustness copies (records with ``meta.robustness``) are judged on their ``answer`` only: their prompt is
degraded on purpose, and their answer is the original's, so a gate may still reject a bad answer.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Literal

FIELDS = ("answer", "prompt", "dialog", "sample")
Field = Literal["answer", "prompt", "dialog", "sample"]
TOKEN_RE = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]|[^\W_]+", re.UNICODE)  # a CJK character or a word


@dataclass
class Item:
    """One record moving through the gates; `where` is ``file:line`` for reports."""

    index: int
    record: dict
    where: str
    _texts: dict = field(default_factory=dict, repr=False)

    @property
    def task_type(self) -> str:
        return self.record["task_type"]

    @property
    def is_robustness_copy(self) -> bool:
        return isinstance(self.record.get("meta", {}).get("robustness"), dict)

    def text(self, name: str, mask: str = "all") -> str:
        key = (name, mask)
        if key not in self._texts:
            self._texts[key] = field_text(self.record, name, mask)
        return self._texts[key]


@dataclass
class Removal:
    gate: str
    detail: str
    other: Item | None = None  # the kept sample a duplicate matched


def message_text(message: dict) -> str:
    parts = [message.get("content") or ""]
    for call in message.get("tool_calls") or []:
        parts.append(json.dumps(call["function"], ensure_ascii=False, sort_keys=True))
    return "\n".join(p for p in parts if p)


def trained_assistant(record: dict, mask: str = "all") -> list[int]:
    """Indices of the assistant messages trained under `mask` (all | last) and the per-message overrides,
    as core.data.chat.render_record decides them."""
    assistants = [i for i, m in enumerate(record["messages"]) if m["role"] == "assistant"]
    last = assistants[-1] if assistants else -1
    return [i for i in assistants if record["messages"][i].get("train", mask == "all" or i == last)]


def field_text(record: dict, name: str, mask: str = "all") -> str:
    messages = record["messages"]
    if name == "answer":
        chosen = [messages[i] for i in trained_assistant(record, mask)]
    elif name == "prompt":
        chosen = [m for m in messages if m["role"] == "user"]
    elif name == "dialog":
        chosen = [m for m in messages if m["role"] in ("user", "assistant")]
    elif name == "sample":
        chosen = messages
    else:
        raise ValueError(f"field must be one of {FIELDS}, got {name!r}")
    return "\n".join(t for t in (message_text(m) for m in chosen) if t)


def gate_field(item: Item, configured: str) -> str:
    return "answer" if item.is_robustness_copy else configured


def tokens(text: str) -> list[str]:
    """Words (lowercased) and single CJK characters; punctuation is not a token."""
    return [t.lower() for t in TOKEN_RE.findall(text)]


def windowed_unique_ratio(toks: list[str], window: int) -> float:
    """Mean over consecutive windows of `window` tokens of (distinct tokens / tokens). Windows keep long
    answers from being penalised for the natural repetition of common words; a short last window is
    replaced by the last `window` tokens."""
    if not toks:
        return 1.0
    windows = [toks[i : i + window] for i in range(0, len(toks), window)]
    if len(windows) > 1 and len(windows[-1]) < window:
        windows[-1] = toks[-window:]
    return sum(len(set(w)) / len(w) for w in windows) / len(windows)


# --- gates ---------------------------------------------------------------------------------------------------


@dataclass
class LengthConfig:
    enabled: bool = True
    answer_min_chars: int = 1  # characters of the trained answer; 0 = no bound
    answer_max_chars: int = 2000
    sample_min_chars: int = 0  # characters of the whole sample (every message); 0 = no bound
    sample_max_chars: int = 0


@dataclass
class UniqueTokensConfig:
    enabled: bool = True
    field: Field = "answer"
    min_ratio: float = 0.4  # loops score <= 0.2; structured answers (JSON lists, tables) go down to ~0.55
    window: int = 32  # tokens per window
    min_tokens: int = 8  # shorter texts are not judged


@dataclass
class BlocklistConfig:
    enabled: bool = False
    path: str = ""  # one term per line; "re:" prefix for a regular expression; "#" comments
    field: Field = "sample"
    case_sensitive: bool = False


class LengthGate:
    name = "length"

    def __init__(self, cfg: LengthConfig, mask: str):
        self.cfg, self.mask = cfg, mask

    def describe(self) -> str:
        c = self.cfg

        def bounds(lo: int, hi: int) -> str:
            return f"[{lo or 0}, {hi if hi else 'inf'}]"

        return (f"answer chars in {bounds(c.answer_min_chars, c.answer_max_chars)}, "
                f"sample chars in {bounds(c.sample_min_chars, c.sample_max_chars)}")

    def run(self, items: list[Item]) -> dict[int, Removal]:
        c, out = self.cfg, {}
        for item in items:
            checks = [("answer", c.answer_min_chars, c.answer_max_chars)]
            if not item.is_robustness_copy:
                checks.append(("sample", c.sample_min_chars, c.sample_max_chars))
            for name, lo, hi in checks:
                n = len(item.text(name, self.mask))
                if lo and n < lo:
                    out[item.index] = Removal(self.name, f"{name} has {n} chars < {lo}")
                elif hi and n > hi:
                    out[item.index] = Removal(self.name, f"{name} has {n} chars > {hi}")
                if item.index in out:
                    break
        return out


class UniqueTokensGate:
    name = "unique_tokens"

    def __init__(self, cfg: UniqueTokensConfig, mask: str):
        self.cfg, self.mask = cfg, mask

    def describe(self) -> str:
        c = self.cfg
        return (f"{c.field}: distinct/total tokens >= {c.min_ratio} (mean over {c.window}-token windows; "
                f"texts under {c.min_tokens} tokens not judged)")

    def run(self, items: list[Item]) -> dict[int, Removal]:
        c, out = self.cfg, {}
        for item in items:
            toks = tokens(item.text(gate_field(item, c.field), self.mask))
            if len(toks) < c.min_tokens:
                continue
            ratio = windowed_unique_ratio(toks, c.window)
            if ratio < c.min_ratio:
                out[item.index] = Removal(self.name, f"unique-token ratio {ratio:.2f} < {c.min_ratio}")
        return out


def load_blocklist(path: str, case_sensitive: bool) -> list[tuple[str, re.Pattern]]:
    """(term as written, compiled pattern) per line; errors name the file and line."""
    flags = 0 if case_sensitive else re.IGNORECASE
    terms = []
    with open(path, encoding="utf-8") as f:
        for line_no, line in enumerate(f, start=1):
            term = line.strip()
            if not term or term.startswith("#"):
                continue
            try:
                pattern = re.compile(term[3:], flags) if term.startswith("re:") else re.compile(re.escape(term), flags)
            except re.error as e:
                raise ValueError(f"{path}:{line_no}: bad regular expression {term[3:]!r}: {e}") from None
            terms.append((term, pattern))
    if not terms:
        raise ValueError(f"{path}: the blocklist has no terms")
    return terms


class BlocklistGate:
    name = "blocklist"

    def __init__(self, cfg: BlocklistConfig, mask: str):
        self.cfg, self.mask = cfg, mask
        self.terms = load_blocklist(cfg.path, cfg.case_sensitive)

    def describe(self) -> str:
        case = "case-sensitive" if self.cfg.case_sensitive else "case-insensitive"
        return f"{self.cfg.field}: {len(self.terms)} terms from {self.cfg.path} ({case})"

    def run(self, items: list[Item]) -> dict[int, Removal]:
        out = {}
        for item in items:
            text = item.text(gate_field(item, self.cfg.field), self.mask)
            for term, pattern in self.terms:
                if pattern.search(text):
                    out[item.index] = Removal(self.name, f"contains blocked term {term!r}")
                    break
        return out
