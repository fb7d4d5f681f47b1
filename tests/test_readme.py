"""The README stays true to the code: every flag it names exists, and the commands it gives are the ones CI
runs."""

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def _option_strings(parser) -> set[str]:
    return {option for action in parser._actions for option in action.option_strings}


def test_every_flag_the_readme_names_exists():
    from bidirectional_infogan import cli, evaluate_cli
    sys.path.insert(0, str(ROOT / "code"))
    import train_celeba
    import train_mnist
    import train_svhn
    known = _option_strings(evaluate_cli.build_parser())
    for script in (train_mnist.SCRIPT, train_celeba.SCRIPT, train_svhn.SCRIPT):
        known |= _option_strings(cli.build_parser(script))
    for helper in list((ROOT / "bench").glob("*.py")) + list((ROOT / "scripts").glob("*.py")):
        known |= set(re.findall(r'add_argument\("(--[a-z_]+)"', helper.read_text()))
    known |= {"--figures"}  # scripts/reproduce_mnist.sh's own argument
    known.add("--logdir")  # TensorBoard's own flag
    named = set(re.findall(r"(?<![\w-])--[a-z][a-z_]*", README))
    assert len(named) > 20 and sorted(named - known) == []


def test_the_readme_test_command_is_what_ci_runs():
    ci = (ROOT / ".ci" / "run").read_text()
    assert "python -m pytest -q" in README and "python3 -m pytest -q" in ci
    assert "pip install -r requirements.txt" in README and "pip install --quiet --disable-pip-version-check -r requirements.txt" in ci


def test_the_readme_results_are_the_measured_ones():
    """The results tables are filled by hand, so check each number against the JSON it is made from."""
    import json
    results = json.loads((ROOT / "results" / "mnist.json").read_text())
    assert results["summary"]["runs"] == len(results["runs"]) >= 1
    for run in results["runs"]:
        row = (f"| {run['seed']} | {run['iteration']:,} | {run['accuracy']:.2%} | {run['nmi']:.3f} | "
               f"{run['ari']:.3f} | {run['misclassified']} |")
        assert row in README
        for variable in run["continuous"]:
            number = variable["variable"].split()[-1]
            assert (f"| {run['seed']} | {variable['variable']} (E's output {number}, figure `_c{number}`) | "
                    f"{variable['corr_ink']:+.2f} | {variable['corr_slant']:+.2f} |") in README
    if len(results["runs"]) > 1:
        a, n, r = (results["summary"][key] for key in ("accuracy", "nmi", "ari"))
        assert (f"| mean ± std ({len(results['runs'])} runs) | | {a['mean']:.2%} ± {a['std']:.2%} | "
                f"{n['mean']:.3f} ± {n['std']:.3f} | {r['mean']:.3f} ± {r['std']:.3f} |") in README
    def trajectory(seed):
        points = json.loads((ROOT / "results" / f"mnist_trajectory_seed{seed}.json").read_text())["points"]
        return {point["iteration"]: point for point in points}
    seed_12345, seed_1 = trajectory(12345), trajectory(1)
    # iteration | seed 12345: accuracy | NMI | reference run | seed 1: accuracy
    rows = re.findall(r"^\| ([\d,]+) \| ([\d.]+)% \| ([\d.]+) \| [\d.]+% \| ([\d.]+)% \|$", README,
                      flags=re.MULTILINE)
    assert len(rows) >= 5
    for iteration, accuracy, nmi, accuracy_seed_1 in rows:
        iteration = int(iteration.replace(",", ""))
        point = seed_12345[iteration]
        assert (f"{point['accuracy']:.2%}", f"{point['nmi']:.3f}") == (f"{accuracy}%", nmi)
        assert f"{seed_1[iteration]['accuracy']:.2%}" == f"{accuracy_seed_1}%"
    # the quick start names each run; the figures are seed 12345's
    for run in results["runs"]:
        assert f"{run['accuracy']:.2%} (seed {run['seed']})" in README
    figures_run = next(run for run in results["runs"] if run["seed"] == 12345)
    assert f"All {figures_run['misclassified']} misclassified test images" in README
