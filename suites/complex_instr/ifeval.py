"""IFEval's own files, scored with this suite's verifiers.

    python -m suites.complex_instr.eval --ifeval input_data.jsonl --responses input_response_data.jsonl
    python -m suites.complex_instr.eval --ifeval input_data.jsonl --model PATH [--out results.json]

The prompts file is IFEval's `input_data.jsonl`: one `{"key", "prompt", "instruction_id_list", "kwargs"}`
per line, `kwargs` one dict per instruction (the Hugging Face copy writes every keyword with null for the
unused ones: nulls are dropped). The responses file is IFEval's `{"prompt", "response"}` per line, matched
by prompt text as IFEval matches it. The printed numbers are IFEval's four: prompt-level and
instruction-level accuracy, strict and loose, then accuracy per instruction type. Where this suite's
verifiers deliberately read an instruction differently from IFEval's reference code, docs/complex_instr.md
says how and why.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

from core.data.records import iter_json_objects
from core.errors import UserError
from core.outputs import atomic_write, write_json
from suites.complex_instr import constraints as lib
from suites.complex_instr.tally import TypeTally, plot_types

# IFEval kwargs that this suite's parameters name differently (or that IFEval does not give)
_RENAMED = {
    "keywords:letter_frequency": {"let_relation": "relation"},
    "change_case:capital_word_frequency": {"capital_relation": "relation"},
}
_FIXED = {
    "length_constraints:number_paragraphs": {"separator": "divider"},  # IFEval's paragraphs are split by ***
    "detectable_format:constrained_response": {"options": "en"},
}
# The keywords each IFEval instruction needs (the Hugging Face copy fills the others with null)
REQUIRED = {
    "keywords:existence": ("keywords",), "keywords:frequency": ("keyword", "frequency", "relation"),
    "keywords:forbidden_words": ("forbidden_words",),
    "keywords:letter_frequency": ("letter", "let_frequency", "let_relation"),
    "language:response_language": ("language",),
    "length_constraints:number_sentences": ("num_sentences", "relation"),
    "length_constraints:number_paragraphs": ("num_paragraphs",),
    "length_constraints:number_words": ("num_words", "relation"),
    "length_constraints:nth_paragraph_first_word": ("num_paragraphs", "nth_paragraph", "first_word"),
    "detectable_content:number_placeholders": ("num_placeholders",),
    "detectable_content:postscript": ("postscript_marker",),
    "detectable_format:number_bullet_lists": ("num_bullets",),
    "detectable_format:number_highlighted_sections": ("num_highlights",),
    "detectable_format:multiple_sections": ("section_spliter", "num_sections"),
    "combination:repeat_prompt": ("prompt_to_repeat",),
    "startend:end_checker": ("end_phrase",),
    "change_case:capital_word_frequency": ("capital_frequency", "capital_relation"),
}
for _type in ("detectable_format:constrained_response", "detectable_format:json_format", "detectable_format:title",
              "combination:two_responses", "change_case:english_capital", "change_case:english_lowercase",
              "punctuation:no_comma", "startend:quotation"):
    REQUIRED[_type] = ()


@dataclass
class IFEvalPrompt:
    key: object
    prompt: str
    constraints: list[dict]  # this suite's {"type", "params"}, one per IFEval instruction


def to_constraint(instruction_id: str, kwargs: dict | None, where: str) -> dict:
    """One IFEval instruction as this suite's constraint."""
    if instruction_id not in REQUIRED:
        raise UserError(f"{where}: instruction_id_list: {instruction_id!r} is not an IFEval instruction "
                        f"(known: {sorted(REQUIRED)})")
    given = {k: v for k, v in (kwargs or {}).items() if v is not None}
    missing = [k for k in REQUIRED[instruction_id] if k not in given]
    if missing:
        raise UserError(f"{where}: kwargs: {instruction_id} needs {missing}")
    renamed = _RENAMED.get(instruction_id, {})
    params = {renamed.get(k, k): v for k, v in given.items() if k in REQUIRED[instruction_id]}
    return {"type": instruction_id, "params": {**params, **_FIXED.get(instruction_id, {})}}


def read_prompts(path: str) -> list[IFEvalPrompt]:
    out = []
    for line_no, row in iter_json_objects(path):
        where = f"{path}:{line_no}"
        for name in ("prompt", "instruction_id_list", "kwargs"):
            if name not in row:
                raise UserError(f"{where}: {name}: missing (IFEval's input_data.jsonl has key, prompt, "
                                "instruction_id_list, kwargs)")
        ids, kwargs = row["instruction_id_list"], row["kwargs"]
        if not isinstance(row["prompt"], str):
            raise UserError(f"{where}: prompt: expected a string")
        if not isinstance(ids, list) or not isinstance(kwargs, list) or len(ids) != len(kwargs):
            raise UserError(f"{where}: kwargs: expected one dict per entry of instruction_id_list")
        out.append(IFEvalPrompt(row.get("key"), row["prompt"],
                                [to_constraint(i, k, where) for i, k in zip(ids, kwargs)]))
    if not out:
        raise UserError(f"{path}: no prompts")
    return out


def read_responses(path: str, prompts: list[IFEvalPrompt]) -> list[str]:
    """The response to every prompt, matched by prompt text (IFEval's `input_response_data.jsonl`)."""
    by_prompt = {}
    for line_no, row in iter_json_objects(path):
        if not isinstance(row.get("prompt"), str) or not isinstance(row.get("response"), str):
            raise UserError(f"{path}:{line_no}: expected {{\"prompt\": str, \"response\": str}}")
        by_prompt[row["prompt"]] = row["response"]
    missing = [p.key for p in prompts if p.prompt not in by_prompt]
    if missing:
        raise UserError(f"{path}: no response for {len(missing)} of {len(prompts)} prompts (keys "
                        f"{missing[:5]}{' ...' if len(missing) > 5 else ''})")
    return [by_prompt[p.prompt] for p in prompts]


def generate_responses(prompts: list[IFEvalPrompt], model_path: str, max_new_tokens: int, batch_size: int,
                       seed: int) -> list[str]:
    """Greedy replies of the model to each prompt as a single user turn."""
    from core.model.generation import generate_replies
    from core.model.loading import load_model, load_tokenizer

    tokenizer, model = load_tokenizer(model_path), load_model(model_path)
    chats = [{"messages": [{"role": "user", "content": p.prompt}]} for p in prompts]
    replies = generate_replies(model, tokenizer, chats, max_new_tokens=max_new_tokens, batch_size=batch_size,
                               seed=seed)
    return [r[0] for r in replies]


def score(prompts: list[IFEvalPrompt], responses: list[str]):
    """A TypeTally over every prompt, and per prompt the (type, strict, loose) verdicts."""
    tally, verdicts = TypeTally(), []
    for p, response in zip(prompts, responses):
        results = []
        for c in p.constraints:
            ctype = lib.get(c["type"])
            strict = ctype.verify(response, c["params"])
            results.append((c["type"], strict, strict or ctype.verify(response, c["params"], loose=True)))
        tally.add(results)
        verdicts.append(results)
    return tally, verdicts


def headline(tally) -> str:
    d = tally.as_dict()
    return "\n".join([
        f"prompt-level strict accuracy:      {d['prompt_level']['strict']:.4f}",
        f"instruction-level strict accuracy: {d['instruction_level']['strict']:.4f}",
        f"prompt-level loose accuracy:       {d['prompt_level']['loose']:.4f}",
        f"instruction-level loose accuracy:  {d['instruction_level']['loose']:.4f}",
    ])


def run(args) -> dict:
    """The --ifeval command (arguments parsed by suites.complex_instr.eval)."""
    prompts = read_prompts(args.ifeval)
    if args.limit:
        prompts = prompts[: args.limit]
    if args.responses:
        responses = read_responses(args.responses, prompts)
    else:
        responses = generate_responses(prompts, args.model, args.max_new_tokens, args.batch_size, args.seed)
    tally, verdicts = score(prompts, responses)
    print(f"[ifeval] {len(prompts)} prompts, {sum(map(len, verdicts))} instructions from {args.ifeval}")
    print(headline(tally))
    print()
    print(tally.format())
    summary = tally.as_dict()
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        samples = [{"key": p.key, "prompt": p.prompt, "response": r,
                    "instructions": [{"id": t, "strict": s, "loose": lo} for t, s, lo in v]}
                   for p, r, v in zip(prompts, responses, verdicts)]
        write_json(args.out, {"ifeval": args.ifeval, "model": None if args.responses else args.model,
                              "responses": args.responses, **summary, "samples": samples}, ensure_ascii=False, indent=1)
        png = os.path.splitext(args.out)[0] + "_by_type.png"
        plot_types(summary, png)
        print(f"[ifeval] wrote {args.out} and {png}")
        if not args.responses:  # the generated replies in IFEval's own response format, for its own checker
            replies = os.path.splitext(args.out)[0] + "_responses.jsonl"
            with atomic_write(replies, keep_partial=False) as f:
                for p, r in zip(prompts, responses):
                    f.write(json.dumps({"prompt": p.prompt, "response": r}, ensure_ascii=False) + "\n")
            print(f"[ifeval] responses in IFEval's format: {replies}")
    return summary
