"""--data.end_of_turn (and the other template options) reach the data config from core.train, inspect and
every suite's train."""

import importlib

import pytest

from core.train import config as config_lib
from core.train.config import TrainConfig


@pytest.mark.parametrize("suite", ["agent", "rag", "complex_instr"])
def test_suite_train_lists_the_template_options(suite, capsys):
    module = importlib.import_module(f"suites.{suite}.train")
    with pytest.raises(SystemExit):
        module.main(["--help"])
    out = capsys.readouterr().out
    assert "--data.end_of_turn" in out and "--data.template_strategy" in out


def test_longctx_train_passes_dotted_template_options():
    from suites.longctx.demo_config import parse_args

    _, overrides = parse_args(["--data.end_of_turn", "<|eot_id|>", "--data.parallel_calls", "refuse"])
    cfg = TrainConfig()
    for key, value in overrides:
        config_lib.set_option(cfg, key, value)
    assert (cfg.data.end_of_turn, cfg.data.parallel_calls) == ("<|eot_id|>", "refuse")


def test_template_options_are_validated_up_front():
    with pytest.raises(Exception, match="data.template_strategy"):
        config_lib.set_option(TrainConfig(), "data.template_strategy", "guess")


def test_inspect_prints_the_probe_and_counts(tmp_path, capsys):
    from core.data.inspect import main
    from core.data.records import write_records
    from tests.core.data.test_templates import HAND_MADE

    path = str(tmp_path / "d.jsonl")
    write_records(path, HAND_MADE)
    assert main([path, "--template", "--show", "0", "--no-color", "--data.end_of_turn", "<|im_end|>"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("[template] strategy markers; end of turn '<|im_end|>'; prefix-stable True")
    assert f"rendered: strategy:markers: {len(HAND_MADE)}" in out
