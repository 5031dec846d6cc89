"""Opt-in check (not CI): load core.curate.export's LLaMA-Factory export with LLaMA-Factory's own converter,
template and supervised processor, and compare the tokens it trains with core.data.chat's rendering.

Run it through scripts/check_exports_with_trainers.sh, which installs llamafactory (no dependencies) into
.cache/trainer-check and puts an empty `torchaudio` in front (LLaMA-Factory imports it at module level; the
text-only path never uses it, and a CPU torch has no matching torchaudio wheel). Prints, per mask, how many
records train exactly core's tokens plus what export_report.json says (the newline after <|im_end|> of each
trained turn) and the first records that differ otherwise. Exit status 1 if any record differs.
"""

from __future__ import annotations

import copy
import json
import os
import sys
import tempfile
from types import SimpleNamespace


def trained_runs(input_ids, labels, ignore=-100):
    runs, run = [], []
    for token, label in zip(input_ids, labels):
        if label != ignore:
            run.append(token)
        elif run:
            runs.append(run)
            run = []
    return runs + ([run] if run else [])


def lf_rows(path, info, name, mask_history, tokenizer, template_name):
    from llamafactory.data.converter import SharegptDatasetConverter
    from llamafactory.data.parser import DatasetAttr
    from llamafactory.data.processor.supervised import SupervisedDatasetProcessor
    from llamafactory.data.template import TEMPLATES

    entry = info[name]
    attr = DatasetAttr("file", name, formatting="sharegpt", **entry["columns"], **entry["tags"])
    data_args = SimpleNamespace(media_dir="", mask_history=mask_history, cutoff_len=1 << 20, train_on_prompt=False)
    converter = SharegptDatasetConverter(attr, data_args)
    template = copy.deepcopy(TEMPLATES[template_name])
    template.fix_special_tokens(tokenizer)
    processor = SupervisedDatasetProcessor(template=template, tokenizer=tokenizer, processor=None, data_args=data_args)
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            example = converter(json.loads(line))
            batch = processor.preprocess_dataset({k: [v] for k, v in example.items()})
            out.append(trained_runs(batch["input_ids"][0], batch["labels"][0]) if batch["input_ids"] else None)
    return out


def main() -> int:
    from core.curate.export import export
    from core.curate.export_formats import train_flags
    from core.data.chat import render_record
    from core.data.records import write_records
    from core.model.loading import load_tokenizer
    from suites.agent.generate import generate

    tokenizer = load_tokenizer("tiny")
    newline = tokenizer.convert_tokens_to_ids("Ċ")
    records = generate(200, 11, "mix")
    failed = False
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "agent.jsonl")
        write_records(src, records)
        for mask in ("all", "last"):
            out = os.path.join(tmp, mask)
            report = export([src], "llamafactory", out, mask=mask)
            with open(os.path.join(out, "dataset_info.json"), encoding="utf-8") as f:
                info = json.load(f)
            rows = lf_rows(os.path.join(out, "agent.jsonl"), info, "agent", report["row_mask"] == "last",
                           tokenizer, os.environ.get("LF_TEMPLATE", "qwen"))
            owners = []  # which record each row came from
            for k, record in enumerate(records):
                flags = train_flags(record, mask)
                n = sum(f and m["role"] == "assistant" for m, f in zip(record["messages"], flags))
                owners += [k] * (n if report["layout"] == "split" else 1)
            lf_by_record: dict[int, list] = {}
            for k, runs in zip(owners, rows):
                lf_by_record.setdefault(k, []).extend(runs or [])
            exact, differ, extra = 0, [], 0
            for k, record in enumerate(records):
                sample = render_record(record, tokenizer, mask=mask)
                core = trained_runs(sample.input_ids, sample.labels)
                lf = lf_by_record.get(k, [])
                if len(lf) == len(core) and all(a == b + [newline] for a, b in zip(lf, core)):
                    exact += 1
                    extra += len(core)
                else:
                    differ.append((k, record["task_type"], core, lf))
            print(f"[llamafactory mask {mask}] {len(records)} records, {len(rows)} rows ({report['layout']}): {exact} train "
                  f"core's tokens + the newline per trained turn ({extra} tokens; the report says "
                  f"{report['extra_trained_tokens']}), {len(differ)} differ")
            for k, task_type, core, lf in differ[:3]:
                print(f"  record {k} ({task_type}): core {[tokenizer.decode(r) for r in core]}\n"
                      f"  {' ' * len(str(k))}        LLaMA-Factory {[tokenizer.decode(r) for r in lf]}")
            failed |= bool(differ)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
