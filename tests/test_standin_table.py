"""scripts/svhn_standin/standin_table.py: the per-checkpoint table of a stand-in summary (docs/svhn-standin-runs.md)."""

import json

import standin_table  # each scripts/ folder is on pytest's pythonpath


def run_main(argv, capsys):
    """standin_table.main in this process: (exit code, stdout, stderr)."""
    try:
        code = standin_table.main([str(a) for a in argv])
    except SystemExit as exit_info:
        code = exit_info.code
    out = capsys.readouterr()
    return code, out.out, out.err


def test_standin_table_rows_and_refusals(tmp_path, capsys):
    """One row per checkpoint in order of iteration; the other factors exclude the digit and take |r|; a missing
    run or an unreadable summary is one line and exit 2."""
    point = {"health": {"diversity": 0.25, "score": 0.5}, "digit_nmi_best": 0.9, "digit_nmi_variable": "c2",
             "digit_accuracy_best": 0.95,
             "categorical": [{"variable": "c1", "nmi": {"digit": 0.99, "font": 0.125}},
                             {"variable": "c2", "nmi": {"digit": 0.9, "texture": 0.25}}],
             "continuous": [{"variable": "cont1", "r": {"scale": -0.75}, "eta": {"digit": 0.9, "font": 0.5}}]}
    summary = tmp_path / "summary.json"
    summary.write_text(json.dumps({"runs": {"run_a": {"checkpoints": {"10000": point, "2000": point}}}}))
    code, out, err = run_main([summary, "run_a"], capsys)
    assert code == 0, err
    rows = out.splitlines()[2:]
    assert rows == [f"| {i} | 0.250 | 0.500 | 0.900 (c2) | 95.0% | texture 0.250 (c2) | scale 0.75 (cont1) |"
                    for i in (2000, 10000)]
    code, out, err = run_main([summary, "run_b"], capsys)
    assert code == 2 and out == "" and err.count("\n") == 1 and "no run run_b" in err and "run_a" in err
    code, out, err = run_main([tmp_path / "none.json", "run_a"], capsys)
    assert code == 2 and err.startswith("standin_table.py: error: cannot read the summary")
