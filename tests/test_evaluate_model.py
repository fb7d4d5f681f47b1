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

from bidirectional_infogan.data.mnist import load_mnist
from bidirectional_infogan.evaluate.cli import main
from conftest import best_match_predictions, writable_run_copy

# Every test here uses the shared trained run (conftest.trained_run) and evaluates it.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
CELL = 28 + 1  # a cell and its separator


def grid_size(rows, cols, size=28):
    return (cols * size + cols - 1, rows * size + rows - 1)  # PIL order: (width, height)


def cell(pixels, row, col, size=28):
    return pixels[row * (size + 1):row * (size + 1) + size, col * (size + 1):col * (size + 1) + size]


@pytest.fixture(scope="module")
def run_copy(trained_run, tmp_path_factory):
    """A private copy of the shared run, so that the files this module writes stay here (checkpoint data
    hard-linked: nothing here writes into them)."""
    copy = tmp_path_factory.mktemp("eval") / trained_run.name
    writable_run_copy(trained_run, copy)
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


@pytest.mark.core
def test_prints_the_device(all_modes):
    """Its first line says where it computes (on this machine, no GPU: the CPU line)."""
    from bidirectional_infogan.util.tf_setup import device_line
    import tensorflow as tf
    first = all_modes[0].splitlines()[0]
    assert first == device_line()
    if not tf.config.list_physical_devices("GPU"):
        assert first == "device: CPU (no GPU visible; for a GPU install see README)"


@pytest.fixture(scope="module")
def cached_codes(all_modes, run_copy):
    """run_copy's cache of E's test-set codes, test_codes/iteration-40.npz, written by all_modes' --evaluate:
    the tests that read it or expect it request this fixture (alone they would not find it)."""
    cache = run_copy / "test_codes" / "iteration-40.npz"
    assert cache.is_file()
    return cache


def predictions(cache, labels):
    """Each test image's digit under the best one-to-one mapping of categories to digits (computed here, not by
    the evaluation module that evaluate_model.py uses), and the cached codes."""
    codes = np.load(cache)["codes"]
    return best_match_predictions(codes[:, 16:26].argmax(axis=1), labels, 10, 10), codes


@pytest.mark.core
def test_evaluate_reports_and_json(all_modes, run_copy, cached_codes, test_data):
    out, figures = all_modes
    test, _ = test_data
    assert "No encodings.txt" in out and "Hungarian" in out
    predicted, codes = predictions(cached_codes, test.labels)
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
    # the label-free health: usage and information recomputed here from the cached test codes
    health = figures["health"]
    p = codes[:, 16:26].astype(np.float64)
    mean = p.mean(axis=0)
    h_mean = -np.sum(mean * np.log(mean))
    h_each = -np.sum(np.where(p > 0, p * np.log(np.where(p > 0, p, 1)), 0), axis=1).mean()
    variable = health["variables"][0]
    assert variable["usage"] == pytest.approx(h_mean / np.log(10), abs=1e-5)
    assert variable["information"] == pytest.approx((h_mean - h_each) / np.log(10), abs=1e-5)
    assert 0 <= variable["stability"] <= 1 and 0 <= variable["agreement"] <= 1
    assert health["score"] == variable["score"] and health["threshold"] == 0.8
    assert "Health without labels" in out


def test_encodings_file_is_used(run_copy, cached_codes, mnist_dir, test_data):
    """Entry i of encodings.txt is the category that encodes digit i (not the other way round)."""
    test, _ = test_data
    _, codes = predictions(cached_codes, test.labels)
    categories = codes[:, 16:26].argmax(axis=1)
    encodings = [6, 5, 9, 2, 1, 8, 3, 0, 4, 7]
    digit_of_category = {category: digit for digit, category in enumerate(encodings)}
    expected = float(np.mean([digit_of_category[c] for c in categories] == test.labels))
    (run_copy / "encodings.txt").write_text(",".join(map(str, encodings)) + "\n")
    try:
        code, out = run_main(["--model_dir", run_copy, "--evaluate", "--data_dir", mnist_dir])
    finally:
        (run_copy / "encodings.txt").unlink()
    assert code == 0
    assert f"Accuracy: {expected:.4f}" in out and "encodings.txt" in out and "No encodings.txt" not in out
    assert "test codes from the cache" in out


@pytest.mark.core
def test_sample_layouts(all_modes, run_copy, cached_codes, test_data):
    test, index = test_data
    predicted, codes = predictions(cached_codes, test.labels)
    pixels = np.asarray(Image.open(run_copy / "samples" / "samples_categorical.png"))
    assert pixels.shape[::-1] == grid_size(20, 30)  # as the original: each digit on two rows of 30
    for row in range(20):
        for col in (0, 29):
            image = cell(pixels, row, col)
            if image.any():  # a row may be padded with black when a digit has fewer than 60 images
                assert predicted[index[image.tobytes()]] == row // 2
    assert np.asarray(Image.open(run_copy / "samples" / "sample_cont_c1.png")).shape[::-1] == grid_size(20, 30)


def test_continuous_extremes_content(run_copy, cached_codes, mnist_dir, test_data, tmp_path):
    """Rows 2k and 2k+1: confidently classified images of digit k with the smallest, then the largest c1
    (a low --confidence, because a 40-iteration model is rarely 99.6% sure)."""
    test, index = test_data
    predicted, codes = predictions(cached_codes, test.labels)
    code, out = run_main(["--model_dir", run_copy, "--sample", "--confidence", "0.2", "--data_dir", mnist_dir,
                          "--output_dir", tmp_path])
    assert code == 0, out
    cont = np.asarray(Image.open(tmp_path / "sample_cont_c1.png"))
    c1, confidence = codes[:, 26], codes[:, 16:26].max(axis=1)
    filled = 0
    for k in range(10):
        small, large = cell(cont, 2 * k, 0), cell(cont, 2 * k + 1, 0)
        if not small.any():
            continue
        filled += 1
        i, j = index[small.tobytes()], index[large.tobytes()]
        assert predicted[i] == k and predicted[j] == k and confidence[i] > 0.2
        members = (predicted == k) & (confidence > 0.2)
        assert c1[i] == c1[members].min() and c1[j] == c1[members].max()
    assert filled >= 5


@pytest.mark.core
def test_reconstruction_layout(all_modes, run_copy, test_data):
    test, index = test_data
    pixels = np.asarray(Image.open(run_copy / "samples" / "samples_reconstruction.png"))
    assert pixels.shape[::-1] == grid_size(20, 20)  # as the original: each digit on two rows of 10 pairs
    for row in range(20):
        for pair in (0, 9):
            original = cell(pixels, row, 2 * pair)
            assert test.labels[index[original.tobytes()]] == row // 2  # originals in the odd columns
            assert original.tobytes() != cell(pixels, row, 2 * pair + 1).tobytes()
    out, figures = all_modes
    assert "Reconstruction MSE" in out and figures["random_pair_mse"] > 0


def test_generate_layouts(run_copy, mnist_dir, tmp_path):
    """The categorical grid is G applied to the codes of latent.categorical_grid_latent, in order: row r
    has one z, column k is category k. Recomputed here from the same seed and compared pixel by pixel."""
    from bidirectional_infogan.runs.checkpoints import load_trained_model
    from bidirectional_infogan.model.latent import categorical_grid_latent
    from bidirectional_infogan.evaluate.visualization import to_uint8
    code, out = run_main(["--model_dir", run_copy, "--generate", "--seed", "7", "--data_dir", mnist_dir,
                          "--output_dir", tmp_path])
    assert code == 0, out
    for name in ("generated_imgs_categorical.png", "generated_imgs_cont_c1.png", "generated_imgs_cont_c2.png"):
        assert Image.open(tmp_path / name).size == grid_size(10, 10)
    model, _, run = load_trained_model(run_copy)
    images = model.generate(categorical_grid_latent(run.model, np.random.default_rng(7)))
    pixels = np.asarray(Image.open(tmp_path / "generated_imgs_categorical.png"))
    for row, col in ((0, 0), (3, 7), (9, 9)):
        expected = to_uint8(images[row * 10 + col])[..., 0]
        assert np.abs(cell(pixels, row, col).astype(int) - expected).max() <= 1


@pytest.mark.core
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


def test_cache_is_recomputed_when_the_checkpoint_changes(run_copy, cached_codes, mnist_dir, tmp_path):
    copy = tmp_path / "run"
    writable_run_copy(run_copy, copy, real_copies=["checkpoints/iteration-40.data-*"])  # overwritten below
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
    ("run", ["--evaluate", "--json", "UNDER_A_FILE"], "is a file, not a folder"),
    ("run", ["--generate", "--output_dir", "UNDER_A_FILE"], "is a file, not a folder"),
    # a damaged newest checkpoint is skipped (test_run_faults.py); asked for by --iteration, it is one line
    ("truncated_checkpoint", ["--evaluate", "--iteration", "40"], "is damaged: its .data file is truncated"),
    ("moved_data", ["--evaluate"], "does not exist (the data folder the run was trained with, from its config.json"),
])
def test_bad_input(make, argv, message, run_copy, tmp_path, capsys, mnist_dir):
    target = tmp_path / "target"
    if make is None:
        target.mkdir()
    else:
        # a real copy of the checkpoint data that truncated_checkpoint truncates, links for the rest
        damaged = ["checkpoints/iteration-40.data-*"] if make == "truncated_checkpoint" else []
        writable_run_copy(run_copy, target, real_copies=damaged)
        (target / "existing.json").write_text("{}")
        if make == "bad_encodings":
            (target / "encodings.txt").write_text("1,1,2,3,4,5,6,7,8,9")
        if make == "short_encodings":
            (target / "encodings.txt").write_text("1,2,3")
        if make == "moved_data":
            config = json.loads((target / "config.json").read_text())
            config["data"]["data_dir"] = str(tmp_path / "moved")
            (target / "config.json").write_text(json.dumps(config))
        if make == "truncated_checkpoint":
            for data in (target / "checkpoints").glob("iteration-40.data-*"):
                data.write_bytes(data.read_bytes()[:1000])
    argv = [str(target / "existing.json") if a == "EXISTING" else a for a in argv]
    argv = [str(target / "existing.json" / "sub" / "x") if a == "UNDER_A_FILE" else a for a in argv]
    if not argv:
        with pytest.raises(SystemExit) as info:
            main(["--model_dir", str(target)])
        assert info.value.code == 2
    else:
        data_args = [] if make == "moved_data" else ["--data_dir", str(mnist_dir)]
        assert main(["--model_dir", str(target)] + data_args + argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err
    if make and make.endswith("encodings"):
        assert (target / "encodings.txt").read_text().startswith("1,")  # untouched
    if make == "run":
        assert (target / "existing.json").read_text() == "{}"


def test_output_dir_with_pngs_needs_overwrite(run_copy, mnist_dir, tmp_path, capsys):
    (tmp_path / "mine.png").write_bytes(b"not really a png")
    assert main(["--model_dir", str(run_copy), "--generate", "--output_dir", str(tmp_path)]) == 2
    assert "already holds PNG files; pass --overwrite" in capsys.readouterr().err
    assert (tmp_path / "mine.png").read_bytes() == b"not really a png"
    code, out = run_main(["--model_dir", run_copy, "--generate", "--output_dir", tmp_path, "--overwrite",
                          "--data_dir", mnist_dir])
    assert code == 0 and (tmp_path / "generated_imgs_categorical.png").is_file()


def test_script_runs_as_a_program(run_copy):
    result = subprocess.run([sys.executable, str(ROOT / "evaluate_model.py"), "--model_dir", str(run_copy / "nope"),
                             "--evaluate"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    help_text = subprocess.run([sys.executable, str(ROOT / "evaluate_model.py"), "--help"], capture_output=True,
                               text=True, timeout=60).stdout
    for mode in ("--evaluate", "--sample", "--reconstruct", "--generate", "--misclassified", "--json"):
        assert mode in help_text
