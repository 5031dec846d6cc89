"""Where (instruction, response) pairs come from: the user's JSONL, or the seed set shipped with the suite.

A pairs file has one JSON object per line::

    {"instruction": "Write a haiku about tea.", "response": "...", "id": "optional", "lang": "en|zh (optional)"}

Unknown fields are errors (a typo such as "respone" never passes silently); put anything else under
"meta". Errors read ``file:line: field: problem``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from importlib import resources

from core.errors import UserError
from core.outputs import text_lines
from suites.complex_instr.text import detect_language

PAIR_FIELDS = {"instruction", "response", "id", "lang", "meta", "form"}


class PairError(UserError):
    def __init__(self, path: str, line: int, field_name: str, problem: str):
        super().__init__(f"{path}:{line}: {field_name}: {problem}" if field_name else f"{path}:{line}: {problem}")
        self.path, self.line, self.field = path, line, field_name


@dataclass(frozen=True)
class Pair:
    id: str
    instruction: str
    response: str
    lang: str  # the instruction's language: "en" or "zh"
    form: str = ""
    meta: dict = field(default_factory=dict, compare=False)


def prompt_language(text: str) -> str:
    return "zh" if detect_language(text) in ("zh", "ja") else "en"


def _parse_line(path: str, line_no: int, line: str) -> Pair:
    try:
        row = json.loads(line)
    except json.JSONDecodeError as e:
        raise PairError(path, line_no, "", f"invalid JSON ({e.msg} at column {e.colno})") from None
    if not isinstance(row, dict):
        raise PairError(path, line_no, "", "expected a JSON object")
    unknown = sorted(set(row) - PAIR_FIELDS)
    if unknown:
        raise PairError(path, line_no, unknown[0], f"unknown field (allowed: {sorted(PAIR_FIELDS)}; "
                                                   "put extra data under meta)")
    for name in ("instruction", "response"):
        if name not in row:
            raise PairError(path, line_no, name, "missing")
        if not isinstance(row[name], str):
            raise PairError(path, line_no, name, f"expected a string, got {type(row[name]).__name__}")
        if not row[name].strip():
            raise PairError(path, line_no, name, "empty")
    lang = row.get("lang", prompt_language(row["instruction"]))
    if lang not in ("en", "zh"):
        raise PairError(path, line_no, "lang", f'expected "en" or "zh", got {lang!r}')
    meta = row.get("meta", {})
    if not isinstance(meta, dict):
        raise PairError(path, line_no, "meta", "expected an object")
    pair_id = row.get("id", f"{os.path.basename(path)}:{line_no}")
    if not isinstance(pair_id, str | int):
        raise PairError(path, line_no, "id", "expected a string or an integer")
    return Pair(str(pair_id), row["instruction"].strip(), row["response"].strip("\n"), lang,
                str(row.get("form", "")), meta)


def read_pairs(path: str | os.PathLike) -> list[Pair]:
    path = os.fspath(path)
    pairs = []
    for line_no, line in text_lines(path):  # bounded lines; non-UTF-8 bytes name their line
        if line.strip():
            pairs.append(_parse_line(path, line_no, line))
    if not pairs:
        raise PairError(path, 0, "", "no pairs in the file")
    return pairs


SEED_FILE = "seed_pairs.jsonl"


def load_seed_pairs() -> list[Pair]:
    """The instruction-response pairs written for the project (English and Chinese)."""
    ref = resources.files("suites.complex_instr") / "data" / SEED_FILE
    with resources.as_file(ref) as path:
        return read_pairs(path)
