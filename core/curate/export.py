"""python -m core.curate.export IN.jsonl [IN2.jsonl ...] --to llamafactory|trl|axolotl|swift --out DIR [--name NAME]
[--mask all|last] [--on-inexpressible error|drop|keep]

Writes record files in the layout another trainer loads, as that trainer documents it, plus the
configuration snippet that makes it train the same turns:

  llamafactory  DIR/NAME.jsonl (sharegpt) + DIR/dataset_info.json (system and tools columns)
                + DIR/llamafactory_args.yaml (mask_history for mask last)
  trl           DIR/NAME.jsonl (messages + tools; prompt + completion for mask last) + DIR/trl_sft_config.yaml
  axolotl       DIR/NAME.jsonl (messages with a train flag on every message) + DIR/axolotl_datasets.yaml
  swift         DIR/NAME.jsonl (messages, tools, channel = task_type, per-message loss) + DIR/swift_sft_args.txt

Per-message train flags LLaMA-Factory and TRL cannot set (a failed call marked "train": false) are
expressed by splitting: one row per trained assistant turn, each training only its last turn (mask_history /
prompt + completion). A record a format still cannot express (see core.curate.export_formats) stops the export
naming file, line and reason (error, the default), is left out and counted (drop), or is written as the trainer
will read it and counted (keep). DIR/export_report.json records every count and, under "differences", what
each trainer trains differently from core's rendering (the newline LLaMA-Factory's and ms-swift's ChatML / Qwen
templates put after <|im_end|>, counted in extra_trained_tokens; task_type where the format has no place).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter

import yaml

from core.curate.export_formats import TARGETS, needs_split, split_by_trained_turn, train_flags
from core.data.readers import add_format_arguments, iter_any
from core.data.records import ReadStats, RecordError, dumps_record
from core.errors import UserError
from core.outputs import atomic_write, write_json, write_text

POLICIES = ("error", "drop", "keep")


class ExportError(UserError):
    pass


SPLITTABLE = ("llamafactory", "trl")  # they train every assistant turn or only the last one, set per run
CHATML_NEWLINE = "the newline after <|im_end|> of each trained turn (ChatML / Qwen templates)"


def _differences(target: str, prompt_completion: bool, split: bool, extra: int, no_task_type: int) -> list[str]:
    """What the trainer will train differently from core.data.chat's rendering, in words."""
    out = []
    if target in ("llamafactory", "swift"):
        out.append(f"+{extra} trained tokens: {CHATML_NEWLINE}")
    if target == "trl":
        out.append(f"+{extra} trained tokens: completion_only_loss trains all after the prompt (ChatML: the newline "
                   "after <|im_end|>)" if prompt_completion else
                   "exact: assistant_only_loss trains the template's {% generation %} spans")
    if target == "axolotl":
        out.append("exact with train_on_eos: turn; a trained non-assistant message is refused (content only)")
    if target == "llamafactory":
        out.append("rendered by LLaMA-Factory's own `template:`; text beside calls precedes a <tool_call> block")
    if split:
        out.append("one row per trained assistant turn, training its last turn (same tokens, same contexts)")
    if no_task_type:
        out.append(f"task_type of {no_task_type} records not exported (no per-sample tag; swift keeps it as channel)")
    return out


def convert(records: list[tuple[str, dict]], target: str, mask: str, policy: str) -> tuple[list[dict], dict]:
    """(where, record) pairs -> rows of `target`, and a report of what could not be expressed and of what the
    trainer trains differently from core (extra_trained_tokens: the ChatML newline case)."""
    to_row = TARGETS[target][0]
    flags = [train_flags(record, mask) for _, record in records]
    split = target in SPLITTABLE and any(needs_split(r, f, mask) for (_, r), f in zip(records, flags))
    row_mask = "last" if split else mask
    prompt_completion = target == "trl" and row_mask == "last"
    rows, problems, examples, unexported = [], Counter(), [], Counter()
    kept = extra = 0
    for (where, record), record_flags in zip(records, flags):
        unexported["meta"] += "meta" in record
        unexported["id"] += "id" in record
        unexported["tool_call_id"] += sum("tool_call_id" in m for m in record["messages"])
        unexported["task_type"] += target != "swift"
        trains_others = any(f and m["role"] != "assistant" for m, f in zip(record["messages"], record_flags))
        # (a trained non-assistant message is not split away: converted whole, the converter names it)
        parts = split_by_trained_turn(record, record_flags) if split and not trains_others else [(record, record_flags)]
        made, found = [], []
        for part, part_flags in parts:
            row, part_found = to_row(part, part_flags, row_mask)
            made.append(row)
            found += part_found
        for reason in dict.fromkeys(found):
            problems[reason] += 1
            if len(examples) < 5:
                examples.append(f"{where}: {reason}")
        if not found or policy == "keep":
            rows += made
            kept += 1
            if target in ("llamafactory", "swift"):
                extra += sum(f and m["role"] == "assistant" for m, f in zip(record["messages"], record_flags))
            elif prompt_completion:
                extra += len(made)
    report = {"target": target, "mask": mask, "policy": policy, "layout": "split" if split else "whole",
              "records": len(records), "written": kept, "rows": len(rows), "dropped": len(records) - kept,
              "not_expressible": dict(sorted(problems.items())), "examples": examples,
              "fields_not_exported": {k: v for k, v in sorted(unexported.items()) if v},
              "extra_trained_tokens": extra,
              "differences": _differences(target, prompt_completion, split, extra, unexported["task_type"]),
              "row_mask": row_mask}
    if problems and policy == "error":
        raise ExportError(f"{sum(problems.values())} problem(s) exporting to {target} with mask {mask!r} "
                          f"({dict(problems)}); first: " + "; ".join(examples)
                          + " (use --on-inexpressible drop|keep to go on)")
    return rows, report


def snippets(target: str, out: str, name: str, mask: str) -> dict[str, str]:
    """The configuration files that make the trainer read the data and train the same turns."""
    data = os.path.join(os.path.abspath(out), f"{name}.jsonl")
    if target == "llamafactory":
        info = {name: {"file_name": f"{name}.jsonl", "formatting": "sharegpt",
                       "columns": {"messages": "conversations", "system": "system", "tools": "tools"},
                       "tags": {"role_tag": "from", "content_tag": "value", "user_tag": "human",
                                "assistant_tag": "gpt", "observation_tag": "observation",
                                "function_tag": "function_call", "system_tag": "system"}}}
        args = {"dataset_dir": os.path.abspath(out), "dataset": name, "mask_history": mask == "last",
                "train_on_prompt": False}
        return {"dataset_info.json": json.dumps(info, indent=2, ensure_ascii=False) + "\n",
                "llamafactory_args.yaml": "# merge into your LLaMA-Factory SFT config (set template: for your model)\n"
                + yaml.safe_dump(args, sort_keys=False)}
    if target == "trl":
        config = {"assistant_only_loss": True} if mask == "all" else {"completion_only_loss": True}
        return {"trl_sft_config.yaml": f"# SFTConfig(**this); load {data} with datasets.load_dataset('json')\n"
                + ("# assistant_only_loss needs a chat template with {% generation %} markers\n" if mask == "all" else "")
                + yaml.safe_dump(config, sort_keys=False)}
    if target == "axolotl":
        config = {"datasets": [{"path": data, "ds_type": "json", "type": "chat_template",
                                "chat_template": "tokenizer_default", "field_messages": "messages",
                                "field_tools": "tools", "message_property_mappings": {"role": "role", "content": "content"},
                                "roles_to_train": [], "train_on_eos": "turn", "message_field_training": "train"}]}
        return {"axolotl_datasets.yaml": "# merge into your axolotl config\n" + yaml.safe_dump(config, sort_keys=False)}
    args = ["swift", "sft", "--dataset", data, "--enable_channel_loss", "true", "--loss_scale", "default",
            "--agent_template", "hermes"]
    return {"swift_sft_args.txt": "# per-message 'loss' fields override --loss_scale (ms-swift >= 3.8);"
            " add --model and your training options\n" + " ".join(args) + "\n"}


def export(paths: list[str], target: str, out: str, name: str | None = None, mask: str = "all",
           policy: str = "error", lenient: bool = False, fmt: str = "auto", task_type: str = "") -> dict:
    if target not in TARGETS:
        raise ExportError(f"--to: {target!r} is not one of {sorted(TARGETS)}")
    if mask not in ("all", "last") or policy not in POLICIES:
        raise ExportError(f"--mask must be all|last and --on-inexpressible one of {POLICIES}")
    for path in paths:
        if not os.path.exists(path):
            raise ExportError(f"{path} does not exist")
    name = name or os.path.splitext(os.path.basename(paths[0]))[0]
    records, reads = [], []
    for path in paths:
        stats = ReadStats()
        rows = iter_any(path, fmt=fmt, task_type=task_type, lenient=lenient, stats=stats, with_lines=True)
        records += [(f"{path}:{line}", r) for line, r in rows]
        reads.append(f"{path}: {stats.summary()}")
    rows, report = convert(records, target, mask, policy)
    os.makedirs(out, exist_ok=True)
    with atomic_write(os.path.join(out, f"{name}.jsonl"), keep_partial=False) as f:
        for row in rows:
            f.write(dumps_record(row) + "\n")
    files = snippets(target, out, name, report["row_mask"])
    for filename, text in files.items():
        write_text(os.path.join(out, filename), text)
    report.update(read=reads, files=[f"{name}.jsonl", *files])
    write_json(os.path.join(out, "export_report.json"), report, indent=2, ensure_ascii=False)
    return report


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m core.curate.export", description="\n\n".join(__doc__.split("\n\n")[1:3]),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # the target list, whole
    parser.add_argument("inputs", nargs="+", help="data files (records, or any format core.data.readers reads)")
    parser.add_argument("--to", required=True, choices=sorted(TARGETS), dest="target")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--name", help="dataset name (default: the first input's file name)")
    parser.add_argument("--mask", default="all", choices=["all", "last"], help="which assistant turns are trained")
    parser.add_argument("--on-inexpressible", default="error", choices=POLICIES, dest="policy")
    parser.add_argument("--lenient", action="store_true", help="skip invalid input lines (counted)")
    add_format_arguments(parser)
    args = parser.parse_args(argv)
    try:
        report = export(args.inputs, args.target, args.out, args.name, args.mask, args.policy, args.lenient,
                        args.format, args.task_type)
    except (ExportError, RecordError) as e:
        sys.exit(f"error: {e}")
    for line in report["read"]:
        print(f"[read] {line}")
    for reason, n in report["not_expressible"].items():
        print(f"[{'dropped' if args.policy == 'drop' else 'kept as the trainer reads it'}] {n}: {reason}")
    for field, n in report["fields_not_exported"].items():
        print(f"[not exported] {field}: {n} (no place for it in the {args.target} format)")
    if report["layout"] == "split":
        print(f"[split] {report['written']} records written as {report['rows']} rows (one per trained assistant turn)")
    for line in report["differences"]:
        print(f"[differs] {line}")
    print(f"[done] {report['written']} of {report['records']} records written for {args.target} to {args.out}: "
          + ", ".join(report["files"]))
    return report


if __name__ == "__main__":
    from core.errors import run_cli

    run_cli("python -m core.curate.export", main)
