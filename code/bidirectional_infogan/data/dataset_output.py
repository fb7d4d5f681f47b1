"""What the data-set builders of scripts/ (investigations/make_proxy_data.py, svhn_standin/make_svhn_standin.py)
both write and check: SVHN's .mat files (with a fixed header text, so the same data give the same bytes every
run), and output folders that the first line of their README.txt marks as one script's (replaced only with
--overwrite, and only if its).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.io


def svhn_labels(digits) -> np.ndarray:
    """SVHN's y of the digits 0..9: (N, 1) uint8, with 10 for the digit 0."""
    return np.where(digits == 0, 10, digits).astype(np.uint8).reshape(-1, 1)


def save_svhn_mat(path: Path, x: np.ndarray, y: np.ndarray, description: str, compress: bool) -> None:
    """SVHN's Format 2 (X (32, 32, 3, N) uint8, y (N, 1) uint8) by scipy.io.savemat, with the header's
    creation time replaced by `description` (the same bytes every run)."""
    scipy.io.savemat(str(path), {"X": x, "y": y}, do_compression=compress)
    header = f"MATLAB 5.0 MAT-file Platform: posix, {description}".encode("ascii")
    with open(path, "r+b") as file:
        file.write(header.ljust(116, b" "))  # the 116-byte text field of the 128-byte header


def written_by(folder: Path, marker: str) -> bool:
    """Whether folder/README.txt's first line has `marker`: the folder was written by that script."""
    readme = folder / "README.txt"
    try:
        return readme.is_file() and marker in readme.read_text(errors="replace").splitlines()[0]
    except (OSError, IndexError):
        return False


def why_not_replace(folder: Path, marker: str, overwrite: bool, ignore_prefix: str | None = None) -> str | None:
    """Why a script must not write into `folder` (the error message), or None if it may: the folder is a file,
    or it is not empty (files whose names start with `ignore_prefix` aside) and either `overwrite` is off or
    the folder is not one the script of `marker` wrote."""
    if folder.exists() and not folder.is_dir():
        return f"{folder} exists and is not a folder"
    if folder.is_dir() and any(ignore_prefix is None or not p.name.startswith(ignore_prefix)
                               for p in folder.iterdir()):
        if not overwrite:
            return f"{folder} exists and is not empty; pass --overwrite to replace it"
        if not written_by(folder, marker):
            return (f"{folder} was not written by this script (no README.txt of it); not replacing it, "
                    f"delete it yourself if it should go")
    return None
