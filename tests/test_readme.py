"""The README and the pages in docs/ stay true to the code: every flag they name exists, the commands the README
gives are the ones CI runs, the numbers are the measured ones, the links lead somewhere and the project layout
names every module."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
DOCS = {path: path.read_text() for path in sorted((ROOT / "docs").glob("*.md"))}
MNIST_RESULTS = (ROOT / "docs" / "mnist-results.md").read_text()  # the detail behind the README's MNIST results


def _option_strings(parser) -> set[str]:
    return {option for action in parser._actions for option in action.option_strings}


def test_every_flag_the_readme_and_docs_name_exists():
    from bidirectional_infogan.evaluate import cli as evaluate_cli
    from bidirectional_infogan.train import cli
    import train_celeba
    import train_mnist
    import train_svhn
    known = _option_strings(evaluate_cli.build_parser())
    for script in (train_mnist.SCRIPT, train_celeba.SCRIPT, train_svhn.SCRIPT):
        known |= _option_strings(cli.build_parser(script))
    for helper in list((ROOT / "bench").glob("*.py")) + list((ROOT / "scripts").glob("*/*.py")):
        known |= set(re.findall(r'add_argument\("(--[a-z_0-9-]+)"', helper.read_text()))
    for shell_script in (ROOT / "scripts").glob("*/*.sh"):  # case patterns, e.g. `--kills) ...`, and tests such as
        text = shell_script.read_text()                     # [ "$2" = "--figures" ]
        known |= set(re.findall(r"^\s*(--[a-z_0-9]+)\)", text, flags=re.MULTILINE))
        known |= set(re.findall(r'\[ "\$\{?[0-9]:?-?\}?" !?= "(--[a-z_0-9]+)" \]', text))
    known.add("--logdir")  # TensorBoard's own flag
    named = set(re.findall(r"(?<![\w-])--[a-z][a-z_0-9-]*[a-z0-9]", README))
    assert len(named) > 20 and sorted(named - known) == []
    for path, text in DOCS.items():
        named = set(re.findall(r"(?<![\w-])--[a-z][a-z_0-9-]*[a-z0-9]", text))
        assert sorted(named - known) == [], path.name


def test_the_readme_test_command_is_what_ci_runs():
    ci = (ROOT / ".ci" / "run").read_text()
    assert "python -m pytest -q" in README and "python3 -m pytest -q" in ci
    assert "pip install -r requirements.txt" in README and "pip install --quiet --disable-pip-version-check -r requirements.txt" in ci


def test_the_readme_results_are_the_measured_ones():
    """The results tables are filled by hand, so check each number against the JSON it is made from: the results
    table in the README; the figures, the continuous variables and the trajectories in docs/mnist-results.md."""
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
                    f"{variable['corr_ink']:+.2f} | {variable['corr_slant']:+.2f} |") in MNIST_RESULTS
    # the whole table (machine and code columns too) is the one scripts/mnist/mnist_results.py makes from the file
    import mnist_results
    for line in mnist_results.markdown(results["runs"], results["summary"]).splitlines():
        assert line in README, line
    reliable = json.loads((ROOT / "results" / "mnist_reliable.json").read_text())
    assert mnist_results.recipe_row("reliable", reliable["runs"], reliable["summary"]) in README
    if len(results["runs"]) > 1:
        a, n, r = (results["summary"][key] for key in ("accuracy", "nmi", "ari"))
        assert (f"| mean ± std ({len(results['runs'])} runs) | | {a['mean']:.2%} ± {a['std']:.2%} | "
                f"{n['mean']:.3f} ± {n['std']:.3f} | {r['mean']:.3f} ± {r['std']:.3f} |") in README
    def trajectory(seed):
        points = json.loads((ROOT / "results" / f"mnist_trajectory_seed{seed}.json").read_text())["points"]
        return {point["iteration"]: point for point in points}
    trajectories = {run["seed"]: trajectory(run["seed"]) for run in results["runs"]}
    # the course table: "iteration", then per seed "seed N: test accuracy" (seed 12345's followed by its "NMI"),
    # and the reference run's column, which has no file here
    table = re.search(r"^\| iteration \|.*\n\|[-:| ]+\|\n((?:\|.*\|\n)+)", MNIST_RESULTS, flags=re.MULTILINE)
    header = [cell.strip() for cell in table.group(0).splitlines()[0].strip("|").split("|")]
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in table.group(1).splitlines()]
    seed_columns = {i: int(m.group(1)) for i, cell in enumerate(header)
                    if (m := re.fullmatch(r"seed (\d+): test accuracy", cell))}
    assert set(seed_columns.values()) == {run["seed"] for run in results["runs"]}, "a column per run of the table"
    assert header[header.index("seed 12345: test accuracy") + 1] == "NMI" and len(rows) >= 5
    for row in rows:
        assert len(row) == len(header), row
        iteration = int(row[0].replace(",", ""))
        for column, seed in seed_columns.items():
            point = trajectories[seed][iteration]
            assert row[column] == f"{point['accuracy']:.2%}", (seed, iteration)
            if seed == 12345:
                assert row[column + 1] == f"{point['nmi']:.3f}", iteration
    # the text below the README's table names each run (and so does docs/mnist-results.md's); the figures, in
    # docs/mnist-results.md, are seed 12345's
    def words(text):  # line breaks as spaces
        return " ".join(text.split())
    for run in results["runs"]:
        assert f"{run['accuracy']:.2%} (seed {run['seed']})" in words(README)
        assert f"{run['accuracy']:.2%} (seed {run['seed']})" in words(MNIST_RESULTS)
    figures_run = next(run for run in results["runs"] if run["seed"] == 12345)
    assert f"All {figures_run['misclassified']} misclassified test images" in MNIST_RESULTS
    # "Pretrained model" names the run that pretrained/mnist was exported from, with its accuracy
    published = json.loads((ROOT / "pretrained" / "mnist" / "results.json").read_text())
    try_section = README.split("\n## Pretrained model\n", 1)[1].split("\n#", 1)[0]
    assert (f"(iteration {published['iteration']:,}) of the seed-{published['seed']} run of the [results table]"
            f"(#results-mnist), {published['accuracy']:.2%} test accuracy") in words(try_section)


def _headings_anchors(text: str) -> set[str]:
    """GitHub's anchors for a page's headings: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"^```.*?^```", "", text, flags=re.MULTILINE | re.DOTALL)
    return {re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
            for heading in re.findall(r"^#+ (.+)$", text, flags=re.MULTILINE)}


def test_the_links_between_readme_and_docs_lead_somewhere():
    """Every relative link of README.md and docs/*.md names an existing file, and every #anchor a heading."""
    pages = {ROOT / "README.md": README, **DOCS}
    checked = 0
    for page, text in pages.items():
        text = re.sub(r"^```.*?^```", "", text, flags=re.MULTILINE | re.DOTALL)
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+:", target):
                continue  # a web address
            path, _, anchor = target.partition("#")
            linked = (page.parent / path).resolve() if path else page
            assert linked.exists(), f"{page.name}: {target}"
            if anchor:
                assert anchor in _headings_anchors(linked.read_text()), f"{page.name}: {target}"
            checked += 1
    assert checked > 20
    assert "](docs/mnist-results.md)" in README and "](docs/table2-investigation.md)" in README


def test_the_project_layout_names_every_module():
    layout = README.split("\n## Layout\n", 1)[1].split("\n## ", 1)[0]
    # the package's own lines: from "  bidirectional_infogan/" to the next line that is not indented
    package_lines = re.search(r"^  bidirectional_infogan/\n((?:[ ]+.*\n)+)", layout, flags=re.MULTILINE).group(1)
    package = ROOT / "code" / "bidirectional_infogan"
    modules = [path.relative_to(package) for path in package.rglob("*.py") if path.name != "__init__.py"]
    assert len(modules) > 20
    for module in modules:
        assert re.search(rf"(?<![\w.]){re.escape(module.name)}", package_lines), module
    assert "\ndocs/ " in layout


def test_the_svhn_proxy_table_is_the_measured_one():
    """Each row of docs/celeba-svhn.md's SVHN-proxy table, recomputed from results/svhn_proxy.json (written by
    scripts/investigations/reproduce_proxy.sh): the best categorical variable per score, ranges over the four variables."""
    import json
    result = json.loads((ROOT / "results" / "svhn_proxy.json").read_text())
    points = {point["iteration"]: point for point in result["iterations"]}
    rows = re.findall(r"^\| ([\d,]+) \| ([\d.]+)% / ([\d.]+) \| ([\d.]+) / ([\d.]+) \| ([\d.]+)-([\d.]+)% \| "
                      r"([\d.]+)-([\d.]+) \| ([\d.]+) / ([\d.]+) \|$", DOCS[ROOT / "docs" / "celeba-svhn.md"], flags=re.MULTILINE)
    assert len(rows) >= 5 and int(rows[-1][0].replace(",", "")) == max(points) == 20000
    for row in rows:
        point = points[int(row[0].replace(",", ""))]
        categorical, generator = point["categorical"], point["generator"]["categorical"]
        recovered = [g["recovered"] * 100 for g in generator]
        visible = [g["visible_change"] for g in generator]

        def best_eta(factor):
            return max(c["eta"][factor] for c in point["continuous"])
        expected = (f"{max(c['accuracy_digit'] for c in categorical) * 100:.1f}",
                    f"{max(c['nmi']['digit'] for c in categorical):.3f}",
                    f"{max(c['nmi']['stroke_colour'] for c in categorical):.3f}",
                    f"{max(c['nmi']['background_colour'] for c in categorical):.3f}",
                    f"{min(recovered):.1f}", f"{max(recovered):.1f}", f"{min(visible):.2f}", f"{max(visible):.2f}",
                    f"{best_eta('background_colour'):.2f}", f"{best_eta('stroke_colour'):.2f}")
        assert tuple(row[1:]) == expected, row[0]


def test_the_celeba_proxy_table_is_the_measured_one():
    """docs/celeba-svhn.md's CelebA-proxy AUC table, recomputed from results/celeba_proxy_attributes.json (evaluate_model.py
    --evaluate --json, written by scripts/investigations/reproduce_proxy.sh celeba) and the meaning of each attribute column
    that scripts/investigations/make_proxy_data.py gives it."""
    import json
    from make_proxy_data import ATTRIBUTE_FACTORS
    rows = json.loads((ROOT / "results" / "celeba_proxy_attributes.json").read_text())["attributes"]
    groups = {"digit": "is digit k", "background": "background colour k", "random": "random fair coin"}
    readme_rows = re.findall(r"^\| (is digit k|background colour k|random fair coin) \((\d+) columns\) \| "
                             r"([\d.]+) \| ([\d.]+)-([\d.]+) \|$", DOCS[ROOT / "docs" / "celeba-svhn.md"],
                             flags=re.MULTILINE)
    assert sorted(row[0] for row in readme_rows) == sorted(groups.values())
    for factor, label in groups.items():
        auc = [row["auc"] for row in rows if ATTRIBUTE_FACTORS[row["attribute"]][0] == factor]
        expected = (label, str(len(auc)), f"{sum(auc) / len(auc):.3f}", f"{min(auc):.3f}", f"{max(auc):.3f}")
        assert expected in readme_rows


def check_probe_rows(section: str, probes: dict, scores, results: str) -> None:
    """Each probe's row of docs/table2-investigation.md's `section` ("| flags | iterations | scores |"): the scores
    column must be `scores(point)` of each listed iteration, joined by ", ", from results/<results>/<file>."""
    import json
    doc = (ROOT / "docs" / "table2-investigation.md").read_text()
    start = doc.index(section)
    doc = doc[start:doc.index("\n## ", start + 1)]  # other sections have rows with the same flags
    for flags, name in probes.items():
        row = re.search(rf"^\| {re.escape(flags)} \| ([^|]+) \| ([^|]+) \|", doc, flags=re.MULTILINE)
        assert row, flags
        iterations = [int(i.replace(",", "")) for i in row.group(1).split(" / ")]
        points = {p["iteration"]: p for p in json.loads((ROOT / "results" / results / name).read_text())["iterations"]}
        assert row.group(2).strip() == ", ".join(scores(points[i]) for i in iterations), flags


def best_nmi(point: dict, factor: str) -> float:
    return max(c["nmi"][factor] for c in point["categorical"])


def test_the_grey_digit_probe_table_is_the_measured_one():
    """The probes on grey digits: per iteration, the accuracy and NMI with the digit of the categorical variable
    with the largest NMI, recomputed from its scores in results/grey_proxy_probes/."""
    def scores(point):
        best = max(point["categorical"], key=lambda c: c["nmi"]["digit"])
        return f"{100 * best['accuracy_digit']:.1f}% / {best['nmi']['digit']:.3f}"
    check_probe_rows("## Grey digits with one set of D statistics", {
        "`--lr_g 5e-4` (probe E above, continued from 1,000)": "lr_g_5e-4.json",
        "`--d_batch_statistics joint --init he --lr_g 5e-4`": "joint_he_lr_g_5e-4.json",
        "`--d_batch_statistics joint --init he --lr_g 5e-4 --num_categorical 1`": "joint_he_lr_g_5e-4_1cat.json"},
        scores, "grey_proxy_probes")


def test_the_colour_proxy_probe_table_is_the_measured_one():
    """The probes on the colour proxy: each probe's best categorical NMI with the digit and with the background
    colour per iteration, recomputed from its scores in results/svhn_proxy_probes/."""
    check_probe_rows("## D's batch statistics, a NaN", {
        "`--d_batch_statistics joint`": "joint.json",
        "`--d_noise --lr_g 5e-4` (table 1's D noise and G/E rate)": "d_noise_lr_g_5e-4.json",
        "`--d_batch_statistics joint --init he`": "joint_he.json",
        "`--d_batch_statistics joint --init he --lr_g 5e-4`": "joint_he_lr_g_5e-4.json"},
        lambda p: f"{best_nmi(p, 'digit'):.3f} / {best_nmi(p, 'background_colour'):.3f}", "svhn_proxy_probes")


def test_the_celeba_proxy_flags_table_is_the_measured_one():
    """The CelebA proxy at the defaults and with the opt-in flags: best categorical NMI with the digit and with
    the background colour per iteration, from results/celeba_proxy.json and results/celeba_proxy_probes/."""
    scores = lambda p: f"{best_nmi(p, 'digit'):.3f} / {best_nmi(p, 'background_colour'):.3f}"
    check_probe_rows("## The CelebA proxy with the same flags", {"defaults": "celeba_proxy.json"}, scores, ".")
    check_probe_rows("## The CelebA proxy with the same flags",
                     {"`--d_batch_statistics joint --init he --lr_g 5e-4`": "joint_he_lr_g_5e-4.json",
                      "`--d_batch_statistics joint --init he --lr_g 5e-4 --consistency_weight 1 --consistency_augment both --balance_weight 1 --confidence_weight 1 --real_terms_variables 1 --d_r1 0.1` (the table-2 recipe)": "table2_recipe.json"}, scores,
                     "celeba_proxy_probes")


def test_the_celeba_proxy_flags_auc_table_is_the_measured_one():
    """The attribute AUC table of that section: per kind of column, mean (lowest-highest) of the best AUC, from the
    attribute tables of evaluate_model.py at the defaults and with the flags."""
    import json
    from make_proxy_data import ATTRIBUTE_FACTORS  # each scripts/ folder is on the path (pyproject.toml)
    doc = (ROOT / "docs" / "table2-investigation.md").read_text()
    start = doc.index("## The CelebA proxy with the same flags")
    doc = doc[start:doc.index("\n## ", start + 1)]
    files = [ROOT / "results" / "celeba_proxy_attributes.json",
             ROOT / "results" / "celeba_proxy_probes" / "joint_he_lr_g_5e-4_attributes.json",
             ROOT / "results" / "celeba_proxy_probes" / "table2_recipe_attributes.json"]
    tables = [json.loads(f.read_text())["attributes"] for f in files]
    for factor, label in {"digit": "is digit k", "background": "background colour k",
                          "random": "random fair coin"}.items():
        cells = []
        for rows in tables:
            auc = [row["auc"] for row in rows if ATTRIBUTE_FACTORS[row["attribute"]][0] == factor]
            cells.append(f"{sum(auc) / len(auc):.3f} ({min(auc):.3f}-{max(auc):.3f})")
        count = sum(1 for a in ATTRIBUTE_FACTORS.values() if a[0] == factor)
        assert f"| {label} ({count} columns) | {' | '.join(cells)} |" in doc, label


def test_the_standin_tables_are_the_measured_ones():
    """The SVHN stand-in rows of docs/svhn-standin-runs.md (and the recipe's in the README): each run's iterations and its best
    categorical variable's NMI with the digit (and accuracy), as results/svhn_standin/summary.json has them; the
    recipe's other factor (dark on light), and the accuracy range --help quotes for it from 5,000 iterations on."""
    import json
    from bidirectional_infogan.datasets import TABLE2_NOTE
    runs = json.loads((ROOT / "results" / "svhn_standin" / "summary.json").read_text())["runs"].values()
    measured = sorted((run["iterations"], f"{run['digit_nmi_best']:.3f}", f"{100 * run['digit_accuracy_best']:.1f}")
                      for run in runs)
    assert measured, "summary.json holds no run"
    readme = README[README.index("## Results (SVHN and CelebA)"):README.index("## Training on a GPU")]
    doc = DOCS[ROOT / "docs" / "svhn-standin-runs.md"]
    rows = re.findall(r"^\|[^\n]*?\| ([\d,]+) \| ([\d.]+) \(([\d.]+)%\)", doc, flags=re.MULTILINE)
    assert sorted((int(i.replace(",", "")), nmi, acc) for i, nmi, acc in rows) == measured

    recipe, = [run for run in runs if "--real_terms_variables 1" in run["flags"]]
    other = f"NMI {recipe['factor_nmi']['dark_on_light']:.3f}"
    row = next(line for line in doc.splitlines() if f"| {recipe['iterations']:,} |" in line)
    assert other in row
    # the README names the recipe's result in one sentence (its table is the doc's)
    assert (f"NMI with the digit is {recipe['digit_nmi_best']:.3f} ({100 * recipe['digit_accuracy_best']:.1f}% "
            f"accuracy) at {recipe['iterations']:,} iterations") in " ".join(readme.split())
    later = [c["digit_accuracy_best"] for i, c in recipe["checkpoints"].items() if int(i) >= 5000]
    assert f"{100 * min(later):.1f}-{100 * max(later):.1f}% under the best mapping from 5,000" in TABLE2_NOTE


def test_the_standin_checkpoint_tables_are_the_summarys():
    """Every run of results/svhn_standin/summary.json has its per-checkpoint table in docs/svhn-standin-runs.md,
    row for row as scripts/svhn_standin/standin_table.py makes it from the summary; a run on the SVHN-prior
    stand-in also its table of per-digit recall (and, with more values than digits, its many-to-one table)."""
    import json
    from standin_table import many_to_one_table, recall_table, table  # scripts/ folders are on the path
    runs = json.loads((ROOT / "results" / "svhn_standin" / "summary.json").read_text())["runs"]
    doc = DOCS[ROOT / "docs" / "svhn-standin-runs.md"]
    for name, run in runs.items():
        assert table(run) in doc, f"the table of {name} ({run['flags']}) is not in the doc as the summary has it"
        if run.get("label_prior") == "svhn":
            assert recall_table(run) in doc, f"the per-digit recall of {name} is not in the doc as the summary has it"
        if all("many_to_one" in point["categorical"][0] for point in run["checkpoints"].values()):
            assert many_to_one_table(run) in doc, f"the many-to-one recall of {name} is not in the doc"


def test_the_robust_mode_course_is_the_measured_one():
    """docs/mnist-results.md's table of the robust mode's run(s): each row's accuracy, NMI and health from
    results/mnist_robust_trajectory_seed<SEED>.json (with --consistency_shear 0.3:
    results/mnist_robust_shear_trajectory_seed<SEED>.json), and the defaults' column recomputed from their trajectories
    (mean, lowest and highest of the five seeds at that iteration)."""
    import json
    import statistics
    files = sorted((ROOT / "results").glob("mnist_robust_trajectory_seed*.json"))
    assert files, "the doc reports a robust-mode run: its trajectory file must be there"
    files += sorted((ROOT / "results").glob("mnist_robust_shear_trajectory_seed*.json"))
    section = MNIST_RESULTS.split("\n## The robust mode", 1)[1].split("\n## ", 1)[0]
    defaults = [json.loads((ROOT / "results" / f"mnist_trajectory_seed{run['seed']}.json").read_text())["points"]
                for run in json.loads((ROOT / "results" / "mnist.json").read_text())["runs"]]
    def label(path, seed):
        return "robust mode" + (" with `--consistency_shear 0.3`" if "_shear_" in path.name else "") + f", seed {seed}"
    tables = re.findall(r"^\| iteration \| (.*?): test accuracy \|", section, flags=re.MULTILINE)
    assert sorted(tables) == sorted(label(path, json.loads(path.read_text())["seed"]) for path in files), \
        "each table of the section has its trajectory file and each file its table"
    for path in files:
        held = json.loads(path.read_text())
        points = {point["iteration"]: point for point in held["points"]}
        column = re.escape(f"{label(path, held['seed'])}: test accuracy")
        table = re.search(rf"^\| iteration \| {column} \|.*\n\|[-:| ]+\|\n((?:\|.*\|\n)+)", section, flags=re.MULTILINE)
        assert table, f"no table for {path.name}"
        rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in table.group(1).splitlines()]
        assert len(rows) >= 3
        for row in rows:
            iteration = int(row[0].replace(",", ""))
            point = points[iteration]
            assert row[1:4] == [f"{point['accuracy']:.2%}", f"{point['nmi']:.3f}", f"{point['health']['score']:.3f}"]
            paper = [next(p["accuracy"] for p in run if p["iteration"] == iteration) for run in defaults]
            assert row[4] == f"{statistics.mean(paper):.2%} ({min(paper):.2%}-{max(paper):.2%})", iteration


def test_the_readme_is_a_users_page_that_starts_with_a_quick_start():
    """Issue 43: at most 15,000 bytes; the first section is the quick start (install, the pretrained model with the
    offline hint, a short training run); the reliable recipe's results row has its marked place."""
    assert len(README.encode()) <= 15_000
    first = README.split("\n## ", 2)[1]
    assert first.startswith("Quick start\n")
    for needed in ("pip install -r requirements.txt", "python evaluate_model.py --model_dir pretrained/mnist",
                   "--data_dir DIR", "MNIST_DIR=", "python code/train_mnist.py --max_iter 40"):
        assert needed in first, needed
    assert README.count("\n<!-- reliable-results -->\n") == 1
    assert "python code/train_mnist.py --recipe reliable" in README


def test_scripts_are_grouped_by_purpose():
    """Issue 43: at most 6 entries directly in scripts/, each folder described in scripts/README.md, and no script
    imports a script of another folder (what folders share lives in the package)."""
    import ast
    scripts = ROOT / "scripts"
    entries = sorted(p.name for p in scripts.iterdir() if p.name != "__pycache__")
    assert len(entries) <= 6, entries
    guide = (scripts / "README.md").read_text()
    folders = [p for p in scripts.iterdir() if p.is_dir() and p.name != "__pycache__"]
    own = {p.stem: p.parent.name for p in scripts.rglob("*.py")}
    for folder in folders:
        assert f"`{folder.name}/`" in guide, folder.name
        for path in folder.glob("*"):
            if path.suffix in (".py", ".sh"):
                assert path.name in guide, path.name
    crossing = []
    for path in scripts.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module] if isinstance(node, ast.ImportFrom) and node.module else [])
            crossing += [f"{path.relative_to(ROOT)} imports {n}" for n in names
                         if n in own and own[n] != path.parent.name]
    assert not crossing, crossing
