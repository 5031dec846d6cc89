"""Comparative evaluation of two models on one eval set, per task_type:

    python -m core.eval.evaluate --models A B --data EVAL.jsonl [--out DIR]

For each model: the teacher-forced eval loss (token mean over trained tokens) and the summed
log-probability of each reference answer (the record's last assistant turn); and, for records whose
task_type has a suite scorer (entry point group "sft_suites.scorers", named by the first level) or with
--scorer module:function, pass@1 and pass@k from n sampled replies. Writes DIR/report.md, DIR/report.png
and DIR/results.json (every per-sample number the report is built from).
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
from dataclasses import asdict, dataclass, field

import torch
from tqdm import tqdm

from core.data.chat import IGNORE_INDEX, RenderedSample, render_samples
from core.data.packing import pack_samples, shift_labels
from core.data.records import first_level, iter_records
from core.errors import UserError
from core.eval.report import Thresholds, compare, markdown, plot, summarize, terminal
from core.eval.scoring import find_scorer, score_records
from core.model.attention import enable_packed_attention, packing_kwargs
from core.outputs import write_json, write_text
from core.train.loss import token_losses


@dataclass
class EvalConfig:
    models: list[str]
    data: str
    out: str = "runs/compare"
    mask: str = "all"  # which tokens the eval loss covers (as in training)
    max_len: int = 4096  # tokens per packed row of the teacher-forced pass (longer samples get their own row)
    scorer: str | None = None  # "module:function" for every record, instead of the entry-point lookup
    sampling: bool = True
    num_samples: int = 10
    k: int = 5
    temperature: float = 0.7
    max_new_tokens: int = 128
    batch_size: int = 8
    seed: int = 0
    limit: int = 0
    thresholds: Thresholds = field(default_factory=Thresholds)
    device: str = "cuda" if torch.cuda.is_available() else "cpu"
    dtype: str = "fp32"
    progress: bool = True

    def validate(self) -> None:
        problems = []
        if len(self.models) != 2:
            problems.append(f"--models: give exactly two models (A, then B), got {len(self.models)}")
        if self.mask not in ("all", "last", "prompt"):
            problems.append(f"--mask: one of all, last, prompt, got {self.mask!r}")
        if self.num_samples < 1 or not 1 <= self.k <= self.num_samples:
            problems.append(f"--k, --num-samples: need 1 <= k <= num_samples, got k={self.k}, "
                            f"num_samples={self.num_samples}")
        if self.temperature < 0 or (self.temperature == 0 and self.num_samples > 1):
            problems.append("--temperature, --num-samples: temperature 0 (greedy) gives identical draws; "
                            "use a positive temperature or --num-samples 1 --k 1")
        if self.max_len < 1 or self.max_new_tokens < 1 or self.batch_size < 1:
            problems.append("--max-len, --max-new-tokens, --batch-size must be positive")
        if self.limit < 0:
            problems.append(f"--limit: 0 (all records) or a positive count, got {self.limit}")
        if self.dtype not in ("fp32", "bf16"):
            problems.append(f"--dtype: fp32 or bf16, got {self.dtype!r}")
        if problems:
            raise ValueError("invalid evaluation options:\n  " + "\n  ".join(problems))


def answer_record(record: dict) -> dict:
    """The record with per-message train flags removed, so mask "last" trains exactly the reference answer."""
    return {**record, "messages": [{k: v for k, v in m.items() if k != "train"} for m in record["messages"]]}


@torch.no_grad()
def teacher_forced(model, tokenizer, records: list[tuple[str, dict]], mask: str = "all", max_len: int = 4096,
                   progress: bool = True) -> list[dict]:
    """Per record: the summed loss and count of its trained tokens under `mask`, and the summed
    log-probability and token count of its reference answer. A template that rewrites history gives one
    sample per trained turn (core.data.chat.render_samples): the loss sums over all of them, and the answer
    is scored in its own turn's sample. Samples are packed into rows (no sample attends to another) and never
    truncated."""
    samples, trained, answers, owner = [], [], [], []

    def add(ids: list[int], task_type: str, sample_id: str, index: int, trained_mask, answer_mask) -> None:
        samples.append(RenderedSample(ids, ids, task_type, sample_id))
        trained.append(trained_mask)
        answers.append(answer_mask)
        owner.append(index)

    for index, (sample_id, record) in enumerate(records):
        fulls = render_samples(record, tokenizer, mask=mask, sample_id=sample_id)
        (answer,) = render_samples(answer_record(record), tokenizer, mask="last", sample_id=sample_id)
        answer_mask = [t != IGNORE_INDEX for t in shift_labels(answer.labels)]
        same = [j for j, full in enumerate(fulls) if full.input_ids == answer.input_ids]
        if not same and len(fulls) == 1:  # same conversation, only the labels may differ
            raise RuntimeError(f"{sample_id}: rendering without train flags changed the tokens")
        for j, full in enumerate(fulls):
            add(full.input_ids, full.task_type, sample_id, index, [t != IGNORE_INDEX for t in shift_labels(full.labels)],
                answer_mask if same and j == same[-1] else [False] * len(full))
        if not same:  # the answer's turn is not trained under `mask`: its served sample is scored on its own
            add(answer.input_ids, answer.task_type, sample_id, index, [False] * len(answer_mask), answer_mask)
    capacity = max([max_len, *(len(s) for s in samples)])
    rows, _ = pack_samples(samples, capacity)  # capacity >= every sample: nothing is truncated or dropped
    device = next(model.parameters()).device
    previous = model.config._attn_implementation
    enable_packed_attention(model)
    model.eval()
    results = [{"loss_sum": 0.0, "loss_tokens": 0, "answer_logprob": 0.0, "answer_tokens": 0} for _ in records]
    try:
        for row in tqdm(rows, desc="teacher-forced", disable=not progress, leave=False):
            hidden = model.get_decoder()(
                input_ids=torch.tensor([row.input_ids], device=device),
                position_ids=torch.tensor([row.position_ids], device=device),
                use_cache=False, **packing_kwargs(row.seq_lens, device),
            ).last_hidden_state
            nll = token_losses(hidden[0], torch.tensor(row.targets, device=device),
                               model.get_output_embeddings()).double().cpu()
            offset = 0
            for index, length in zip(row.samples, row.seq_lens):
                piece = nll[offset : offset + length]
                t_mask = torch.tensor(trained[index], dtype=torch.bool)
                a_mask = torch.tensor(answers[index], dtype=torch.bool)
                result = results[owner[index]]
                result["loss_sum"] += float(piece[t_mask].sum())
                result["loss_tokens"] += int(t_mask.sum())
                result["answer_logprob"] -= float(piece[a_mask].sum())
                result["answer_tokens"] += int(a_mask.sum())
                offset += length
    finally:
        model.set_attn_implementation(previous)
    return results


class ScorerLookup:
    """The scorer of each record: the forced one, or the entry point named by the task_type's first level."""

    def __init__(self, forced: str | None):
        try:
            self.forced = find_scorer(forced) if forced else None
        except (ImportError, AttributeError) as e:
            raise ValueError(f"--scorer {forced}: {type(e).__name__}: {e}") from None
        if forced and self.forced is None:
            raise ValueError(f"--scorer {forced}: no such entry point in group sft_suites.scorers")
        self.spec = forced
        self.cache: dict[str, object] = {}

    def name(self, task_type: str) -> str | None:
        return self.spec if self.forced else (first_level(task_type) if self(task_type) else None)

    def __call__(self, task_type: str):
        if self.forced:
            return self.forced
        level = first_level(task_type)
        if level not in self.cache:
            self.cache[level] = find_scorer(level)
        return self.cache[level]


def evaluate_model(path: str, records: list[tuple[str, dict]], cfg: EvalConfig, scorers: ScorerLookup) -> list[dict]:
    """Every per-sample number of one model: teacher-forced loss and answer log-prob, sampled replies and
    their scores."""
    from core.model.loading import load_model, load_tokenizer

    tokenizer = load_tokenizer(path)
    model = load_model(path, dtype=torch.bfloat16 if cfg.dtype == "bf16" else torch.float32).to(cfg.device)
    forced = teacher_forced(model, tokenizer, records, cfg.mask, cfg.max_len, cfg.progress)
    samples = [{"id": sid, "task_type": r["task_type"], **f, "replies": None, "correct": None, "metrics": None}
               for (sid, r), f in zip(records, forced)]
    if cfg.sampling:
        by_scorer: dict[int, list[int]] = {}
        for i, (_, record) in enumerate(records):
            scorer = scorers(record["task_type"])
            if scorer is not None:
                by_scorer.setdefault(id(scorer), []).append(i)
        for indices in by_scorer.values():
            scorer = scorers(records[indices[0]][1]["task_type"])
            scores = score_records(model, tokenizer, [records[i][1] for i in indices], scorer,
                                   max_new_tokens=cfg.max_new_tokens, batch_size=cfg.batch_size,
                                   num_samples=cfg.num_samples, do_sample=cfg.temperature > 0,
                                   temperature=cfg.temperature or 1.0, seed=cfg.seed, progress=cfg.progress)
            for i, score in zip(indices, scores):
                samples[i].update(replies=score.replies, metrics=score.metrics,
                                  correct=[m["correct"] >= 0.5 for m in score.metrics])
    del model
    gc.collect()
    return samples


def run(cfg: EvalConfig) -> dict:
    cfg.validate()
    records = [(f"{cfg.data}:{line}", record) for line, record in iter_records(cfg.data, with_lines=True)]
    if cfg.limit:
        records = records[: cfg.limit]
    if not records:
        raise UserError("no records to evaluate", file=cfg.data, field="--data")
    scorers = ScorerLookup(cfg.scorer)
    task_types = sorted({r["task_type"] for _, r in records})
    used = sorted({scorers.name(t) for t in task_types} - {None})
    unscored = [t for t in task_types if scorers(t) is None]
    print(f"[evaluate] {len(records)} records, {len(task_types)} task types; scorers: {used or 'none'}"
          + (f"; no scorer (loss and log-prob only): {unscored}" if unscored and cfg.sampling else ""),
          file=sys.stderr)
    per_model, summaries = {}, {}
    for label, path in zip("AB", cfg.models):
        print(f"[evaluate] model {label}: {path}", file=sys.stderr)
        per_model[label] = evaluate_model(path, records, cfg, scorers)
        summaries[label] = summarize(per_model[label], cfg.k)
    rows = compare(summaries["A"], summaries["B"], cfg.thresholds)
    header = {"A": cfg.models[0], "B": cfg.models[1], "data": cfg.data, "records": len(records), "mask": cfg.mask,
              "sampling": cfg.sampling and bool(used), "num_samples": cfg.num_samples, "k": cfg.k,
              "temperature": cfg.temperature, "seed": cfg.seed, "max_new_tokens": cfg.max_new_tokens,
              "scorers": ", ".join(used), "pass1_threshold": cfg.thresholds.pass1,
              "passk_threshold": cfg.thresholds.passk}
    text = markdown(rows, header)
    os.makedirs(cfg.out, exist_ok=True)
    write_text(os.path.join(cfg.out, "report.md"), text)  # aside, then renamed: a kill never leaves half a report
    plot(rows, header, os.path.join(cfg.out, "report.png"))
    result = {"config": {**asdict(cfg)}, "header": header, "comparison": rows,
              "models": {label: {"path": path, "groups": summaries[label], "samples": per_model[label]}
                         for label, path in zip("AB", cfg.models)}}
    write_json(os.path.join(cfg.out, "results.json"), result, ensure_ascii=False, indent=1)
    print(terminal(rows, header))
    print(f"[evaluate] wrote {cfg.out}/report.md, report.png, results.json", file=sys.stderr)
    return result


def parse_args(argv: list[str] | None = None) -> EvalConfig:
    d = EvalConfig(models=[], data="")
    p = argparse.ArgumentParser(prog="python -m core.eval.evaluate", formatter_class=argparse.ArgumentDefaultsHelpFormatter,
                                description="Compare model B against model A on one eval set, per task_type "
                                            "(report.md, report.png, results.json in --out).")
    p.add_argument("--models", nargs="+", required=True, metavar="MODEL", help="A then B: 'tiny' or local checkpoints")
    p.add_argument("--data", required=True, help="eval record JSONL (the last assistant turn is the reference)")
    p.add_argument("--out", default=d.out, help="report folder")
    p.add_argument("--mask", default=d.mask, choices=["all", "last", "prompt"], help="tokens the eval loss covers")
    p.add_argument("--max-len", type=int, default=d.max_len, help="tokens per packed row (teacher-forced pass)")
    p.add_argument("--scorer", default=None,
                   help="module:function (or an entry-point name) scoring every record; default: the "
                        "sft_suites.scorers entry point named by each task_type's first level")
    p.add_argument("--no-sampling", action="store_true", help="loss and log-prob only")
    p.add_argument("--num-samples", type=int, default=d.num_samples, help="draws per prompt (n)")
    p.add_argument("--k", type=int, default=d.k, help="k of pass@k (<= n)")
    p.add_argument("--temperature", type=float, default=d.temperature, help="sampling temperature of the draws")
    p.add_argument("--max-new-tokens", type=int, default=d.max_new_tokens, help="per draw")
    p.add_argument("--batch-size", type=int, default=d.batch_size, help="prompts per generation batch")
    p.add_argument("--seed", type=int, default=d.seed, help="sampling seed (the same for both models)")
    p.add_argument("--limit", type=int, default=0, help="only the first N records")
    p.add_argument("--pass1-threshold", type=float, default=d.thresholds.pass1,
                   help="|Δpass@1| counted as a move (absolute)")
    p.add_argument("--passk-threshold", type=float, default=d.thresholds.passk,
                   help="|Δpass@k| counted as a real change (absolute)")
    p.add_argument("--device", default=d.device, help="cpu, cuda, cuda:1, ...")
    p.add_argument("--dtype", default=d.dtype, choices=["fp32", "bf16"])
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    a = p.parse_args(argv)
    return EvalConfig(models=a.models, data=a.data, out=a.out, mask=a.mask, max_len=a.max_len, scorer=a.scorer,
                      sampling=not a.no_sampling, num_samples=a.num_samples, k=a.k, temperature=a.temperature,
                      max_new_tokens=a.max_new_tokens, batch_size=a.batch_size, seed=a.seed, limit=a.limit,
                      thresholds=Thresholds(a.pass1_threshold, a.passk_threshold), device=a.device,
                      dtype=a.dtype, progress=not a.no_progress)


def main(argv: list[str] | None = None) -> dict:
    cfg = parse_args(argv)
    try:
        cfg.validate()
        ScorerLookup(cfg.scorer)
    except ValueError as e:
        raise SystemExit(str(e)) from None
    return run(cfg)


if __name__ == "__main__":
    from core.errors import run_cli

    run_cli("python -m core.eval.evaluate", main)
