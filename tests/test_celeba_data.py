"""The CelebA reader on a small folder in the published Align&Cropped layout: crop parsing, the image cache
(built once, reused, rebuilt, never left half-written), splits, attributes, and every error."""

import json
import shutil
import zipfile

import numpy as np
import pytest
from PIL import Image

from bidirectional_infogan.data import celeba
from bidirectional_infogan.data.common import DataError

ATTRIBUTES = ("5_o_Clock_Shadow Arched_Eyebrows Attractive Bags_Under_Eyes Bald Bangs Big_Lips Big_Nose Black_Hair "
              "Blond_Hair Blurry Brown_Hair Bushy_Eyebrows Chubby Double_Chin Eyeglasses Goatee Gray_Hair "
              "Heavy_Makeup High_Cheekbones Male Mouth_Slightly_Open Mustache Narrow_Eyes No_Beard Oval_Face "
              "Pale_Skin Pointy_Nose Receding_Hairline Rosy_Cheeks Sideburns Smiling Straight_Hair Wavy_Hair "
              "Wearing_Earrings Wearing_Hat Wearing_Lipstick Wearing_Necklace Wearing_Necktie Young").split()
N = 12
PARTITION = [0] * 7 + [1] * 3 + [2] * 2
LAYOUT = (r"img_align_celeba\.zip \(or the extracted img_align_celeba/ folder\), list_eval_partition\.txt and "
          r"list_attr_celeba\.txt in one folder, from https://mmlab\.ie\.cuhk\.edu\.hk/projects/CelebA\.html "
          r"\(\"Align&Cropped Images\"\)$")


def names(n=N):
    return [f"{i:06d}.jpg" for i in range(1, n + 1)]


def attribute_values(n=N):
    """1/-1 values that differ per image and per attribute."""
    return np.where((np.arange(n)[:, None] + 2 * np.arange(40)[None, :]) % 3 == 0, 1, -1)


def face(i):
    """A 178x218 image with its own colour and a white square whose place depends on i."""
    pixels = np.zeros((celeba.HEIGHT, celeba.WIDTH, 3), dtype=np.uint8)
    pixels[...] = (20 * i % 256, 255 - 15 * i, 100 + 10 * i)
    pixels[60 + 4 * i: 90 + 4 * i, 40 + 5 * i: 70 + 5 * i] = 255
    return Image.fromarray(pixels)


def write_partition(folder, partition, file_names=None):
    file_names = file_names or names(len(partition))
    (folder / "list_eval_partition.txt").write_text("".join(f"{f} {p}\n" for f, p in zip(file_names, partition)))


def write_attributes(folder, values, file_names=None, header=ATTRIBUTES, count=None):
    file_names = file_names or names(len(values))
    rows = [f"{f} " + " ".join(f"{v:>2}" for v in row) for f, row in zip(file_names, values)]  # "-1  1  1 -1"
    lines = [str(len(values) if count is None else count), " ".join(header) + " "] + rows
    (folder / "list_attr_celeba.txt").write_text("\n".join(lines) + "\n")


def write_celeba(folder, partition=PARTITION):
    (folder / "img_align_celeba").mkdir(parents=True)
    for i, name in enumerate(names(len(partition))):
        face(i).save(folder / "img_align_celeba" / name, quality=90)
    write_partition(folder, partition)
    write_attributes(folder, attribute_values(len(partition)))
    return folder


@pytest.fixture
def celeba_dir(tmp_path):
    return write_celeba(tmp_path / "celeba")


def expected_face(folder, name, box, size):
    with Image.open(folder / "img_align_celeba" / name) as image:
        return np.asarray(image.convert("RGB").crop(box).resize((size, size), Image.Resampling.LANCZOS))


def no_decoding(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a JPEG was decoded")
    monkeypatch.setattr(Image, "open", refuse)


@pytest.mark.parametrize("text,box", [
    ("108", (35, 55, 143, 163)), ("64", (57, 77, 121, 141)), ("178", (0, 20, 178, 198)), ("1", (88, 108, 89, 109)),
    ("0,0,178,218", (0, 0, 178, 218)), (" 10, 20 ,110,120 ", (10, 20, 110, 120)),
])
def test_parse_crop(text, box):
    assert celeba.parse_crop(text) == box
    assert celeba.DEFAULT_BOX == celeba.parse_crop(str(celeba.DEFAULT_CROP)) == (35, 55, 143, 163)


@pytest.mark.parametrize("text,message", [
    ("", "one integer"), ("abc", "one integer"), ("1.5", "one integer"), ("10,20,x,40", "one integer"),
    ("1,2,3", "four integers"), ("1,2,3,4,5", "four integers"),
    ("0", "side must be 1..178"), ("-5", "side must be 1..178"), ("179", "side must be 1..178"),
    ("10,10,10,50", "empty or outside"), ("50,10,40,60", "empty or outside"), ("-1,0,10,10", "empty or outside"),
    ("0,0,179,218", "empty or outside"), ("0,0,178,219", "empty or outside"),
])
def test_parse_crop_rejects(text, message):
    with pytest.raises(ValueError, match=message):
        celeba.parse_crop(text)


def test_cache_is_built_once_and_holds_the_crops(celeba_dir, tmp_path, monkeypatch, capsys):
    cache = tmp_path / "cache"
    images = celeba.prepare_images(celeba_dir, cache_dir=cache)
    assert isinstance(images, np.memmap) and images.shape == (N, 32, 32, 3) and images.dtype == np.uint8
    assert sorted(p.name for p in cache.iterdir()) == ["celeba_35_55_143_163_32.json", "celeba_35_55_143_163_32.npy"]
    assert "12/12 images" in capsys.readouterr().err  # progress (plain lines: stderr is not a terminal here)
    for i, name in enumerate(names()):
        assert np.array_equal(images[i], expected_face(celeba_dir, name, (35, 55, 143, 163), 32)), name
    # not just any resize: the full image or another box give other pixels
    assert not np.array_equal(images[3], expected_face(celeba_dir, "000004.jpg", (0, 0, 178, 218), 32))
    assert not np.array_equal(images[3], expected_face(celeba_dir, "000004.jpg", (36, 55, 144, 163), 32))
    sidecar = json.loads((cache / "celeba_35_55_143_163_32.json").read_text())
    assert sidecar["images"] == N and sidecar["first"] == "000001.jpg" and sidecar["last"] == "000012.jpg"

    no_decoding(monkeypatch)
    again = celeba.prepare_images(celeba_dir, crop=108, cache_dir=cache)  # same box, given as a side
    assert isinstance(again, np.memmap) and np.array_equal(again, images)
    assert capsys.readouterr().err == ""
    with pytest.raises(AssertionError, match="a JPEG was decoded"):  # another size needs another cache
        celeba.prepare_images(celeba_dir, size=16, cache_dir=cache)
    monkeypatch.undo()

    small = celeba.prepare_images(celeba_dir, size=16, cache_dir=cache)
    box = celeba.parse_crop("20,40,160,180")
    other = celeba.prepare_images(celeba_dir, crop=box, cache_dir=cache)
    assert small.shape == (N, 16, 16, 3) and other.shape == (N, 32, 32, 3)
    assert np.array_equal(small[5], expected_face(celeba_dir, "000006.jpg", (35, 55, 143, 163), 16))
    assert np.array_equal(other[5], expected_face(celeba_dir, "000006.jpg", box, 32))
    assert {p.name for p in cache.iterdir()} >= {"celeba_35_55_143_163_16.npy", "celeba_20_40_160_180_32.npy"}
    assert len(list(cache.iterdir())) == 6 and np.array_equal(celeba.prepare_images(celeba_dir, cache_dir=cache),
                                                              images)


def test_cache_is_rebuilt_when_the_partition_file_changes(celeba_dir, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    first = np.array(celeba.prepare_images(celeba_dir, cache_dir=cache))
    write_partition(celeba_dir, [0] * 9 + [2], names(10))  # fewer images: rebuilt
    fewer = celeba.prepare_images(celeba_dir, cache_dir=cache)
    assert fewer.shape == (10, 32, 32, 3) and np.array_equal(fewer, first[:10])
    order = names()[::-1]
    write_partition(celeba_dir, PARTITION, order)  # same count, first and last swapped: rebuilt
    reversed_images = celeba.prepare_images(celeba_dir, cache_dir=cache)
    assert np.array_equal(reversed_images, first[::-1])
    order[4], order[5] = order[5], order[4]  # same count, first and last: the hash of the list tells
    write_partition(celeba_dir, PARTITION, order)
    assert np.array_equal(celeba.prepare_images(celeba_dir, cache_dir=cache)[[4, 5]], first[::-1][[5, 4]])
    no_decoding(monkeypatch)
    (cache / "celeba_35_55_143_163_32.json").unlink()  # a cache without its sidecar is not trusted
    with pytest.raises(AssertionError, match="a JPEG was decoded"):
        celeba.prepare_images(celeba_dir, cache_dir=cache)


def test_multiprocess_build_gives_the_same_array(celeba_dir, tmp_path, monkeypatch):
    single = celeba.prepare_images(celeba_dir, cache_dir=tmp_path / "one", workers=1)
    monkeypatch.setattr(celeba, "CHUNK", 5)  # three chunks of 5, 5 and 2 images, over two processes
    pooled = celeba.prepare_images(celeba_dir, cache_dir=tmp_path / "two", workers=2)
    assert np.array_equal(single, pooled) and len(np.unique(pooled[:, 0, 0, 0])) == N


def test_failed_build_leaves_no_cache(celeba_dir, tmp_path):
    path = celeba_dir / "img_align_celeba" / "000011.jpg"
    raw = path.read_bytes()
    path.write_bytes(raw[:len(raw) // 2])  # truncated JPEG, found after 10 good images
    cache = tmp_path / "cache"
    with pytest.raises(DataError, match=r"cannot read CelebA image .*000011\.jpg"):
        celeba.prepare_images(celeba_dir, cache_dir=cache)
    assert list(cache.iterdir()) == []
    path.write_bytes(raw)
    assert celeba.prepare_images(celeba_dir, cache_dir=cache).shape == (N, 32, 32, 3)


def test_load_celeba_splits(celeba_dir, tmp_path):
    data = celeba.load_celeba(celeba_dir, size=16, cache_dir=tmp_path / "cache")
    all_images = celeba.prepare_images(celeba_dir, size=16, cache_dir=tmp_path / "cache")
    assert [len(s.images) for s in (data.train, data.validation, data.test)] == [7, 3, 2]
    assert [len(s.labels) for s in (data.train, data.validation, data.test)] == [7, 3, 2]
    assert data.train.labels.dtype == np.int64 and not data.train.labels.any()
    assert isinstance(data.train.images, np.memmap)  # a contiguous range stays memory-mapped
    assert np.array_equal(data.train.images, all_images[:7])
    assert np.array_equal(data.validation.images, all_images[7:10])
    assert np.array_equal(data.test.images, all_images[10:])
    assert data.attributes is None and data.attribute_names is None


def test_interleaved_partition(tmp_path):
    partition = [0, 1, 0, 2, 0, 0, 1, 2, 0]
    folder = write_celeba(tmp_path / "celeba", partition)
    data = celeba.load_celeba(folder, cache_dir=tmp_path / "cache", with_attributes=True)
    all_images = celeba.prepare_images(folder, cache_dir=tmp_path / "cache")
    assert np.array_equal(data.train.images, all_images[[0, 2, 4, 5, 8]])
    assert np.array_equal(data.validation.images, all_images[[1, 6]])
    assert np.array_equal(data.test.images, all_images[[3, 7]])
    assert np.array_equal(data.attributes["test"], attribute_values(9)[[3, 7]] == 1)


def test_attributes(celeba_dir, tmp_path):
    attribute_names, values, file_names = celeba.read_attributes(celeba_dir)
    assert attribute_names == ATTRIBUTES and file_names == names()
    assert values.dtype == np.int8 and values.shape == (N, 40)
    assert np.array_equal(values, (attribute_values() == 1).astype(np.int8))
    assert values[0, 0] == 1 and values[0, 1] == 0 and values[1, 1] == 1  # (i + 2a) % 3 == 0 -> 1
    data = celeba.load_celeba(celeba_dir, cache_dir=tmp_path / "cache", with_attributes=True)
    assert data.attribute_names == ATTRIBUTES
    assert np.array_equal(data.attributes["train"], values[:7])
    assert np.array_equal(data.attributes["validation"], values[7:10])
    assert np.array_equal(data.attributes["test"], values[10:])
    file_names, partition = celeba.read_partition(celeba_dir)
    assert file_names == names() and partition.tolist() == PARTITION


def test_missing_folder_and_files(celeba_dir, tmp_path):
    cache = tmp_path / "cache"
    for function in (celeba.read_partition, celeba.read_attributes, celeba.prepare_images, celeba.load_celeba):
        with pytest.raises(DataError, match="CelebA folder .*nope does not exist; expected " + LAYOUT):
            function(tmp_path / "nope")
    (celeba_dir / "list_attr_celeba.txt").unlink()  # needed only for the attributes
    assert len(celeba.load_celeba(celeba_dir, cache_dir=cache).train.images) == 7
    with pytest.raises(DataError, match="list_attr_celeba.txt missing in .*celeba; expected " + LAYOUT):
        celeba.load_celeba(celeba_dir, cache_dir=cache, with_attributes=True)
    (celeba_dir / "list_eval_partition.txt").unlink()
    with pytest.raises(DataError, match="list_eval_partition.txt missing in .*celeba; expected " + LAYOUT):
        celeba.load_celeba(celeba_dir, cache_dir=cache)


def test_missing_unreadable_and_wrong_size_images(tmp_path):
    folder = write_celeba(tmp_path / "a")
    (folder / "img_align_celeba" / "000005.jpg").unlink()
    (folder / "img_align_celeba" / "000009.jpg").unlink()
    with pytest.raises(DataError, match=r"2 image\(s\) of list_eval_partition.txt missing in .*img_align_celeba, "
                                        r"the first 000005\.jpg; expected " + LAYOUT):
        celeba.prepare_images(folder, cache_dir=tmp_path / "cache")
    folder = write_celeba(tmp_path / "b")
    (folder / "img_align_celeba" / "000007.jpg").write_bytes(b"<html>404</html>")
    with pytest.raises(DataError, match=r"cannot read CelebA image .*000007\.jpg .*; expected " + LAYOUT):
        celeba.prepare_images(folder, cache_dir=tmp_path / "cache")
    folder = write_celeba(tmp_path / "c")
    Image.new("RGB", (218, 178)).save(folder / "img_align_celeba" / "000003.jpg")  # landscape
    with pytest.raises(DataError, match=r"000003\.jpg is 218x178, not 178x218 like the aligned images; "
                                        r"expected " + LAYOUT):
        celeba.load_celeba(folder, cache_dir=tmp_path / "cache")
    folder = write_celeba(tmp_path / "d")
    for child in (folder / "img_align_celeba").iterdir():
        child.unlink()
    (folder / "img_align_celeba").rmdir()
    with pytest.raises(DataError, match="neither img_align_celeba.zip nor the folder img_align_celeba/ is in "
                                        ".*d; expected " + LAYOUT):
        celeba.prepare_images(folder, cache_dir=tmp_path / "cache")
    assert not list((tmp_path / "cache").iterdir())


@pytest.mark.parametrize("text,message", [
    ("000001.jpg 0\n000002.jpg\n", "line 2: '000002.jpg', expected '<file>.jpg <0, 1 or 2>'"),
    ("000001.jpg 0\n000002.jpg 3\n", "line 2: '000002.jpg 3'"),
    ("000001.jpg 0\n000002.jpg -1\n", "line 2: '000002.jpg -1'"),
    ("000001.jpg train\n", "line 1: '000001.jpg train'"),
    ("000001.jpg 0 1\n", "line 1: '000001.jpg 0 1'"),
    ("", "lists no images"),
    ("000001.jpg 0\n000001.jpg 1\n", "lists some file names twice"),
])
def test_malformed_partition_file(celeba_dir, text, message):
    (celeba_dir / "list_eval_partition.txt").write_text(text)
    with pytest.raises(DataError, match=r"list_eval_partition\.txt .*" + message + ".*; expected " + LAYOUT):
        celeba.read_partition(celeba_dir)


def bad_values(row, column, value):
    values = attribute_values().astype(object)
    values[row, column] = value
    return values


@pytest.mark.parametrize("change,message", [
    (dict(count="twelve"), "line 1: 'twelve' is not the number of images"),
    (dict(count=13), "has 12 image rows but line 1 says 13"),
    (dict(header=ATTRIBUTES[:39]), "line 2 has 39 attribute names, expected 40"),
    (dict(header=ATTRIBUTES + ["Sunglasses"]), "line 2 has 41 attribute names, expected 40"),
    (dict(values=attribute_values()[:, :39]), "line 3 has 39 values, expected 40 after the file name"),
    (dict(values=bad_values(3, 7, 0)), "line 6: value '0', expected 1 or -1"),
    (dict(values=bad_values(0, 0, "x")), "line 3: value 'x', expected 1 or -1"),
])
def test_malformed_attribute_file(celeba_dir, tmp_path, change, message):
    write_attributes(celeba_dir, change.pop("values", attribute_values()), **change)
    with pytest.raises(DataError, match=r"list_attr_celeba\.txt .*" + message + ".*; expected " + LAYOUT):
        celeba.read_attributes(celeba_dir)
    with pytest.raises(DataError, match=message):
        celeba.load_celeba(celeba_dir, cache_dir=tmp_path / "cache", with_attributes=True)


def test_attribute_rows_must_follow_the_partition_file(celeba_dir, tmp_path):
    order = names()
    order[2], order[3] = order[3], order[2]
    write_attributes(celeba_dir, attribute_values(), order)
    with pytest.raises(DataError, match=r"list_attr_celeba\.txt does not list the images of list_eval_partition\.txt "
                                        r"in the same order \(list_attr_celeba\.txt row 3 is 000004\.jpg, "
                                        r"list_eval_partition\.txt has 000003\.jpg\); expected " + LAYOUT):
        celeba.load_celeba(celeba_dir, cache_dir=tmp_path / "cache", with_attributes=True)
    write_attributes(celeba_dir, attribute_values(11))
    with pytest.raises(DataError, match=r"list_attr_celeba\.txt 11 images, list_eval_partition\.txt 12"):
        celeba.load_celeba(celeba_dir, cache_dir=tmp_path / "cache", with_attributes=True)


# --- the published img_align_celeba.zip, unextracted ---------------------------------------------------------

def zip_celeba(source, folder, order=None, skip=(), compression=zipfile.ZIP_STORED):
    """`folder` with img_align_celeba.zip (members img_align_celeba/<name>, as published, in `order`) made
    from the images of `source`, and its two text files."""
    folder.mkdir(parents=True)
    with zipfile.ZipFile(folder / "img_align_celeba.zip", "w", compression) as archive:
        archive.writestr("img_align_celeba/", b"")  # the folder entry
        for name in order or names():
            if name not in skip:
                archive.write(source / "img_align_celeba" / name, f"img_align_celeba/{name}")
    for text in ("list_eval_partition.txt", "list_attr_celeba.txt"):
        shutil.copy(source / text, folder / text)
    return folder


def test_cache_from_the_zip_equals_the_cache_from_the_folder(celeba_dir, tmp_path, monkeypatch):
    zipped = zip_celeba(celeba_dir, tmp_path / "zipped", order=names()[::-1])  # not in the partition's order
    assert not (zipped / "img_align_celeba").exists()
    celeba.prepare_images(celeba_dir, cache_dir=tmp_path / "from_folder", workers=1)
    from_zip = celeba.prepare_images(zipped, cache_dir=tmp_path / "from_zip", workers=1)
    assert celeba._open_zips == {}  # the build closed the zip it opened
    monkeypatch.setattr(celeba, "CHUNK", 5)  # three chunks over two processes, each opening the zip itself
    celeba.prepare_images(zipped, cache_dir=tmp_path / "from_zip_pooled", workers=2)
    for name in ("celeba_35_55_143_163_32.npy", "celeba_35_55_143_163_32.json"):
        expected = (tmp_path / "from_folder" / name).read_bytes()
        assert (tmp_path / "from_zip" / name).read_bytes() == expected
        assert (tmp_path / "from_zip_pooled" / name).read_bytes() == expected
    assert np.array_equal(from_zip[4], expected_face(celeba_dir, "000005.jpg", celeba.DEFAULT_BOX, 32))
    data = celeba.load_celeba(zipped, cache_dir=tmp_path / "from_zip", with_attributes=True)
    assert [len(s.images) for s in (data.train, data.validation, data.test)] == [7, 3, 2]


def test_the_folder_is_preferred_to_the_zip(celeba_dir, tmp_path):
    (celeba_dir / "img_align_celeba.zip").write_bytes(b"not a zip: never opened while the folder is there")
    folder_only = tmp_path / "folder_only"
    shutil.copytree(celeba_dir, folder_only)
    (folder_only / "img_align_celeba.zip").unlink()
    both = celeba.prepare_images(celeba_dir, cache_dir=tmp_path / "both", workers=1)
    assert np.array_equal(both, celeba.prepare_images(folder_only, cache_dir=tmp_path / "one", workers=1))


def check_zip_error(folder, cache, pattern):
    with pytest.raises(DataError, match=pattern + ".*; expected " + LAYOUT) as caught:
        celeba.prepare_images(folder, cache_dir=cache, workers=1)
    assert "\n" not in str(caught.value)
    assert list(cache.iterdir()) == []  # no cache, no temporary file
    assert celeba._open_zips == {}


def test_damaged_zip(celeba_dir, tmp_path):
    zipped = zip_celeba(celeba_dir, tmp_path / "zipped")
    path = zipped / "img_align_celeba.zip"
    raw = path.read_bytes()
    path.write_bytes(raw[:len(raw) // 2])  # an interrupted download: no central directory
    check_zip_error(zipped, tmp_path / "cache",
                    r"cannot read .*img_align_celeba\.zip \(File is not a zip file\), damaged or incomplete: "
                    r"download it again")
    # one image's bytes changed inside a complete zip: its CRC no longer matches
    jpeg = (celeba_dir / "img_align_celeba" / "000011.jpg").read_bytes()
    at = raw.index(jpeg) + len(jpeg) // 2
    path.write_bytes(raw[:at] + bytes([raw[at] ^ 0xFF]) + raw[at + 1:])
    check_zip_error(zipped, tmp_path / "cache",
                    r"cannot read CelebA image img_align_celeba/000011\.jpg in .*img_align_celeba\.zip "
                    r"\(Bad CRC-32 .*\), the zip is damaged or incomplete")


def test_zip_missing_images_or_no_images_at_all(celeba_dir, tmp_path):
    zipped = zip_celeba(celeba_dir, tmp_path / "zipped", skip=("000005.jpg", "000009.jpg"))
    check_zip_error(zipped, tmp_path / "cache",
                    r"^2 image\(s\) of list_eval_partition\.txt missing in .*zipped/img_align_celeba\.zip, the "
                    r"first img_align_celeba/000005\.jpg")
    (zipped / "img_align_celeba.zip").unlink()
    check_zip_error(zipped, tmp_path / "cache",
                    r"^neither img_align_celeba\.zip nor the folder img_align_celeba/ is in .*zipped")


def test_zip_image_that_is_not_a_face(celeba_dir, tmp_path):
    Image.new("RGB", (218, 178)).save(celeba_dir / "img_align_celeba" / "000003.jpg")  # landscape
    zipped = zip_celeba(celeba_dir, tmp_path / "zipped", compression=zipfile.ZIP_DEFLATED)
    check_zip_error(zipped, tmp_path / "cache",
                    r"CelebA image img_align_celeba/000003\.jpg in .*img_align_celeba\.zip is 218x178, not 178x218")
