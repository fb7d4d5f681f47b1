"""Download one published file into a cache folder, checked against its published size and MD5.

The file is streamed to a temporary file in the destination folder, hashed on the way, and renamed to its
real name only when it has exactly the published size and MD5: a failed or interrupted download leaves
nothing behind, and a file under the real name is always complete. So a later start only needs to check
that the file exists with the right size; it does not hash it again (1.3 GB for SVHN's extra set).
"""

from __future__ import annotations

import hashlib
import http.client
import os
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from bidirectional_infogan.util.progress import Progress
from bidirectional_infogan.data.common import DataError

CHUNK = 1 << 20  # bytes per read
MB = 1_000_000  # the progress bar counts megabytes


def _one_line(err: BaseException) -> str:
    if isinstance(err, urllib.error.URLError) and not isinstance(err, urllib.error.HTTPError):
        err = err.reason if isinstance(err.reason, BaseException) else err  # not "<urlopen error ...>"
    return " ".join(str(err).split()) or type(err).__name__


def download_file(url: str, dest: str | Path, size: int, md5: str, label: str, hint: str = "",
                  timeout: float = 60.0, out=None) -> Path:
    """Fetch `url` to `dest` (whose folder must exist) with a progress bar on `out` (stderr); DataError,
    naming `label` and the URL and ending with `hint`, if the download fails or is not the published
    `size` bytes with MD5 `md5`. Returns `dest`."""
    dest = Path(dest)
    out = out or sys.stderr
    progress = Progress(-(-size // MB), out=out, label="MB", line_interval=30.0)
    progress.message(f"downloading {label} ({size / MB:,.1f} MB) from {url} to {dest}")
    tmp_name = None
    try:
        handle, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=dest.name + ".", suffix=".part")
        digest = hashlib.md5(usedforsecurity=False)
        done = 0
        with os.fdopen(handle, "wb") as file, urllib.request.urlopen(url, timeout=timeout) as response:
            announced = response.headers.get("Content-Length")
            if announced is not None and announced.isdigit() and int(announced) != size:
                raise DataError(f"the server announces {int(announced):,} bytes, not the published {size:,}")
            while True:
                block = response.read(CHUNK)
                if not block:
                    break
                done += len(block)
                if done > size:
                    raise DataError(f"the server sent more than the published {size:,} bytes")
                digest.update(block)
                file.write(block)
                progress.update(done // MB)
        if done != size:
            raise DataError(f"the download stopped after {done:,} of {size:,} bytes")
        if digest.hexdigest() != md5:
            raise DataError(f"checksum mismatch: MD5 {digest.hexdigest()}, published {md5}")
        os.replace(tmp_name, dest)
        tmp_name = None
        progress.update(progress.total)
    except (OSError, ValueError, http.client.HTTPException, DataError) as err:  # URLError is an OSError
        raise DataError(f"could not download {label} from {url} ({_one_line(err)}); nothing was kept"
                        + (f"; {hint}" if hint else "")) from None
    finally:
        progress.close()
        if tmp_name is not None:
            Path(tmp_name).unlink(missing_ok=True)
    return dest
