"""Export: for each target the written files match the trainer's documented schema (transcribed below from
its docs), the conversation, tools and trained turns survive a round trip unchanged, what a format cannot
express is refused, dropped or kept and counted, and TRL's own SFTTrainer tokenises the TRL export into
exactly core.data.chat's input ids and labels."""

import json

import jsonschema
import pytest
import yaml

from core.curate.export import ExportError, export, main
from core.curate.export_formats import TARGETS, TOOL_RESULT_SEPARATOR, canonical
from core.data.chat import IGNORE_INDEX, render_record
from core.data.records import read_records, write_records

TOOLS = [{"type": "function", "function": {"name": "convert", "description": "Convert units", "parameters": {
    "type": "object", "properties": {"value": {"type": "number"}, "unit": {"type": "string"}}, "required": ["value"]}}},
    {"type": "function", "function": {"name": "weather", "description": "Weather in a city", "parameters": {
        "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]


def call(name, **arguments):
    return {"type": "function", "function": {"name": name, "arguments": arguments}}


RECORDS = [
    {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is 2+3?"},
                  {"role": "assistant", "content": "5."}], "task_type": "chat/math"},
    {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "Hello."},
                  {"role": "user", "content": "bye"}, {"role": "assistant", "content": "Goodbye!"}],
     "task_type": "chat/multi"},
    {"messages": [{"role": "user", "content": "Convert 3 km and tell me the weather in Paris."},
                  {"role": "assistant", "content": "", "tool_calls": [call("convert", value=3, unit="km"),
                                                                       call("weather", city="Paris")]},
                  {"role": "tool", "name": "convert", "content": "{\"miles\": 1.864}"},
                  {"role": "tool", "name": "weather", "content": "sunny, 21 C"},
                  {"role": "assistant", "content": "3 km is about 1.86 miles; Paris is sunny at 21 C."}],
     "tools": TOOLS, "task_type": "agent/parallel"},
    {"messages": [{"role": "user", "content": "今天巴黎天气怎么样？"},
                  {"role": "assistant", "content": "", "tool_calls": [call("weather", city="巴黎")]},
                  {"role": "tool", "content": "晴，21度"}, {"role": "assistant", "content": "巴黎今天晴，21度。"}],
     "tools": TOOLS, "task_type": "agent/single"},
]
MID_TURN_UNTRAINED = {"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b", "train": False},
                                   {"role": "user", "content": "c"}, {"role": "assistant", "content": "d"},
                                   {"role": "user", "content": "e"}, {"role": "assistant", "content": "f"}],
                      "task_type": "chat/flags"}
TEXT_AND_CALL = {"messages": [{"role": "user", "content": "Weather in Rome?"},
                              {"role": "assistant", "content": "Let me check.", "tool_calls": [call("weather", city="Rome")]},
                              {"role": "tool", "name": "weather", "content": "rain"},
                              {"role": "assistant", "content": "It rains in Rome."}], "tools": TOOLS, "task_type": "agent/thought"}

# --- the trainers' documented schemas ----------------------------------------------------------------------
# LLaMA-Factory data/README.md, "Sharegpt Format" and dataset_info.json description.
LF_ROW = {"type": "object", "required": ["conversations"], "additionalProperties": False, "properties": {
    "conversations": {"type": "array", "minItems": 2, "items": {
        "type": "object", "required": ["from", "value"], "additionalProperties": False,
        "properties": {"from": {"enum": ["human", "gpt", "function_call", "observation"]}, "value": {"type": "string"}}}},
    "system": {"type": "string"}, "tools": {"type": "string"}}}
LF_INFO = {"type": "object", "additionalProperties": {
    "type": "object", "required": ["file_name"], "additionalProperties": False, "properties": {
        "file_name": {"type": "string"}, "formatting": {"enum": ["alpaca", "sharegpt"]},
        "columns": {"type": "object", "additionalProperties": False, "properties": {
            k: {"type": "string"} for k in ("prompt", "query", "response", "history", "messages", "system", "tools",
                                            "images", "chosen", "rejected", "kto_tag")}},
        "tags": {"type": "object", "additionalProperties": False, "properties": {
            k: {"type": "string"} for k in ("role_tag", "content_tag", "user_tag", "assistant_tag", "observation_tag",
                                            "function_tag", "system_tag")}}}}}
# TRL docs/source/dataset_formats.md: conversational language modeling / prompt-completion, "Tool Calling".
TRL_MESSAGE = {"type": "object", "required": ["role"], "properties": {
    "role": {"enum": ["system", "user", "assistant", "tool"]}, "content": {"type": "string"}, "name": {"type": "string"},
    "tool_calls": {"type": "array", "items": {"type": "object", "required": ["type", "function"], "properties": {
        "type": {"const": "function"}, "function": {"type": "object", "required": ["name", "arguments"], "properties": {
            "name": {"type": "string"}, "arguments": {"type": "object"}}}}}}}, "additionalProperties": False}
TRL_TOOLS = {"type": "array", "items": {"type": "object", "required": ["type", "function"], "properties": {
    "type": {"const": "function"}, "function": {"type": "object", "required": ["name", "parameters"]}}}}
TRL_ROW = {"oneOf": [
    {"type": "object", "required": ["messages"], "additionalProperties": False,
     "properties": {"messages": {"type": "array", "items": TRL_MESSAGE}, "tools": TRL_TOOLS}},
    {"type": "object", "required": ["prompt", "completion"], "additionalProperties": False,
     "properties": {"prompt": {"type": "array", "items": TRL_MESSAGE}, "completion": {"type": "array", "items": TRL_MESSAGE},
                    "tools": TRL_TOOLS}}]}
# axolotl docs/dataset-formats/conversation.qmd, chat_template with message_field_training, field_tools (config.qmd).
AXOLOTL_ROW = {"type": "object", "required": ["messages"], "additionalProperties": False, "properties": {
    "messages": {"type": "array", "items": {**TRL_MESSAGE, "required": ["role", "train"],
                                            "properties": {**TRL_MESSAGE["properties"], "train": {"type": "boolean"}}}},
    "tools": TRL_TOOLS}}
AXOLOTL_DATASET = {"type": "object", "required": ["path", "type"], "additionalProperties": False, "properties": {
    "path": {"type": "string"}, "ds_type": {"const": "json"}, "type": {"const": "chat_template"},
    "chat_template": {"type": "string"}, "field_messages": {"type": "string"}, "field_tools": {"type": "string"},
    "message_property_mappings": {"type": "object"}, "roles_to_train": {"type": "array"},
    "train_on_eos": {"enum": ["all", "turn", "last", "none"]}, "message_field_training": {"type": "string"}}}
# ms-swift docs/source_en/Customization/Custom-dataset.md: messages format, "loss" (>= 3.8), channel loss, Agent format.
SWIFT_ROW = {"type": "object", "required": ["messages"], "additionalProperties": False, "properties": {
    "messages": {"type": "array", "items": {"type": "object", "required": ["role", "content"], "additionalProperties": False,
                                            "properties": {"role": {"enum": ["system", "user", "assistant", "tool_call",
                                                                             "tool_response", "tool"]},
                                                           "content": {"type": "string"}, "loss": {"type": "boolean"}}}},
    "tools": {"type": "string"}, "channel": {"type": "string"}}}


def lf_alternation_ok(row):
    """LLaMA-Factory's SharegptDatasetConverter: human/observation at odd turns, gpt/function_call at even
    turns, an even number of turns."""
    turns = [t["from"] for t in row["conversations"]]
    odd, even = ("human", "observation"), ("gpt", "function_call")
    return len(turns) % 2 == 0 and all(t in (odd if k % 2 == 0 else even) for k, t in enumerate(turns))


def rows(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


@pytest.fixture
def data(tmp_path):
    path = tmp_path / "in.jsonl"
    write_records(path, RECORDS)
    return path


@pytest.mark.parametrize("mask", ["all", "last"])
@pytest.mark.parametrize("target", sorted(TARGETS))
def test_round_trip_preserves_conversation_tools_and_trained_turns(data, tmp_path, target, mask):
    records = read_records(data)
    report = export([str(data)], target, str(tmp_path / target), mask=mask)
    assert report["written"] == len(records) and not report["not_expressible"]
    back = [TARGETS[target][1](row, mask, r["task_type"]) for row, r in zip(rows(tmp_path / target / "in.jsonl"), records)]
    assert [canonical(b, mask) for b in back] == [canonical(r, mask) for r in records]


def test_llamafactory_files_follow_the_documented_schema(data, tmp_path):
    export([str(data)], "llamafactory", str(tmp_path))
    for row in rows(tmp_path / "in.jsonl"):
        jsonschema.validate(row, LF_ROW)
        assert lf_alternation_ok(row)
        for turn in row["conversations"]:
            if turn["from"] == "function_call":
                calls = json.loads(turn["value"])
                for c in calls if isinstance(calls, list) else [calls]:
                    assert set(c) == {"name", "arguments"} and isinstance(c["arguments"], dict)
        if row["tools"]:
            jsonschema.validate(json.loads(row["tools"]), TRL_TOOLS)
    info = json.loads((tmp_path / "dataset_info.json").read_text(encoding="utf-8"))
    jsonschema.validate(info, LF_INFO)
    assert info["in"]["columns"] == {"messages": "conversations", "system": "system", "tools": "tools"}
    parallel = rows(tmp_path / "in.jsonl")[2]["conversations"][2]
    assert parallel == {"from": "observation", "value": "{\"miles\": 1.864}" + TOOL_RESULT_SEPARATOR + "sunny, 21 C"}
    assert yaml.safe_load((tmp_path / "llamafactory_args.yaml").read_text())["mask_history"] is False


@pytest.mark.parametrize("mask", ["all", "last"])
def test_trl_files_follow_the_documented_schema(data, tmp_path, mask):
    export([str(data)], "trl", str(tmp_path), mask=mask)
    for row, record in zip(rows(tmp_path / "in.jsonl"), RECORDS):
        jsonschema.validate(row, TRL_ROW)
        assert ("messages" in row) == (mask == "all") and row["tools"] == record.get("tools", [])
    config = yaml.safe_load((tmp_path / "trl_sft_config.yaml").read_text())
    assert config == ({"assistant_only_loss": True} if mask == "all" else {"completion_only_loss": True})


def test_axolotl_files_follow_the_documented_schema(tmp_path):
    src = tmp_path / "in.jsonl"
    write_records(src, [*RECORDS, MID_TURN_UNTRAINED])
    export([str(src)], "axolotl", str(tmp_path / "x"))
    written = rows(tmp_path / "x" / "in.jsonl")
    for row in written:
        jsonschema.validate(row, AXOLOTL_ROW)
    assert [m["train"] for m in written[-1]["messages"]] == [False, False, False, True, False, True]
    config = yaml.safe_load((tmp_path / "x" / "axolotl_datasets.yaml").read_text())
    for dataset in config["datasets"]:
        jsonschema.validate(dataset, AXOLOTL_DATASET)
    assert config["datasets"][0]["message_field_training"] == "train" and config["datasets"][0]["roles_to_train"] == []


def test_swift_files_follow_the_documented_schema(tmp_path):
    src = tmp_path / "in.jsonl"
    write_records(src, [*RECORDS, MID_TURN_UNTRAINED, TEXT_AND_CALL])
    export([str(src)], "swift", str(tmp_path / "s"))
    written = rows(tmp_path / "s" / "in.jsonl")
    for row, record in zip(written, [*RECORDS, MID_TURN_UNTRAINED, TEXT_AND_CALL]):
        jsonschema.validate(row, SWIFT_ROW)
        assert row["channel"] == record["task_type"]
        for m in row["messages"]:
            assert ("loss" in m) == (m["role"] in ("assistant", "tool_call"))
            if m["role"] == "tool_call":
                assert set(json.loads(m["content"])) == {"name", "arguments"}
        if "tools" in row:
            jsonschema.validate(json.loads(row["tools"]), TRL_TOOLS)
    assert [m.get("loss") for m in written[4]["messages"]] == [None, False, None, True, None, True]
    assert [m["role"] for m in written[5]["messages"]][:3] == ["user", "assistant", "tool_call"]
    # ms-swift's hermes agent template joins text and <tool_call> with nothing between; the newline core's
    # template puts there is written into the text (scripts/check_exports_with_trainers.sh measures it), and
    # taken off again on the way back.
    assert written[5]["messages"][1]["content"] == "Let me check.\n"
    assert TARGETS["swift"][1](written[5], "all", "agent/thought")["messages"][1]["content"] == "Let me check."
    assert "--enable_channel_loss true" in (tmp_path / "s" / "swift_sft_args.txt").read_text()


TRAINED_USER = {"messages": [{"role": "user", "content": "Repeat after me: hello.", "train": True},
                             {"role": "assistant", "content": "hello"}], "task_type": "chat/echo"}


def _prefix_canonical(record, turn):
    """canonical() of the record cut after `turn`, training only that turn."""
    part = {**record, "messages": [dict(m) for m in record["messages"][: turn + 1]]}
    for k, m in enumerate(part["messages"]):
        m["train"] = k == turn
    return canonical(part, "last")


def test_per_message_flags_are_split_into_rows_for_llamafactory_and_trl(tmp_path):
    src = tmp_path / "in.jsonl"
    records = [RECORDS[0], MID_TURN_UNTRAINED, TEXT_AND_CALL]
    write_records(src, records)
    for target in ("llamafactory", "trl"):
        report = export([str(src)], target, str(tmp_path / target))
        assert report["layout"] == "split" and report["written"] == 3 and report["dropped"] == 0
        assert report["rows"] == 1 + 2 + 2 and not report["not_expressible"]  # one row per trained assistant turn
        assert any("one row per trained assistant turn" in d for d in report["differences"])
        turns = [(r, t) for r in records for t in range(len(r["messages"]))
                 if r["messages"][t]["role"] == "assistant" and r["messages"][t].get("train", True)]
        back = [TARGETS[target][1](row, "last", r["task_type"]) for row, (r, _) in zip(rows(tmp_path / target / "in.jsonl"), turns)]
        assert [canonical(b, "last") for b in back] == [_prefix_canonical(r, t) for r, t in turns]
    args = yaml.safe_load((tmp_path / "llamafactory" / "llamafactory_args.yaml").read_text())
    assert args["mask_history"] is True  # each row trains only its last turn
    assert yaml.safe_load((tmp_path / "trl" / "trl_sft_config.yaml").read_text()) == {"completion_only_loss": True}
    # LLaMA-Factory: the text beside the calls goes before a <tool_call> block of the function_call turn.
    lf = rows(tmp_path / "llamafactory" / "in.jsonl")
    assert lf[-1]["conversations"][1]["value"].startswith("Let me check.\n<tool_call>{")


def test_inexpressible_records_are_refused_dropped_or_kept_and_counted(tmp_path):
    src = tmp_path / "in.jsonl"
    write_records(src, [RECORDS[0], MID_TURN_UNTRAINED, TRAINED_USER])
    for target, reason in [("llamafactory", "trained non-assistant message (LLaMA-Factory trains assistant turns only)"),
                           ("trl", "trained non-assistant message (TRL trains assistant turns only)"),
                           ("axolotl", "trained non-assistant message (axolotl trains its content only, not its role "
                                       "header and end-of-turn token)"),
                           ("swift", "trained non-assistant message (ms-swift's loss field applies to assistant messages)")]:
        with pytest.raises(ExportError, match=r"in.jsonl:3: trained non-assistant message"):
            export([str(src)], target, str(tmp_path / "a" / target))
        report = export([str(src)], target, str(tmp_path / "b" / target), policy="drop")
        assert report["written"] == 2 and report["dropped"] == 1 and report["not_expressible"] == {reason: 1}
        assert json.loads((tmp_path / "b" / target / "export_report.json").read_text())["dropped"] == 1
        report = export([str(src)], target, str(tmp_path / "c" / target), policy="keep")
        assert report["written"] == 3 and report["not_expressible"] == {reason: 1}
    for target in ("axolotl", "swift"):  # per-message flags are expressible there as they are
        report = export([str(src)], target, str(tmp_path / "d" / target), policy="drop")
        assert report["layout"] == "whole"
        back = [TARGETS[target][1](row, "all", r["task_type"]) for row, r in
                zip(rows(tmp_path / "d" / target / "in.jsonl"), read_records(src)[:2])]
        assert [canonical(b, "all") for b in back] == [canonical(r, "all") for r in read_records(src)[:2]]


def test_the_report_names_what_each_trainer_trains_differently(data, tmp_path):
    reports = {t: export([str(data)], t, str(tmp_path / t)) for t in sorted(TARGETS)}
    trained_turns = sum(m["role"] == "assistant" for r in RECORDS for m in r["messages"])
    for target in ("llamafactory", "swift"):  # "<|im_end|>\n" in the assistant part of their ChatML / Qwen templates
        assert reports[target]["extra_trained_tokens"] == trained_turns
        assert reports[target]["differences"][0].startswith(f"+{trained_turns} trained tokens: the newline after <|im_end|>")
    assert reports["trl"]["extra_trained_tokens"] == 0 and reports["axolotl"]["extra_trained_tokens"] == 0
    assert "exact: assistant_only_loss" in reports["trl"]["differences"][0]
    for target in ("llamafactory", "trl", "axolotl"):
        assert reports[target]["fields_not_exported"] == {"task_type": 4}
        assert any(d.startswith("task_type of 4 records not exported") for d in reports[target]["differences"])
    assert "task_type" not in reports["swift"]["fields_not_exported"]  # kept as channel
    last = export([str(data)], "trl", str(tmp_path / "trl_last"), mask="last")
    assert last["extra_trained_tokens"] == 4  # one completion per record, each ending in the trained newline


def test_agent_suite_default_output_exports_to_every_trainer_without_drops(tmp_path):
    from suites.agent.generate import generate

    records = generate(300, 11, "mix")
    assert any(m.get("train") is False for r in records for m in r["messages"])  # the case that forced drops
    src = tmp_path / "agent.jsonl"
    write_records(src, records)
    for target in sorted(TARGETS):
        for mask in ("all", "last"):
            report = export([str(src)], target, str(tmp_path / f"{target}_{mask}"), mask=mask)
            assert report["written"] == 300 and report["dropped"] == 0 and not report["not_expressible"], target


def test_cli_errors_and_summary(data, tmp_path, capsys):
    main([str(data), "--to", "swift", "--out", str(tmp_path / "s"), "--name", "mydata"])
    assert (tmp_path / "s" / "mydata.jsonl").exists()
    assert "[done] 4 of 4 records written for swift" in capsys.readouterr().out
    with_meta = tmp_path / "meta.jsonl"
    write_records(with_meta, [{**RECORDS[0], "meta": {"seed": 1}}, RECORDS[1]])
    report = main([str(with_meta), "--to", "trl", "--out", str(tmp_path / "m")])
    assert report["fields_not_exported"] == {"meta": 1, "task_type": 2}
    printed = capsys.readouterr().out
    assert "[not exported] meta: 1 (no place for it in the trl format)" in printed
    assert "[differs] exact: assistant_only_loss trains the template's {% generation %} spans" in printed
    src = tmp_path / "flags.jsonl"
    write_records(src, [TRAINED_USER])
    with pytest.raises(SystemExit, match="flags.jsonl:1: trained non-assistant message"):
        main([str(src), "--to", "trl", "--out", str(tmp_path / "t")])


@pytest.mark.parametrize("mask", ["all", "last"])
def test_trl_sft_trainer_tokenises_the_export_like_core(data, tmp_path, tiny_tokenizer, mask):
    """TRL's own dataset preparation on the exported file gives core.data.chat's ids and trained tokens; with
    mask last, completion_only_loss also trains the template's newline after the end-of-turn token."""
    trl = pytest.importorskip("trl")
    import datasets

    from core.model.loading import load_model

    export([str(data)], "trl", str(tmp_path / "trl"), mask=mask)
    dataset = datasets.load_dataset("json", data_files=str(tmp_path / "trl" / "in.jsonl"), split="train")
    config = yaml.safe_load((tmp_path / "trl" / "trl_sft_config.yaml").read_text())
    args = trl.SFTConfig(output_dir=str(tmp_path / "run"), report_to="none", use_cpu=True, max_length=None, **config)
    trainer = trl.SFTTrainer(model=load_model("tiny"), args=args, train_dataset=dataset, processing_class=tiny_tokenizer)
    newline = tiny_tokenizer.convert_tokens_to_ids("Ċ")
    extra = 0
    for row, record in zip(trainer.train_dataset, read_records(data)):
        sample = render_record(record, tiny_tokenizer, mask=mask)
        assert row["input_ids"] == sample.input_ids
        expected = list(sample.labels)
        if mask == "last":  # the completion ends with "<|im_end|>\n"; TRL trains the newline as well
            assert sample.input_ids[-1] == newline and expected[-1] == IGNORE_INDEX
            expected[-1] = newline
        assert row["labels"] == expected
        extra += sum(label != IGNORE_INDEX for label in row["labels"]) - sample.num_trained
    report = json.loads((tmp_path / "trl" / "export_report.json").read_text())
    assert extra == report["extra_trained_tokens"] == (4 if mask == "last" else 0)  # exactly what the report says


def test_trl_trains_the_split_rows_like_core_plus_what_the_report_says(tmp_path, tiny_tokenizer):
    """Per-message flags (a failed call not trained) exported for TRL as one prompt + completion row per trained
    turn: TRL's own preparation gives, row by row, core's ids up to that turn and core's trained tokens of that
    turn, plus the newline after <|im_end|>; the extra count is the report's extra_trained_tokens."""
    trl = pytest.importorskip("trl")
    import datasets

    from core.model.loading import load_model

    failed_call = {"messages": [{"role": "user", "content": "Weather in Rome?"},
                                {"role": "assistant", "content": "", "tool_calls": [call("weather", town="Rome")],
                                 "train": False},
                                {"role": "tool", "name": "weather", "content": "{\"error\": \"unknown argument town\"}"},
                                {"role": "assistant", "content": "Retrying.", "tool_calls": [call("weather", city="Rome")]},
                                {"role": "tool", "name": "weather", "content": "rain"},
                                {"role": "assistant", "content": "It rains in Rome."}],
                   "tools": [{"type": "function", "function": {**TOOLS[1]["function"], "parameters": {
                       "type": "object", "properties": {"city": {"type": "string"}, "town": {"type": "string"}}}}}],
                   "task_type": "agent/tool_error"}
    records = [RECORDS[2], MID_TURN_UNTRAINED, failed_call]
    src = tmp_path / "in.jsonl"
    write_records(src, records)
    report = export([str(src)], "trl", str(tmp_path / "trl"))
    assert report["layout"] == "split" and report["rows"] == 2 + 2 + 2
    dataset = datasets.load_dataset("json", data_files=str(tmp_path / "trl" / "in.jsonl"), split="train")
    config = yaml.safe_load((tmp_path / "trl" / "trl_sft_config.yaml").read_text())
    args = trl.SFTConfig(output_dir=str(tmp_path / "run"), report_to="none", use_cpu=True, max_length=None, **config)
    trainer = trl.SFTTrainer(model=load_model("tiny"), args=args, train_dataset=dataset, processing_class=tiny_tokenizer)
    samples = [render_record(r, tiny_tokenizer) for r in records]
    trained_by_trl = {k: set() for k in range(len(records))}
    owners = [k for k, r in enumerate(records) for m in r["messages"] if m["role"] == "assistant" and m.get("train", True)]
    for row, k in zip(trainer.train_dataset, owners):
        full = samples[k].input_ids
        assert row["input_ids"] == full[: len(row["input_ids"])]  # the same context, cut after the trained turn
        trained_by_trl[k] |= {j for j, label in enumerate(row["labels"]) if label != IGNORE_INDEX}
    newline = tiny_tokenizer.convert_tokens_to_ids("Ċ")
    extra = 0
    for k, sample in enumerate(samples):
        core_trained = {j for j, label in enumerate(sample.labels) if label != IGNORE_INDEX}
        assert core_trained <= trained_by_trl[k]
        assert all(sample.input_ids[j] == newline for j in trained_by_trl[k] - core_trained)
        extra += len(trained_by_trl[k] - core_trained)
    assert extra == report["extra_trained_tokens"] == report["rows"]
