"""CelebA, "Align&Cropped" (https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html): faces cropped and resized once
into a memory-mapped cache.

The data folder holds img_align_celeba/*.jpg (202,599 JPEGs of 178x218), or the published img_align_celeba.zip
that holds them, unextracted (the folder is preferred when both are there), list_eval_partition.txt
(`000001.jpg 0` per line; 0 train, 1 validation, 2 test) and, for the attributes only, list_attr_celeba.txt.
CelebA's terms ask each user to download it, so it is not downloaded for them. Decoding 200k
JPEGs per epoch is too slow, so `prepare_images` crops each face to a box, resizes it to size x size (Lanczos)
and saves all of them, in the order of the partition file, as one uint8 array (N, size, size, 3) in
`<cache_dir>/celeba_<left>_<top>_<right>_<bottom>_<size>.npy`. A JSON sidecar records the file list it was
built from; the cache is rebuilt when the partition file no longer matches it (the images' content is not
checked: after replacing images with others of the same names, delete the cache).

CelebA has no class labels: the splits' `labels` are zeros. The 40 binary attributes come with
`with_attributes=True`.
"""

from __future__ import annotations

import hashlib
import io
import json
import multiprocessing
import os
import sys
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from bidirectional_infogan.util.progress import Progress
from bidirectional_infogan.data.common import DataError, available_cpus, cache_dir, require_folder
from bidirectional_infogan.data.mnist import Split

URL = "https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html"
HINT = (f"expected img_align_celeba.zip (or the extracted img_align_celeba/ folder), list_eval_partition.txt "
        f"and list_attr_celeba.txt in one folder, from {URL} (\"Align&Cropped Images\")")
IMAGE_DIR = "img_align_celeba"
IMAGE_ZIP = "img_align_celeba.zip"  # holds img_align_celeba/000001.jpg ...
PARTITION_FILE = "list_eval_partition.txt"
ATTRIBUTE_FILE = "list_attr_celeba.txt"
WIDTH, HEIGHT = 178, 218  # every aligned CelebA image
NUM_ATTRIBUTES = 40
SPLITS = ("train", "validation", "test")  # partition values 0, 1, 2
DEFAULT_CROP = 108  # the centred 108x108 square, box (35, 55, 143, 163)
CHUNK = 500  # images per task of a worker process
MAX_WORKERS = 16


def centred_box(side: int) -> tuple[int, int, int, int]:
    """The box (left, top, right, bottom) of the centred side x side square."""
    left, top = (WIDTH - side) // 2, (HEIGHT - side) // 2
    return left, top, left + side, top + side


DEFAULT_BOX = centred_box(DEFAULT_CROP)


def check_box(box) -> tuple[int, int, int, int]:
    """`box` as a tuple of four ints; ValueError unless it is a non-empty box inside the 178x218 image."""
    if isinstance(box, (int, np.integer)):
        if not 0 < box <= WIDTH:
            raise ValueError(f"crop side must be 1..{WIDTH} (the image is {WIDTH}x{HEIGHT}), got {box}")
        return centred_box(int(box))
    if not isinstance(box, (tuple, list)) or len(box) != 4 or not all(isinstance(v, (int, np.integer)) for v in box):
        raise ValueError(f"crop box must be four integers left,top,right,bottom, got {box!r}")
    left, top, right, bottom = map(int, box)
    if not (0 <= left < right <= WIDTH and 0 <= top < bottom <= HEIGHT):
        raise ValueError(f"crop box {left},{top},{right},{bottom} is empty or outside the {WIDTH}x{HEIGHT} image "
                         f"(need 0 <= left < right <= {WIDTH} and 0 <= top < bottom <= {HEIGHT})")
    return left, top, right, bottom


def parse_crop(text: str) -> tuple[int, int, int, int]:
    """'108' (side of a centred square) or 'left,top,right,bottom' -> box; ValueError for anything else."""
    parts = [part.strip() for part in str(text).split(",")]
    try:
        values = [int(part) for part in parts]
    except ValueError:
        raise ValueError(f"crop must be one integer (side of a centred square) or four integers "
                         f"left,top,right,bottom, got '{text}'") from None
    if len(values) == 1:
        return check_box(values[0])
    if len(values) != 4:
        raise ValueError(f"crop must be one integer or four integers left,top,right,bottom, got '{text}'")
    return check_box(tuple(values))


def default_cache_dir() -> Path:
    return cache_dir("celeba")


def _folder(data_dir) -> Path:
    return require_folder(data_dir, "CelebA", HINT)


def _read_lines(path: Path) -> list[str]:
    if not path.is_file():
        raise DataError(f"{path.name} missing in {path.parent}; {HINT}")
    try:
        return path.read_text(encoding="ascii").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise DataError(f"cannot read {path}: {err}; {HINT}") from None


def read_partition(data_dir) -> tuple[list[str], np.ndarray]:
    """list_eval_partition.txt -> (file names, partition int64 array: 0 train, 1 validation, 2 test)."""
    path = _folder(data_dir) / PARTITION_FILE
    names, partition = [], []
    for number, line in enumerate(_read_lines(path), 1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 2 or fields[1] not in ("0", "1", "2"):
            raise DataError(f"{path} line {number}: '{line.strip()}', expected '<file>.jpg <0, 1 or 2>'; {HINT}")
        names.append(fields[0])
        partition.append(int(fields[1]))
    if not names:
        raise DataError(f"{path} lists no images; {HINT}")
    if len(set(names)) != len(names):
        raise DataError(f"{path} lists some file names twice; {HINT}")
    return names, np.array(partition, dtype=np.int64)


def read_attributes(data_dir) -> tuple[list[str], np.ndarray, list[str]]:
    """list_attr_celeba.txt -> (40 attribute names, values (N, 40) int8 with 1 -> 1 and -1 -> 0, file names)."""
    path = _folder(data_dir) / ATTRIBUTE_FILE
    lines = _read_lines(path)
    while lines and not lines[-1].strip():
        lines.pop()
    if len(lines) < 2:
        raise DataError(f"{path} is too short: expected the image count, the attribute names, then one row "
                        f"per image; {HINT}")
    try:
        count = int(lines[0])
    except ValueError:
        raise DataError(f"{path} line 1: '{lines[0].strip()}' is not the number of images; {HINT}") from None
    attribute_names = lines[1].split()
    if len(attribute_names) != NUM_ATTRIBUTES:
        raise DataError(f"{path} line 2 has {len(attribute_names)} attribute names, expected {NUM_ATTRIBUTES}; "
                        f"{HINT}")
    rows = lines[2:]
    if len(rows) != count:
        raise DataError(f"{path} has {len(rows)} image rows but line 1 says {count}; {HINT}")
    names = []
    values = np.empty((count, NUM_ATTRIBUTES), dtype=np.int8)
    for i, line in enumerate(rows):
        fields = line.split()
        if len(fields) != NUM_ATTRIBUTES + 1:
            raise DataError(f"{path} line {i + 3} has {len(fields) - 1} values, expected {NUM_ATTRIBUTES} after "
                            f"the file name; {HINT}")
        if not {"1", "-1"}.issuperset(fields[1:]):
            bad = next(v for v in fields[1:] if v not in ("1", "-1"))
            raise DataError(f"{path} line {i + 3}: value '{bad}', expected 1 or -1; {HINT}")
        names.append(fields[0])
        values[i] = [v == "1" for v in fields[1:]]
    return attribute_names, values, names


_open_zips: dict[str, zipfile.ZipFile] = {}  # per process: reading the zip's directory once, not per chunk


def _open_zip(zip_path: str) -> zipfile.ZipFile:
    if zip_path not in _open_zips:
        _open_zips[zip_path] = zipfile.ZipFile(zip_path)
    return _open_zips[zip_path]


def _close_zip(zip_path: str) -> None:
    archive = _open_zips.pop(zip_path, None)
    if archive is not None:
        archive.close()


def _decode_chunk(task) -> np.ndarray:
    """Crop and resize the images of one chunk (runs in a worker process). `zip_path` None: `paths` are
    JPEG files; else they are members of that zip, which each process opens itself."""
    zip_path, paths, box, size = task
    out = np.empty((len(paths), size, size, 3), dtype=np.uint8)
    for i, path in enumerate(paths):
        if zip_path is not None:
            try:
                source = io.BytesIO(_open_zip(zip_path).read(path))
            except (OSError, EOFError, KeyError, zipfile.BadZipFile, zlib.error) as err:
                raise DataError(f"cannot read CelebA image {path} in {zip_path} ({err}), the zip is damaged or "
                                f"incomplete; {HINT}") from None
            path = f"{path} in {zip_path}"  # for the messages below
        else:
            source = path
        try:
            with Image.open(source) as image:
                image.load()
                if image.size != (WIDTH, HEIGHT):
                    raise DataError(f"CelebA image {path} is {image.size[0]}x{image.size[1]}, not "
                                    f"{WIDTH}x{HEIGHT} like the aligned images; {HINT}")
                face = image.convert("RGB").crop(box).resize((size, size), Image.Resampling.LANCZOS)
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as err:
            raise DataError(f"cannot read CelebA image {path} ({err}); {HINT}") from None
        out[i] = np.asarray(face)
    return out


def _worker_count() -> int:
    return min(available_cpus(), MAX_WORKERS)


def _sidecar_content(names: list[str], box, size: int) -> dict:
    digest = hashlib.sha256("\n".join(names).encode()).hexdigest()
    return {"images": len(names), "first": names[0], "last": names[-1], "names_sha256": digest,
            "crop": list(box), "size": size}


def _load_cache(path: Path, sidecar: Path, expected: dict) -> np.ndarray | None:
    """The cached array if the cache exists and was built from the expected file list, else None."""
    try:
        if json.loads(sidecar.read_text()) != expected:
            return None
        images = np.load(path, mmap_mode="r")
    except (OSError, ValueError):
        return None
    size = expected["size"]
    if images.dtype != np.uint8 or images.shape != (expected["images"], size, size, 3):
        return None
    return images


def _image_source(folder: Path, names: list[str]) -> tuple[str | None, list[str]]:
    """(None, JPEG paths) from img_align_celeba/, else (zip path, member names) from img_align_celeba.zip;
    DataError if neither holds every image of the partition file."""
    image_dir, zip_path = folder / IMAGE_DIR, folder / IMAGE_ZIP
    if image_dir.is_dir():
        present = set(os.listdir(image_dir))
        missing = [name for name in names if name not in present]
        if missing:
            raise DataError(f"{len(missing)} image(s) of {PARTITION_FILE} missing in {image_dir}, the first "
                            f"{missing[0]}; {HINT}")
        return None, [str(image_dir / name) for name in names]
    if not zip_path.is_file():
        raise DataError(f"neither {IMAGE_ZIP} nor the folder {IMAGE_DIR}/ is in {folder}; {HINT}")
    try:
        with zipfile.ZipFile(zip_path) as archive:
            present = set(archive.namelist())
    except (OSError, EOFError, zipfile.BadZipFile) as err:
        raise DataError(f"cannot read {zip_path} ({err}), damaged or incomplete: download it again; "
                        f"{HINT}") from None
    members = [f"{IMAGE_DIR}/{name}" for name in names]
    missing = [member for member in members if member not in present]
    if missing:
        raise DataError(f"{len(missing)} image(s) of {PARTITION_FILE} missing in {zip_path}, the first "
                        f"{missing[0]}; {HINT}")
    return str(zip_path), members


def _build_cache(folder: Path, names: list[str], box, size: int, path: Path, sidecar: Path,
                 workers: int) -> None:
    zip_path, paths = _image_source(folder, names)
    tasks = [(zip_path, paths[i:i + CHUNK], box, size) for i in range(0, len(paths), CHUNK)]
    # written under temporary names, renamed into place when complete: an interrupted build leaves no cache
    tmp_name = sidecar_tmp = None
    progress = Progress(len(names), out=sys.stderr, label="images", line_interval=30.0)
    progress.message(f"preparing CelebA once: {len(names)} faces, crop {box}, {size}x{size} -> {path}")
    try:
        handle, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=path.stem + ".", suffix=".tmp")
        os.close(handle)
        out = np.lib.format.open_memmap(tmp_name, mode="w+", dtype=np.uint8, shape=(len(names), size, size, 3))
        done = 0
        if workers > 1 and len(tasks) > 1:
            # spawn, not fork: the caller may already run TensorFlow's threads
            with multiprocessing.get_context("spawn").Pool(min(workers, len(tasks))) as pool:
                for chunk in pool.imap(_decode_chunk, tasks):  # in order
                    out[done:done + len(chunk)] = chunk
                    done += len(chunk)
                    progress.update(done)
        else:
            for task in tasks:
                chunk = _decode_chunk(task)
                out[done:done + len(chunk)] = chunk
                done += len(chunk)
                progress.update(done)
        out.flush()
        del out
        sidecar.unlink(missing_ok=True)  # no sidecar may vouch for a half-replaced cache
        os.replace(tmp_name, path)
        sidecar_tmp = sidecar.with_name(f"{sidecar.name}.{os.getpid()}.tmp")
        sidecar_tmp.write_text(json.dumps(_sidecar_content(names, box, size), indent=1) + "\n")
        os.replace(sidecar_tmp, sidecar)
    except OSError as err:
        raise DataError(f"cannot write the CelebA cache {path}: {err}") from None
    finally:
        progress.close()
        if zip_path is not None:
            _close_zip(zip_path)  # opened by this process when it decoded the chunks itself
        for name in (tmp_name, sidecar_tmp):
            if name is not None:
                Path(name).unlink(missing_ok=True)


def cache_path(cache_dir, crop, size: int) -> Path:
    left, top, right, bottom = check_box(crop)
    return Path(cache_dir).expanduser() / f"celeba_{left}_{top}_{right}_{bottom}_{size}.npy"


def prepare_images(data_dir, crop=DEFAULT_BOX, size: int = 32, cache_dir=None, workers: int | None = None
                   ) -> np.ndarray:
    """All faces, cropped to `crop` (a box or the side of a centred square) and resized to size x size, as a
    memory-mapped uint8 array (N, size, size, 3) in the order of the partition file; built on first use
    with `workers` processes (default: one per CPU, at most MAX_WORKERS)."""
    box = check_box(crop)
    if not (isinstance(size, (int, np.integer)) and size > 0):
        raise ValueError(f"size must be a positive integer, got {size!r}")
    folder = _folder(data_dir)
    names, _ = read_partition(folder)
    path = cache_path(default_cache_dir() if cache_dir is None else cache_dir, box, size)
    sidecar = path.with_suffix(".json")
    expected = _sidecar_content(names, box, size)
    images = _load_cache(path, sidecar, expected)
    if images is None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise DataError(f"cannot create the cache folder {path.parent}: {err}") from None
        _build_cache(folder, names, box, size, path, sidecar, workers or _worker_count())
        images = _load_cache(path, sidecar, expected)
        if images is None:
            raise DataError(f"the CelebA cache {path} was written but cannot be read back")
    return images


@dataclass
class CelebaData:
    train: Split  # labels are zeros: CelebA has no classes
    validation: Split
    test: Split
    attribute_names: list[str] | None = None  # the 40 names, with_attributes only
    attributes: dict[str, np.ndarray] | None = None  # "train"/"validation"/"test" -> (N_split, 40) int8 in {0, 1}


def _rows(array: np.ndarray, index: np.ndarray) -> np.ndarray:
    """array[index], as a slice (a view, memory-mapped stays memory-mapped) when the rows are contiguous."""
    if len(index) == 0:
        return array[:0]
    if index[-1] - index[0] + 1 == len(index):
        return array[index[0]:index[-1] + 1]
    return array[index]


def load_celeba(data_dir, crop=DEFAULT_BOX, size: int = 32, cache_dir=None, with_attributes: bool = False,
                workers: int | None = None) -> CelebaData:
    """CelebA split by list_eval_partition.txt into train (0), validation (1) and test (2); see prepare_images."""
    names, partition = read_partition(data_dir)
    attribute_names = values = None
    if with_attributes:
        attribute_names, values, attribute_files = read_attributes(data_dir)
        if attribute_files != names:
            if len(attribute_files) != len(names):
                where = f"{len(attribute_files)} images, {PARTITION_FILE} {len(names)}"
            else:
                i = next(i for i, (a, b) in enumerate(zip(attribute_files, names)) if a != b)
                where = f"row {i + 1} is {attribute_files[i]}, {PARTITION_FILE} has {names[i]}"
            raise DataError(f"{ATTRIBUTE_FILE} does not list the images of {PARTITION_FILE} in the same order "
                            f"({ATTRIBUTE_FILE} {where}); {HINT}")
    images = prepare_images(data_dir, crop=crop, size=size, cache_dir=cache_dir, workers=workers)
    indices = {split: np.flatnonzero(partition == value) for value, split in enumerate(SPLITS)}
    splits = {split: Split(images=_rows(images, index), labels=np.zeros(len(index), dtype=np.int64))
              for split, index in indices.items()}
    attributes = None if values is None else {split: values[index] for split, index in indices.items()}
    return CelebaData(**splits, attribute_names=attribute_names, attributes=attributes)
