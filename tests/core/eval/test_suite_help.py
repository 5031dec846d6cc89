"""Help pages and tables a user reads: one usage block per command, each option once, tables in 120 columns."""

import pytest

from core.eval.scoring import format_table


@pytest.mark.parametrize("suite", ["rag", "agent"])
def test_suite_train_help_is_one_page(suite, capsys):
    import importlib

    main = importlib.import_module(f"suites.{suite}.train").main
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert text.count("usage:") == 1 and text.startswith(f"usage: python -m suites.{suite}.train")
    assert "--max-steps" in text and "--max_steps" not in text  # one spelling shown (both are accepted)
    assert "--shares" in text and "--n-train" in text and "--optim.lr" in text  # suite, pipeline and trainer options
    assert text.count("  --out ") == 1


def test_dotted_max_steps_still_accepted():
    from core.train.config import from_args

    assert from_args(["--data", "a.jsonl", "--max_steps", "3"], "prog", "").max_steps == 3
    assert from_args(["--data", "a.jsonl", "--max-steps", "4"], "prog", "").max_steps == 4


def test_wide_score_tables_keep_to_120_columns_and_name_what_is_left_out():
    row = {"n": 10, "correct": 0.5, **{f"metric_{i:02d}": 0.1 for i in range(20)}}
    agg = {"ALL": row, "rag/conflicting_sources_with_a_very_long_scenario_name_indeed": row}
    table = format_table(agg, columns={"before": agg, "after": agg})
    assert max(len(line) for line in table.splitlines()) <= 120
    assert "correct before" in table and "correct after" in table
    assert "more metrics in the JSON report: metric_" in table.splitlines()[-1]
