"""E's codes for the test images, computed once per checkpoint and cached in the run folder.

The cache `RUN_DIR/test_codes/iteration-<N>.npz` remembers a fingerprint of the checkpoint it came from
(size and SHA-256 of the checkpoint's index file, size of its data file) and of the images; if either
differs, the codes are computed again.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from bidirectional_infogan.runs.run_folder import list_checkpoints


def checkpoint_fingerprint(run_dir: Path, iteration: int) -> str:
    prefix = Path(list_checkpoints(run_dir)[iteration])
    index = prefix.with_name(prefix.name + ".index")
    data_size = sum(p.stat().st_size for p in prefix.parent.glob(prefix.name + ".data-*"))
    return f"{hashlib.sha256(index.read_bytes()).hexdigest()}:{data_size}"


def images_fingerprint(images: np.ndarray) -> str:
    return f"{images.shape}:{hashlib.sha256(np.ascontiguousarray(images).tobytes()).hexdigest()}"


def cached_test_codes(model, run_dir: Path, iteration: int, images: np.ndarray) -> tuple[np.ndarray, bool]:
    """(codes, came_from_cache): E(x) in inference mode for every test image, (N, latent_dim) float32."""
    cache = Path(run_dir) / "test_codes" / f"iteration-{iteration}.npz"
    key = checkpoint_fingerprint(Path(run_dir), iteration) + "|" + images_fingerprint(images)
    if cache.is_file():
        try:
            with np.load(cache) as stored:
                if str(stored["key"]) == key:
                    return stored["codes"], True
        except (OSError, ValueError, KeyError):
            pass  # an unreadable cache is simply recomputed
    codes = model.encode(images)
    cache.parent.mkdir(exist_ok=True)
    partial = cache.with_suffix(".partial.npz")
    np.savez(partial, codes=codes, key=np.array(key))
    partial.replace(cache)
    return codes, False
