"""evaluate_model.py on a short training run: every mode, image sizes and grid layouts, the code cache,
and bad input."""

import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bidirectional_infogan import evaluation
from bidirectional_infogan.data.mnist import load_mnist
from bidirectional_infogan.evaluate_cli import main

ROOT = Path(__file__).resolve().parents[1]
CELL = 28 + 1  # a cell and its separator


def grid_size(rows, cols, size=28):
    return (cols * size + cols - 1, rows * size + rows - 1)  # PIL order: (width, height)


def cell(pixels, row, col, size=28):
    return pixels[row * (size + 1):row * (size + 1) + size, col * (size + 1):col * (size + 1) + size]


@pytest.fixture(scope="module")
def run_copy(trained_run, tmp_path_factory):
    """A private copy of the shared run, so that the files this module writes stay here."""
    copy = tmp_path_factory.mktemp("eval") / trained_run.name
    shutil.copytree(trained_run, copy)
    return copy


@pytest.fixture(scope="module")
def test_data(mnist_dir):
    test = load_mnist(mnist_dir).test
    index = {img.tobytes(): i for i, img in enumerate(test.images[..., 0])}
    return test, index


def run_main(argv):
    out = io.StringIO()
    code = main([str(a) for a in argv], out=out)
    return code, out.getvalue()


@pytest.fixture(scope="module")
def all_modes(run_copy, mnist_dir):
    code, out = run_main(["--model_dir", run_copy, "--evaluate", "--sample", "--reconstruct", "--generate",
                          "--misclassified", "--json", run_copy / "figures.json", "--data_dir", mnist_dir])
    assert code == 0, out
    return out, json.loads((run_copy / "figures.json").read_text())


def predictions(run_dir, labels):
    codes = np.load(run_dir / "test_codes" / "iteration-40.npz")["codes"]
    categories = codes[:, 16:26].argmax(axis=1)
    mapping = evaluation.hungarian_mapping(categories, labels, 10, 10)
    return evaluation.apply_mapping(categories, mapping), codes


def test_evaluate_reports_and_json(all_modes, run_copy, test_data):
    out, figures = all_modes
    test, _ = test_data
    assert "No encodings.txt" in out and "Hungarian" in out
    predicted, _ = predictions(run_copy, test.labels)
    expected = float(np.mean(predicted == test.labels))
    assert figures["accuracy"] == pytest.approx(expected)
    assert f"Accuracy: {expected:.4f}" in out
    assert figures["iteration"] == 40 and figures["n_test"] == 10000
    assert np.sum(figures["confusion_matrix"]) == 10000
    for key in ("nmi", "ari", "purity", "per_class_accuracy", "encodings", "reconstruction_mse",
                "random_pair_mse", "misclassified"):
        assert key in figures
    assert figures["misclassified"] == 10000 - round(expected * 10000)
    assert not (run_copy / "encodings.txt").exists()  # the user's file is never written


def test_encodings_file_is_used(run_copy, mnist_dir, test_data):
    test, _ = test_data
    predicted, codes = predictions(run_copy, test.labels)
    categories = codes[:, 16:26].argmax(axis=1)
    (run_copy / "encodings.txt").write_text("0,1,2,3,4,5,6,7,8,9\n")
    try:
        code, out = run_main(["--model_dir", run_copy, "--evaluate", "--data_dir", mnist_dir])
    finally:
        (run_copy / "encodings.txt").unlink()
    assert code == 0
    identity = float(np.mean(categories == test.labels))
    assert f"Accuracy: {identity:.4f}" in out and "encodings.txt" in out and "No encodings.txt" not in out
    assert "test codes from the cache" in out


def test_sample_layouts(all_modes, run_copy, test_data):
    test, index = test_data
    predicted, codes = predictions(run_copy, test.labels)
    pixels = np.asarray(Image.open(run_copy / "samples" / "samples_categorical.png"))
    assert pixels.shape[::-1] == grid_size(10, 60)
    for row in range(10):
        for col in (0, 7):
            image = cell(pixels, row, col)
            if image.any():  # a row may be padded with black when a digit has fewer than 60 images
                assert predicted[index[image.tobytes()]] == row
    cont = np.asarray(Image.open(run_copy / "samples" / "sample_cont_c1.png"))
    assert cont.shape[::-1] == grid_size(20, 30)
    # rows 2k and 2k+1: confident images of digit k with the smallest, then the largest values of c1
    c1 = codes[:, 26]
    for k in range(10):
        small, large = cell(cont, 2 * k, 0), cell(cont, 2 * k + 1, 0)
        if small.any():
            i, j = index[small.tobytes()], index[large.tobytes()]
            assert predicted[i] == k and predicted[j] == k and c1[i] <= c1[j]


def test_reconstruction_layout(all_modes, run_copy, test_data):
    test, index = test_data
    pixels = np.asarray(Image.open(run_copy / "samples" / "samples_reconstruction.png"))
    assert pixels.shape[::-1] == grid_size(10, 40)
    for row in range(10):
        for pair in (0, 19):
            original = cell(pixels, row, 2 * pair)
            assert test.labels[index[original.tobytes()]] == row  # originals in the odd columns, by true class
            assert original.tobytes() not in (cell(pixels, row, 2 * pair + 1).tobytes(),)
    out, figures = all_modes
    assert "Reconstruction MSE" in out and figures["random_pair_mse"] > 0


def test_generate_layouts(all_modes, run_copy):
    for name in ("generated_imgs_categorical.png", "generated_imgs_cont_c1.png", "generated_imgs_cont_c2.png"):
        assert Image.open(run_copy / "samples" / name).size == grid_size(10, 10)


def test_misclassified_layout(all_modes, run_copy, test_data):
    out, figures = all_modes
    test, _ = test_data
    image = Image.open(run_copy / "samples" / "misclassified.png")
    wrong = np.array(figures["confusion_matrix"]).sum(axis=1) - np.diag(figures["confusion_matrix"])
    rows = sum(max(1, -(-int(w) // 30)) for w in wrong)
    assert image.size == (24 + 30 * 28 + 29, rows * 28 + rows - 1)
    assert image.mode == "RGB"
    pixels = np.asarray(image)
    first = pixels[0:28, 24:24 + 28]
    assert np.any((first[..., 0] > 200) & (first[..., 1] < 120))  # the red label of the predicted digit


def test_cache_is_recomputed_when_the_checkpoint_changes(run_copy, mnist_dir, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(run_copy, copy)
    cache = copy / "test_codes" / "iteration-40.npz"
    assert cache.is_file()
    code, out = run_main(["--model_dir", copy, "--evaluate", "--data_dir", mnist_dir])
    assert "from the cache" in out
    shutil.copy(copy / "checkpoints" / "iteration-20.index", copy / "checkpoints" / "iteration-40.index")
    shutil.copy(copy / "checkpoints" / "iteration-20.data-00000-of-00001",
                copy / "checkpoints" / "iteration-40.data-00000-of-00001")
    code, out = run_main(["--model_dir", copy, "--evaluate", "--data_dir", mnist_dir])
    assert code == 0 and "test set encoded" in out


def test_iteration_flag(run_copy, mnist_dir):
    code, out = run_main(["--model_dir", run_copy, "--iteration", "20", "--evaluate", "--data_dir", mnist_dir])
    assert code == 0 and "iteration 20" in out


@pytest.mark.parametrize("make,argv,message", [
    (None, ["--evaluate"], "is not a run folder"),
    ("run", ["--evaluate", "--iteration", "30"], "no checkpoint of iteration 30; it has 20, 40"),
    ("run", [], "no mode given"),
    ("run", ["--evaluate", "--json", "EXISTING"], "exists; choose another --json path"),
    ("bad_encodings", ["--evaluate"], "category 1 appears more than once"),
    ("short_encodings", ["--evaluate"], "has 3 entries; it needs 10"),
])
def test_bad_input(make, argv, message, run_copy, tmp_path, capsys, mnist_dir):
    target = tmp_path / "target"
    if make is None:
        target.mkdir()
    else:
        shutil.copytree(run_copy, target)
        (target / "existing.json").write_text("{}")
        if make == "bad_encodings":
            (target / "encodings.txt").write_text("1,1,2,3,4,5,6,7,8,9")
        if make == "short_encodings":
            (target / "encodings.txt").write_text("1,2,3")
    argv = [str(target / "existing.json") if a == "EXISTING" else a for a in argv]
    if not argv:
        with pytest.raises(SystemExit) as info:
            main(["--model_dir", str(target)])
        assert info.value.code == 2
    else:
        assert main(["--model_dir", str(target), "--data_dir", str(mnist_dir)] + argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err
    if make and make.endswith("encodings"):
        assert (target / "encodings.txt").read_text().startswith("1,")  # untouched
    if "EXISTING" in argv or make == "run":
        assert (target / "existing.json").read_text() == "{}"


def test_script_runs_as_a_program(run_copy):
    result = subprocess.run([sys.executable, str(ROOT / "evaluate_model.py"), "--model_dir", str(run_copy / "nope"),
                             "--evaluate"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    help_text = subprocess.run([sys.executable, str(ROOT / "evaluate_model.py"), "--help"], capture_output=True,
                               text=True, timeout=60).stdout
    for mode in ("--evaluate", "--sample", "--reconstruct", "--generate", "--misclassified", "--json"):
        assert mode in help_text
