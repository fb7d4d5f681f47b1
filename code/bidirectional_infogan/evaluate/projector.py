"""Write E's codes of test images as a TensorBoard Projector embedding.

The Projector is TensorBoard's interactive embedding viewer: it shows N points (here: the encoder's codes of N
test images, its categorical probabilities and continuous means concatenated) in 2-D or 3-D by PCA, t-SNE or
UMAP, draws each point as its image thumbnail, and colours, labels and searches them by the metadata columns
(e.g. the true label, E's category and its confidence).

    write_projector(RUN_DIR / "samples", codes, images, {"label": y, "category": cat, "confidence": conf})
    tensorboard --logdir RUN_DIR/samples        # then open the "Projector" tab (or pick it under the
                                                # drop-down menu next to the other tabs)

The plugin finds `projector_config.pbtxt` in the log directory (the "." run), reads the tensor from its TSV
file, the metadata TSV and the sprite PNG; all paths in the config are relative to the config's folder. The
embedding's files are named after tensor_name:

    projector_config.pbtxt        embeddings { tensor_name, tensor_path, metadata_path, sprite { ... } }
    <name>_tensor.tsv             N lines of D tab-separated floats
    <name>_metadata.tsv           a header line (column names) and N lines; no header with a single column
    <name>_sprite.png             the N thumbnails tiled row-major in a ceil(sqrt(N)) x ceil(sqrt(N)) grid

Decisions (checked against tensorboard/plugins/projector/projector_plugin.py and the Projector's front end):
- The tensor is cast to float32 (the plugin's own dtype) and written with "%.9g", which reproduces every
  float32 exactly. Non-finite values are refused.
- Images: uint8 are taken as they are. Floats are mapped linearly from `image_range` to 0..255 and rounded
  (np.rint of x01 * 255, x01 = (x - lo) / (hi - lo), clipped to [0, 1]). With image_range=None the range is
  (-1, 1) if the smallest value is below -1/255, else (0, 1) (this project's images are in [0, 1]). Values
  more than 1/255 of the range outside it raise ValueError (floats in 0..255 are not silently clipped).
  Shapes (N, H, W), (N, H, W, 1) (grey PNG), (N, H, W, 3) (RGB), (N, H, W, 4) (RGBA); unused grid cells
  are 0.
- The front end refuses sprites wider or taller than 8192 px, so a grid of ceil(sqrt(N)) thumbnails of
  H x W with ceil(sqrt(N)) * max(H, W) > 8192 raises ValueError (nothing is downscaled; pass fewer images:
  10,000 images fit up to 81 x 81 px). single_image_dim is written as [W, H]: the front end reads it as
  (width, height).
- Metadata: one column per dict entry, in the dict's order. Floats are written with "%.4g", integers and
  bools as they are, anything else with str(). Tabs, newlines and the other line breaks are replaced by a
  space; an empty or blank value is written as "(empty)" (the front end skips blank lines, which would shift
  every later row). With more than one column the first line holds the column names; with exactly one
  column there is no header (the front end would take it for a data row and calls the column "label").
- An existing projector_config.pbtxt keeps everything else in it (other embeddings, checkpoint paths,
  comments, verbatim); an embeddings entry with the same tensor_name (or tensor_name + ":0") is replaced in
  place, else the new entry is appended. A config that cannot be read raises ValueError and nothing is
  written. tensor_name must match [A-Za-z0-9][A-Za-z0-9._-]* (it names the files).
- Every file is first written whole to a hidden temporary name in the folder, then all are renamed over
  their final names, the config last; if anything fails the temporary files are removed. Other files in the
  folder (event files, images) are left alone. Two processes writing the same folder at once are not
  guarded against (the last config written wins).
"""
from __future__ import annotations

import ast
import io
import math
import numbers
import os
import re
import secrets
from pathlib import Path

import numpy as np
from PIL import Image

CONFIG_NAME = "projector_config.pbtxt"
MAX_SPRITE_PX = 8192  # the Projector front end's limit on each side of the sprite image
EMPTY_VALUE = "(empty)"
_TOL = 1.0 / 255.0
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*\Z")
_LINE_BREAKS = re.compile("[\t\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]")


def write_projector(folder, embeddings, images, metadata, tensor_name="encoder_codes", image_range=None) -> Path:
    """Write one Projector embedding into `folder` (created if missing); returns the config's path.

    embeddings  float array (N, D): one row per image (E's categorical probabilities and continuous means)
    images      (N, H, W) or (N, H, W, C) with C in 1, 3, 4; uint8, or float in `image_range`
    metadata    dict column name -> sequence of N values (at least one column)
    tensor_name the embedding's name in the Projector, and the prefix of its files
    image_range (lo, hi) of float images, e.g. (0, 1) or (-1, 1); None: (-1, 1) if min < -1/255 else (0, 1)

    Raises ValueError (one line) for a bad name, shape, range or N, a sprite over 8192 px, or an unreadable
    existing config; nothing is written then.
    """
    if not isinstance(tensor_name, str) or not _NAME_RE.match(tensor_name):
        raise ValueError(f"tensor_name {tensor_name!r} must match [A-Za-z0-9][A-Za-z0-9._-]*")
    tensor = _tensor_array(embeddings)
    pixels = _to_uint8(images, image_range)
    columns = _columns(metadata)
    counts = {"embeddings": tensor.shape[0], "images": pixels.shape[0]}
    counts.update({f"metadata[{name!r}]": len(values) for name, values in columns.items()})
    if len(set(counts.values())) != 1:
        raise ValueError("the number of images N differs: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    if tensor.shape[0] < 1:
        raise ValueError("need at least one image (N >= 1), got N = 0")

    folder = Path(folder)
    files = {
        "tensor": f"{tensor_name}_tensor.tsv",
        "metadata": f"{tensor_name}_metadata.tsv",
        "sprite": f"{tensor_name}_sprite.png",
    }
    sprite = _sprite_png(pixels)
    height, width = pixels.shape[1:3]
    entry = (
        "embeddings {\n"
        f'  tensor_name: "{tensor_name}"\n'
        f'  tensor_path: "{files["tensor"]}"\n'
        f'  metadata_path: "{files["metadata"]}"\n'
        "  sprite {\n"
        f'    image_path: "{files["sprite"]}"\n'
        f"    single_image_dim: {width}\n"
        f"    single_image_dim: {height}\n"
        "  }\n"
        "}\n"
    )
    config_path = folder / CONFIG_NAME
    try:
        old_config = config_path.read_text(encoding="utf-8") if config_path.is_file() else ""
    except UnicodeDecodeError:
        raise ValueError(f"cannot read {config_path}: not UTF-8 text; move it away") from None
    config = _merge_config(old_config, entry, tensor_name, config_path)

    contents = [  # the config last: it never names a file that is not there yet
        (files["tensor"], _tensor_tsv(tensor)),
        (files["metadata"], _metadata_tsv(columns)),
        (files["sprite"], sprite),
        (CONFIG_NAME, config.encode("utf-8")),
    ]
    folder.mkdir(parents=True, exist_ok=True)
    temps = []
    try:
        for name, data in contents:
            temps.append((_write_temp(folder, name, data), folder / name))
        while temps:
            temp, final = temps[0]
            os.replace(temp, final)
            temps.pop(0)
    finally:
        for temp, _ in temps:
            try:
                temp.unlink()
            except FileNotFoundError:
                pass
    return config_path


def _write_temp(folder: Path, name: str, data: bytes) -> Path:
    """Write `data` whole to a new hidden file next to `name` in `folder`; return its path."""
    temp = folder / f".{name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return temp


def _tensor_array(embeddings) -> np.ndarray:
    try:
        tensor = np.asarray(embeddings, dtype=np.float32)
    except (TypeError, ValueError) as err:
        raise ValueError(f"embeddings must be a float array (N, D): {err}".replace("\n", " ")) from None
    if tensor.ndim != 2 or tensor.shape[1] < 1:
        raise ValueError(f"embeddings must have shape (N, D) with D >= 1, got {tensor.shape}")
    if not np.isfinite(tensor).all():
        raise ValueError("embeddings contain NaN or infinite values (as float32)")
    return tensor


def _tensor_tsv(tensor: np.ndarray) -> bytes:
    out = io.BytesIO()
    np.savetxt(out, tensor, fmt="%.9g", delimiter="\t", newline="\n")
    return out.getvalue()


def _to_uint8(images, image_range) -> np.ndarray:
    """(N, H, W[, C]) -> uint8 (N, H, W, C), scaled as the module docstring says."""
    a = np.asarray(images)
    if a.ndim == 3:
        a = a[..., None]
    if a.ndim != 4 or a.shape[-1] not in (1, 3, 4) or min(a.shape[1:3], default=0) < 1:
        raise ValueError(f"images must have shape (N, H, W) or (N, H, W, C) with C in 1, 3, 4, got {np.shape(images)}")
    if a.dtype == np.uint8:
        if image_range is not None:
            raise ValueError("image_range applies to float images only; uint8 images are used as they are")
        return a
    if not np.issubdtype(a.dtype, np.floating):
        raise ValueError(f"images must be uint8 or float, got {a.dtype}")
    a = a.astype(np.float64)
    if a.size == 0:
        return np.zeros(a.shape, np.uint8)
    if not np.isfinite(a).all():
        raise ValueError("images contain NaN or infinite values")
    if image_range is None:
        lo, hi = (-1.0, 1.0) if a.min() < -_TOL else (0.0, 1.0)
    else:
        lo, hi = (float(v) for v in image_range)
        if not hi > lo:
            raise ValueError(f"image_range must be (lo, hi) with lo < hi, got {image_range!r}")
    x = (a - lo) / (hi - lo)
    if x.min() < -_TOL or x.max() > 1 + _TOL:
        raise ValueError(f"images span [{a.min():.4g}, {a.max():.4g}], outside [{lo:g}, {hi:g}]; pass image_range")
    return np.rint(np.clip(x, 0.0, 1.0) * 255.0).astype(np.uint8)


def _sprite_png(pixels: np.ndarray) -> bytes:
    """Tile (N, H, W, C) uint8 row-major into a ceil(sqrt(N)) grid: image k at row k // side, column k % side."""
    n, h, w, c = pixels.shape
    side = math.isqrt(n - 1) + 1
    if side * max(h, w) > MAX_SPRITE_PX:
        raise ValueError(
            f"the sprite would be {side * w}x{side * h} px ({side}x{side} thumbnails of {h}x{w}), over the "
            f"Projector's {MAX_SPRITE_PX}x{MAX_SPRITE_PX}: pass at most {(MAX_SPRITE_PX // max(h, w)) ** 2} images"
        )
    grid = np.zeros((side * side, h, w, c), np.uint8)
    grid[:n] = pixels
    sheet = grid.reshape(side, side, h, w, c).transpose(0, 2, 1, 3, 4).reshape(side * h, side * w, c)
    image = Image.fromarray(sheet[..., 0], "L") if c == 1 else Image.fromarray(sheet, "RGB" if c == 3 else "RGBA")
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def _columns(metadata) -> dict[str, list]:
    if not isinstance(metadata, dict) or not metadata:
        raise ValueError("metadata must be a dict of at least one column name -> sequence of N values")
    columns = {}
    for name, values in metadata.items():
        if isinstance(values, (str, bytes)):
            raise ValueError(f"metadata[{name!r}] must be a sequence of N values, not a string")
        if isinstance(values, np.ndarray):
            if values.ndim != 1:
                raise ValueError(f"metadata[{name!r}] must be one-dimensional, got shape {values.shape}")
            values = values.tolist()
        if _cell(name) in columns:
            raise ValueError(f"metadata column names {list(metadata)!r} repeat once tabs and line breaks are spaces")
        columns[_cell(name)] = list(values)
    return columns


def _cell(value) -> str:
    """One metadata value as TSV text: "%.4g" floats, no tabs or line breaks, never blank."""
    if value is None:
        text = ""
    elif isinstance(value, (bool, np.bool_)):
        text = str(bool(value))
    elif isinstance(value, numbers.Integral):
        text = str(int(value))
    elif isinstance(value, numbers.Real):
        text = "%.4g" % float(value)
    elif isinstance(value, bytes):
        text = value.decode("utf-8", "replace")
    else:
        text = str(value)
    text = _LINE_BREAKS.sub(" ", text)
    return text if text.strip() else EMPTY_VALUE


def _metadata_tsv(columns: dict[str, list]) -> bytes:
    lines = ["\t".join(columns)] if len(columns) > 1 else []
    lines += ["\t".join(_cell(v) for v in row) for row in zip(*columns.values())]
    return ("\n".join(lines) + "\n").encode("utf-8")


# --- projector_config.pbtxt: replace one top-level `embeddings` entry, keep the rest verbatim -------------
# A small reader of the protobuf text format, enough to find the top-level fields and each embeddings entry's
# tensor_name (this module does not import protobuf).

_TOKEN_RE = re.compile(
    r"""(?P<skip>\s+|\#[^\n]*)
      |(?P<str>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
      |(?P<open>[{<])|(?P<close>[}>])|(?P<lbr>\[)|(?P<rbr>\])
      |(?P<punct>[:;,])
      |(?P<word>[A-Za-z0-9_.+\-]+)""",
    re.X,
)


def _tokens(text: str, where: Path) -> list[tuple[str, str, int, int]]:
    tokens, pos = [], 0
    while pos < len(text):
        m = _TOKEN_RE.match(text, pos)
        if not m:
            raise ValueError(f"cannot read {where} at character {pos}: not protobuf text format; move it away")
        if m.lastgroup != "skip":
            tokens.append((m.lastgroup, m.group(), m.start(), m.end()))
        pos = m.end()
    return tokens


def _string_value(raw: str) -> str:
    body = raw[1:-1]
    if "\\" not in body:
        return body
    try:
        return str(ast.literal_eval(raw))
    except (ValueError, SyntaxError):
        return body


def _merge_config(text: str, entry: str, tensor_name: str, where: Path) -> str:
    """`text` with every top-level embeddings entry named `tensor_name` replaced by `entry` (at the first
    one's place), or `entry` appended."""
    tokens = _tokens(text, where)

    def fail(i):
        at = tokens[i][2] if i < len(tokens) else len(text)
        return ValueError(f"cannot read {where} at character {at}: unexpected protobuf text; move it away")

    spans, i = [], 0  # spans of the entries to replace
    while i < len(tokens):
        kind, field, start, _ = tokens[i]
        if kind != "word":
            raise fail(i)
        i += 1
        if i < len(tokens) and tokens[i][1] == ":":
            i += 1
        if i >= len(tokens):
            raise fail(i)
        if tokens[i][0] == "open":
            depth, j, name_parts = 0, i, None
            while j < len(tokens):
                k = tokens[j][0]
                depth += (k == "open") - (k == "close")
                if depth == 0:
                    break
                if depth == 1 and k == "word" and tokens[j][1] == "tensor_name" and name_parts is None:
                    m = j + 1 + (j + 1 < len(tokens) and tokens[j + 1][1] == ":")
                    name_parts = []
                    while m < len(tokens) and tokens[m][0] == "str":
                        name_parts.append(_string_value(tokens[m][1]))
                        m += 1
                j += 1
            if j >= len(tokens):
                raise fail(j)
            end = tokens[j][3]
            i = j + 1
            name = "".join(name_parts or [])
            if field == "embeddings" and (name[:-2] if name.endswith(":0") else name) == tensor_name:
                spans.append((start, end))
        elif tokens[i][0] == "lbr":
            if field == "embeddings":
                raise ValueError(f"cannot edit {where}: embeddings written as a [list]; move it away")
            while i < len(tokens) and tokens[i][0] != "rbr":
                i += 1
            if i >= len(tokens):
                raise fail(i)
            i += 1
        elif tokens[i][0] == "str":
            while i < len(tokens) and tokens[i][0] == "str":
                i += 1
        elif tokens[i][0] == "word":
            i += 1
        else:
            raise fail(i)
        if i < len(tokens) and tokens[i][1] in (";", ","):
            i += 1

    if not spans:
        if text and not text.endswith("\n"):
            text += "\n"
        return text + entry
    out, pos = [], 0
    for n, (start, end) in enumerate(spans):
        if end < len(text) and text[end] == "\n":
            end += 1  # the entry's own line break (entry ends with one)
        out.append(text[pos:start])
        out.append(entry if n == 0 else "")
        pos = end
    out.append(text[pos:])
    merged = "".join(out)
    return merged if merged.endswith("\n") else merged + "\n"
