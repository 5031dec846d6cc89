import copy

import pytest

from core.data.chat import IGNORE_INDEX, RenderedSample, RenderError
from core.data.inspect import TRAIN_CLOSE, TRAIN_OPEN, failure_report, length_table, main
from core.data.records import dumps_record


def user(content, **extra):
    return {"role": "user", "content": content, **extra}


def assistant(content, **extra):
    return {"role": "assistant", "content": content, **extra}


HI = {"messages": [user("hi"), assistant("Hello.")], "task_type": "chat/en"}
ADD = {"messages": [user("2+2?"), assistant("4.")], "task_type": "math/add"}
BACKGROUND = {"messages": [{"role": "background", "content": "It rains."}, user("Weather?"), assistant("Rain.")],
              "task_type": "chat/en"}
UNTRAINED = {"messages": [user("你好"), assistant("你好！", train=False)], "task_type": "chat/zh"}
LONGER = {"messages": [user("hello there"), assistant("Hi, how can I help you today?")], "task_type": "chat/en"}


def write_lines(path, lines):
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return str(path)


def test_report_names_lines_counts_failures_and_tabulates(tmp_path, capsys):
    # Line 2 is blank and line 3 invalid, so record indexes and line numbers differ from line 4 on.
    path = write_lines(tmp_path / "d.jsonl", [dumps_record(HI), "", "{oops", dumps_record(ADD), dumps_record(BACKGROUND),
                                              dumps_record(UNTRAINED), dumps_record(LONGER)])
    status = main([path, "--lenient", "--extra-roles", "background", "--show", "3", "--no-color"])
    assert status == 0  # failures are reported and counted; --strict makes them an error
    assert capsys.readouterr().out.splitlines() == [
        f"=== {path}:1 (chat/en), 21 tokens, 6 trained ===",
        "<|im_start|>user",
        "hi<|im_end|>",
        "<|im_start|>assistant",
        "[[Hello.<|im_end|>]]",
        "",
        f"=== {path}:4 (math/add), 21 tokens, 3 trained ===",
        "<|im_start|>user",
        "2+2?<|im_end|>",
        "<|im_start|>assistant",
        "[[4.<|im_end|>]]",
        "",
        f"=== {path}:5 (chat/en), 39 tokens, 5 trained ===",
        "<|im_start|>background",
        "It rains.<|im_end|>",
        "<|im_start|>user",
        "Weather?<|im_end|>",
        "<|im_start|>assistant",
        "[[Rain.<|im_end|>]]",
        "",
        "5 records read, 1 skipped (invalid_json: 1)",
        "1 sample failed to render (nothing_trained: 1)",
        f"  {path}:6: no token is trained under mask 'all'",
        "rendered: strategy:markers: 4",
        "task_type                     count     p50     p90     p99     max  trained",
        "----------------------------------------------------------------------------",
        # chat/en lengths 21, 35, 39 with 6 + 17 + 5 trained: p90 = 35 + 0.8 * 4, 28 / 95 trained
        "chat/en                           3      35      38      38      39    29.5%",
        "math/add                          1      21      21      21      21    14.3%",
        # all lengths 21, 21, 35, 39: p50 = 28, p90 = 35 + 0.7 * 4, p99 = 35 + 0.97 * 4; 31 / 116 trained
        "ALL                               4      28      37      38      39    26.7%",
    ]
    assert main([path, "--lenient", "--extra-roles", "background", "--show", "0", "--no-color", "--strict"]) == 1


def test_trained_spans_are_coloured_unless_asked_not_to(tmp_path, capsys):
    path = write_lines(tmp_path / "d.jsonl", [dumps_record(HI)])
    assert main([path]) == 0
    assert f"{TRAIN_OPEN}Hello.<|im_end|>{TRAIN_CLOSE}" in capsys.readouterr().out.splitlines()


def test_undeclared_custom_role_is_a_one_line_error_naming_the_line(tmp_path, capsys):
    path = write_lines(tmp_path / "d.jsonl", [dumps_record(HI), dumps_record(BACKGROUND)])
    with pytest.raises(SystemExit) as exit_:
        main([path, "--no-color"])
    assert exit_.value.code == 2
    assert capsys.readouterr().err == (f'python -m core.data.inspect: error: {path}:2: messages[0].role: unknown role '
                                       '"background" (declare custom roles with --extra-roles)\n')


def test_failures_are_counted_by_reason_and_the_rest_is_reported(tmp_path, tiny_tokenizer, capsys):
    # A tokenizer (loaded through --tokenizer) whose template leaves <|im_end|> out of the generation span.
    tokenizer = copy.deepcopy(tiny_tokenizer)
    tokenizer.chat_template = tokenizer.chat_template.replace(
        "{{- '<|im_end|>' }}\n{%- endgeneration %}", "{%- endgeneration %}{{- '<|im_end|>' }}")
    tokenizer.save_pretrained(tmp_path / "tok")
    prompt_only = {"messages": [user("hi", train=True), assistant("Hello.", train=False)], "task_type": "chat/prompt"}
    path = write_lines(tmp_path / "d.jsonl", [dumps_record(HI), dumps_record(UNTRAINED), dumps_record(prompt_only)])
    status = main([path, "--tokenizer", str(tmp_path / "tok"), "--show", "0", "--no-color", "--strict"])
    assert status == 1
    assert capsys.readouterr().out.splitlines() == [
        "3 records read, none skipped",
        "2 samples failed to render (nothing_trained: 1, untrained_end_of_turn: 1)",
        f"  {path}:1: messages[1] is trained but its end-of-turn token '<|im_end|>' is not",
        f"  {path}:2: no token is trained under mask 'all'",
        "rendered: strategy:markers: 1",
        "task_type                     count     p50     p90     p99     max  trained",
        "----------------------------------------------------------------------------",
        # "<|im_start|>user\nhi<|im_end|>\n" is 7 of the 21 tokens: <|im_start|> use r \n hi <|im_end|> \n
        "chat/prompt                       1      21      21      21      21    33.3%",
        "ALL                               1      21      21      21      21    33.3%",
    ]


def test_failure_report_lists_at_most_ten():
    failures = [RenderError(f"d.jsonl:{i}: no token is trained under mask 'all'", "nothing_trained")
                for i in range(1, 13)]
    lines = failure_report(failures).splitlines()
    assert lines[0] == "12 samples failed to render (nothing_trained: 12)"
    assert lines[1:] == [f"  d.jsonl:{i}: no token is trained under mask 'all'" for i in range(1, 11)] + [
        "  ... and 2 more"]


def sample(task_type, length, trained):
    return RenderedSample(input_ids=[7] * length, labels=[7] * trained + [IGNORE_INDEX] * (length - trained),
                          task_type=task_type)


def test_length_table_percentiles_and_trained_share():
    samples = [sample("b/y", 50, 25)] + [sample("a/x", n, n // 10) for n in (40, 10, 100, 30, 20)]
    assert length_table(samples).splitlines() == [
        "task_type                     count     p50     p90     p99     max  trained",
        "----------------------------------------------------------------------------",
        # sorted 10..40, 100: p90 = 40 + 0.6 * 60 = 76, p99 = 40 + 0.96 * 60 = 97.6; 20 / 200 trained
        "a/x                               5      30      76      97     100    10.0%",
        "b/y                               1      50      50      50      50    50.0%",
        # 10, 20, 30, 40, 50, 100: p50 = 35, p90 = 50 + 0.5 * 50, p99 = 50 + 0.95 * 50; 45 / 250 trained
        "ALL                               6      35      75      97     100    18.0%",
    ]
