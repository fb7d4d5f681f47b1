"""evaluate/projector.py: the files a TensorBoard Projector embedding needs, read back independently (the config
with tensorboard's own protobuf, the TSVs by hand, the sprite with PIL). No TensorFlow needed."""

import io
import math
from pathlib import Path

import numpy as np
import pytest
from google.protobuf import text_format
from PIL import Image
from tensorboard.plugins.projector.projector_config_pb2 import ProjectorConfig

from bidirectional_infogan.evaluate import projector


def _config(folder: Path) -> ProjectorConfig:
    config = ProjectorConfig()
    text_format.Parse((folder / "projector_config.pbtxt").read_text(encoding="utf-8"), config)
    return config


def _entry(folder: Path, name: str):
    found = [e for e in _config(folder).embeddings if e.tensor_name == name]
    assert len(found) == 1, [e.tensor_name for e in _config(folder).embeddings]
    return found[0]


def _asset(folder: Path, rel: str) -> Path:
    assert rel and not Path(rel).is_absolute() and Path(rel).name == rel  # relative to the config's folder
    path = folder / rel
    assert path.is_file(), path
    return path


def _read_tensor(path: Path) -> np.ndarray:
    # As the plugin reads it (projector_plugin._read_tensor_tsv_file): lines of tab-separated floats
    rows = [list(map(float, line.split("\t"))) for line in path.read_text(encoding="utf-8").split("\n") if line]
    return np.array(rows)


def _lines(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8")
    assert text.endswith("\n")
    return text[:-1].split("\n")


def _quantised(rng, shape):
    """uint8 values u and the same images as floats in [0, 1] and in [-1, 1], which must map back to u."""
    u = rng.integers(0, 256, size=shape, dtype=np.uint8)
    u.flat[0], u.flat[-1] = 0, 255
    return u, u / 255.0, (u / 127.5 - 1.0).astype(np.float32)


def _check_sprite(folder: Path, entry, expected_u8: np.ndarray, mode: str):
    """The thumbnail at row r, column c is image k = r * side + c; the cells after the last image are 0."""
    n, h, w = expected_u8.shape[:3]
    side = math.ceil(math.sqrt(n))
    assert list(entry.sprite.single_image_dim) == [w, h]  # the Projector reads (width, height)
    with Image.open(_asset(folder, entry.sprite.image_path)) as im:
        assert im.format == "PNG" and im.mode == mode
        assert im.size == (side * w, side * h)
        sheet = np.asarray(im)
    if sheet.ndim == 2:
        sheet = sheet[..., None]
    expected = expected_u8 if expected_u8.ndim == 4 else expected_u8[..., None]
    for r in range(side):
        for c in range(side):
            k = r * side + c
            cell = sheet[r * h:(r + 1) * h, c * w:(c + 1) * w]
            if k < n:
                np.testing.assert_array_equal(cell, expected[k], err_msg=f"thumbnail row {r} column {c}")
            else:
                assert not cell.any(), f"unused cell row {r} column {c}"


def test_grey_embedding_reads_back(tmp_path):
    rng = np.random.default_rng(0)
    n, d = 10, 13
    codes = rng.normal(size=(n, d)) * np.logspace(-6, 4, d)  # float64, a wide range of magnitudes
    u, images01, _ = _quantised(rng, (n, 28, 28))
    labels = list(range(n))
    categories = np.array([3, 1, 4, 1, 5, 9, 2, 6, 5, 3], dtype=np.int64)
    confidence = rng.uniform(0, 1, n).astype(np.float32)
    folder = tmp_path / "run" / "samples"  # created
    folder.mkdir(parents=True)
    (folder / "events.out.tfevents.123.host").write_bytes(b"not touched")

    path = projector.write_projector(folder, codes, images01,
                                     {"label": labels, "category": categories, "confidence": confidence})

    assert path == folder / "projector_config.pbtxt"
    config = _config(folder)
    assert len(config.embeddings) == 1
    entry = _entry(folder, "encoder_codes")
    # tensor: float32 written with %.9g, which reproduces every float32 exactly
    tensor = _read_tensor(_asset(folder, entry.tensor_path))
    assert tensor.shape == (n, d)
    np.testing.assert_array_equal(tensor.astype(np.float32), codes.astype(np.float32))
    # metadata: a header, then one row per image; floats with 4 significant digits
    rows = [line.split("\t") for line in _lines(_asset(folder, entry.metadata_path))]
    assert rows[0] == ["label", "category", "confidence"]
    assert len(rows) == n + 1
    for k, row in enumerate(rows[1:]):
        assert len(row) == 3
        assert int(row[0]) == labels[k] and int(row[1]) == categories[k]
        assert float(row[2]) == pytest.approx(float(confidence[k]), rel=5e-4)  # "%.4g": |error| <= 0.5e-3 relative
    _check_sprite(folder, entry, u, "L")
    # nothing else: the event file is kept, no temporary files are left
    assert sorted(p.name for p in folder.iterdir()) == sorted([
        "events.out.tfevents.123.host", "projector_config.pbtxt", entry.tensor_path, entry.metadata_path,
        entry.sprite.image_path])
    assert (folder / "events.out.tfevents.123.host").read_bytes() == b"not touched"


def test_colour_images_in_minus_one_to_one_and_uint8(tmp_path):
    rng = np.random.default_rng(1)
    n = 5  # a 3 x 3 grid with 4 cells unused
    u, images01, images11 = _quantised(rng, (n, 32, 32, 3))
    codes = rng.uniform(size=(n, 4)).astype(np.float32)
    meta = {"label": list("abcde"), "category": [0, 1, 0, 1, 2]}
    for name, images, image_range in [("auto_pm1", images11, None), ("explicit_pm1", images11, (-1, 1)),
                                      ("auto_01", images01, None), ("uint8", u, None)]:
        projector.write_projector(tmp_path, codes, images, meta, tensor_name=name, image_range=image_range)
        _check_sprite(tmp_path, _entry(tmp_path, name), u, "RGB")
    assert [e.tensor_name for e in _config(tmp_path).embeddings] == ["auto_pm1", "explicit_pm1", "auto_01", "uint8"]


def test_float_images_round_to_nearest_grey_level(tmp_path):
    rng = np.random.default_rng(2)
    images = rng.uniform(-1, 1, size=(4, 8, 8, 1))
    projector.write_projector(tmp_path, np.zeros((4, 2)), images, {"label": [1, 2, 3, 4]})
    expected = np.floor((images[..., 0] + 1.0) / 2.0 * 255.0 + 0.5).astype(np.uint8)  # ties: none in random data
    _check_sprite(tmp_path, _entry(tmp_path, "encoder_codes"), expected, "L")


def test_non_square_thumbnails_are_width_then_height(tmp_path):
    rng = np.random.default_rng(3)
    u, _, _ = _quantised(rng, (3, 6, 10))  # H = 6, W = 10: a 2 x 2 grid, 20 px wide and 12 px high
    projector.write_projector(tmp_path, rng.normal(size=(3, 2)), u, {"label": [7, 8, 9]})
    _check_sprite(tmp_path, _entry(tmp_path, "encoder_codes"), u, "L")


def test_single_column_metadata_has_no_header(tmp_path):
    labels = [5, 0, 4, 1, 9]
    projector.write_projector(tmp_path, np.eye(5), np.zeros((5, 4, 4)), {"label": labels})
    lines = _lines(_asset(tmp_path, _entry(tmp_path, "encoder_codes").metadata_path))
    assert lines == ["5", "0", "4", "1", "9"]


def test_metadata_values_lose_tabs_and_line_breaks_and_are_never_blank(tmp_path):
    values = ["a\tb", "c\nd", "e\r\nf", "", "  ", None, 0.000123456, 12345678.9, True]
    n = len(values)
    projector.write_projector(tmp_path, np.ones((n, 1)), np.zeros((n, 2, 2)),
                              {"what\tever": values, "k": list(range(n))})
    lines = _lines(_asset(tmp_path, _entry(tmp_path, "encoder_codes").metadata_path))
    assert len(lines) == n + 1 and all(line.count("\t") == 1 for line in lines)
    assert lines[0] == "what ever\tk"
    assert [line.split("\t")[0] for line in lines[1:]] == [
        "a b", "c d", "e  f", "(empty)", "(empty)", "(empty)", "0.0001235", "1.235e+07", "True"]
    # with one column a blank value would be skipped by the Projector and shift every later row
    projector.write_projector(tmp_path, np.ones((3, 1)), np.zeros((3, 2, 2)), {"label": ["x", "", "z"]},
                              tensor_name="one")
    assert _lines(_asset(tmp_path, _entry(tmp_path, "one").metadata_path)) == ["x", "(empty)", "z"]


def test_existing_config_keeps_other_embeddings(tmp_path):
    old = ProjectorConfig()
    other = old.embeddings.add()
    other.tensor_name = "other_codes"
    other.tensor_path = "other.tsv"
    other.metadata_path = "other_meta.tsv"
    other.sprite.image_path = "other.png"
    other.sprite.single_image_dim.extend([64, 64])
    stale = old.embeddings.add()
    stale.tensor_name = "encoder_codes:0"  # the plugin strips ":0": the same tensor
    stale.tensor_path = "stale.tsv"
    last = old.embeddings.add()
    last.tensor_name = "last"
    last.tensor_path = "last.tsv"
    text = "# written by hand\n" + text_format.MessageToString(old)
    (tmp_path / "projector_config.pbtxt").write_text(text, encoding="utf-8")

    projector.write_projector(tmp_path, np.ones((2, 3)), np.zeros((2, 5, 5)), {"label": ["p", "q"]})
    projector.write_projector(tmp_path, np.ones((4, 3)), np.zeros((4, 5, 5)), {"label": list("pqrs")})

    written = (tmp_path / "projector_config.pbtxt").read_text(encoding="utf-8")
    assert written.startswith("# written by hand\n")
    config = _config(tmp_path)
    assert [e.tensor_name for e in config.embeddings] == ["other_codes", "encoder_codes", "last"]  # in place
    assert config.embeddings[0] == other and config.embeddings[2] == last
    ours = config.embeddings[1]
    assert _read_tensor(_asset(tmp_path, ours.tensor_path)).shape == (4, 3)
    assert _lines(_asset(tmp_path, ours.metadata_path)) == list("pqrs")
    assert list(ours.sprite.single_image_dim) == [5, 5]


def test_unreadable_config_is_refused_and_left_alone(tmp_path):
    (tmp_path / "projector_config.pbtxt").write_text("embeddings { tensor_name: \"x\"\n", encoding="utf-8")
    with pytest.raises(ValueError, match="cannot read"):
        projector.write_projector(tmp_path, np.ones((1, 1)), np.zeros((1, 2, 2)), {"label": [1]})
    assert [p.name for p in tmp_path.iterdir()] == ["projector_config.pbtxt"]


def test_a_failed_write_leaves_no_files(tmp_path, monkeypatch):
    (tmp_path / "projector_config.pbtxt").write_text('embeddings { tensor_name: "old" }\n', encoding="utf-8")
    real = projector._write_temp

    def failing(folder, name, data):
        if name == "projector_config.pbtxt":
            raise OSError("disk full")
        return real(folder, name, data)

    monkeypatch.setattr(projector, "_write_temp", failing)
    with pytest.raises(OSError, match="disk full"):
        projector.write_projector(tmp_path, np.ones((2, 1)), np.zeros((2, 2, 2)), {"label": [1, 2]})
    assert [p.name for p in tmp_path.iterdir()] == ["projector_config.pbtxt"]
    assert (tmp_path / "projector_config.pbtxt").read_text(encoding="utf-8") == 'embeddings { tensor_name: "old" }\n'


@pytest.mark.parametrize("embeddings, images, metadata", [
    (np.ones((10, 13)), np.zeros((9, 28, 28)), {"label": list(range(10))}),  # images
    (np.ones((10, 13)), np.zeros((10, 28, 28)), {"label": list(range(10)), "c": [1, 2]}),  # a column
    (np.ones((9, 13)), np.zeros((10, 28, 28)), {"label": list(range(10))}),  # embeddings
    (np.ones((0, 13)), np.zeros((0, 28, 28)), {"label": []}),  # N = 0
    (np.ones(10), np.zeros((10, 28, 28)), {"label": list(range(10))}),  # not (N, D)
    (np.ones((10, 13)), np.zeros((10, 28, 28, 2)), {"label": list(range(10))}),  # 2 channels
    (np.ones((10, 13)), np.zeros((10, 28, 28)), {}),  # no column
    (np.ones((10, 13)), np.zeros((10, 28, 28)), {"label": "0123456789"}),  # a string, not a column
    (np.full((1, 1), np.nan), np.zeros((1, 2, 2)), {"label": [1]}),  # NaN
    (np.ones((1, 1)), np.full((1, 2, 2), 255.0), {"label": [1]}),  # floats in 0..255
])
def test_bad_input_is_a_one_line_value_error_and_writes_nothing(tmp_path, embeddings, images, metadata):
    folder = tmp_path / "samples"
    with pytest.raises(ValueError) as err:
        projector.write_projector(folder, embeddings, images, metadata)
    assert "\n" not in str(err.value) and str(err.value)
    assert not folder.exists()


def test_bad_tensor_name_and_uint8_with_a_range_are_refused(tmp_path):
    args = (np.ones((1, 1)), np.zeros((1, 2, 2), np.uint8), {"label": [1]})
    for name in ["", "a/b", "../x", "x y", ".hidden", 'q"uote']:
        with pytest.raises(ValueError, match="tensor_name"):
            projector.write_projector(tmp_path, *args, tensor_name=name)
    with pytest.raises(ValueError, match="image_range"):
        projector.write_projector(tmp_path, *args, image_range=(0, 1))
    assert not any(tmp_path.iterdir())


def test_sprite_limit_is_8192_pixels_a_side(tmp_path):
    # 4 images -> a 2 x 2 grid: 2 * 4096 = 8192 px fits, 2 * 4097 does not
    projector.write_projector(tmp_path, np.ones((4, 2)), np.zeros((4, 1, 4096), np.uint8), {"label": [1, 2, 3, 4]})
    with Image.open(tmp_path / _entry(tmp_path, "encoder_codes").sprite.image_path) as im:
        assert im.size == (8192, 2)
    with pytest.raises(ValueError, match="8192") as err:
        projector.write_projector(tmp_path, np.ones((4, 2)), np.zeros((4, 4097, 1), np.uint8), {"label": [1, 2, 3, 4]},
                                  tensor_name="too_tall")
    assert "\n" not in str(err.value)
    assert not list(tmp_path.glob("too_tall*"))


@pytest.mark.slow
def test_evaluate_model_writes_a_projector_the_plugin_can_read(exported, mnist_dir, tmp_path):
    """evaluate_model.py --projector on the shared short run (exported, so nothing is written into the run): the config names files that exist; the tensor's
    rows are E's categorical probabilities and continuous values of the first N test images (the category and
    confidence columns agree with them); the label column is the test set's labels, read here independently."""
    from bidirectional_infogan.data.mnist import load_mnist_test
    from bidirectional_infogan.evaluate.cli import main

    out, n = tmp_path / "projector", 500
    printed = io.StringIO()
    code = main(["--model_dir", str(exported[0]), "--projector", "--projector_images", str(n), "--output_dir",
                 str(out), "--data_dir", str(mnist_dir)], out=printed)
    assert code == 0, printed.getvalue()
    assert "Projector embedding of 500 test images" in printed.getvalue()
    config = text_format.Parse((out / "projector_config.pbtxt").read_text(), ProjectorConfig())
    (embedding,) = config.embeddings
    for name in (embedding.tensor_path, embedding.metadata_path, embedding.sprite.image_path):
        assert (out / name).is_file(), name
    tensor = np.loadtxt(out / embedding.tensor_path, delimiter="\t", ndmin=2)
    assert tensor.shape == (n, 10 + 2)  # MNIST: one categorical variable of 10 values, 2 continuous
    probabilities = tensor[:, :10]
    assert np.allclose(probabilities.sum(axis=1), 1, atol=1e-5)  # a softmax, written as float32 (%.9g)
    rows = [line.split("\t") for line in (out / embedding.metadata_path).read_text().splitlines()]
    header, rows = rows[0], rows[1:]
    assert header == ["label", "predicted", "category", "confidence"] and len(rows) == n
    labels = load_mnist_test(mnist_dir).labels[:n]
    assert [int(r[0]) for r in rows] == labels.tolist()
    categories = np.array([int(r[2]) for r in rows])
    confident = np.sort(probabilities, axis=1)[:, -1] - np.sort(probabilities, axis=1)[:, -2] > 1e-4
    assert np.array_equal(categories[confident], probabilities.argmax(axis=1)[confident])
    assert np.allclose([float(r[3]) for r in rows], probabilities.max(axis=1), rtol=1e-3)  # "%.4g"
    side = int(np.ceil(np.sqrt(n)))
    assert Image.open(out / embedding.sprite.image_path).size == (side * 28, side * 28)
    assert list(embedding.sprite.single_image_dim) == [28, 28]
