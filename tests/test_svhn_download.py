"""SVHN's download into the cache, against a small HTTP server on 127.0.0.1 serving small .mat files in the
published format: good files are fetched once, checked and loaded; short, cut, corrupted and unreachable
downloads are one-line DataErrors that leave nothing in the cache. The real network is never touched."""

import hashlib
import http.server
import re
import socket
import threading

import numpy as np
import pytest

from bidirectional_infogan.data import download, svhn
from bidirectional_infogan.data.common import DataError
from test_svhn_data import write_svhn

import train_svhn  # noqa: E402

NAMES = ("train_32x32.mat", "test_32x32.mat", "extra_32x32.mat")


class Handler(http.server.BaseHTTPRequestHandler):
    """GET /<name>: the bytes in server.files, announced with their full length; server.cut[name] = n sends
    only the first n of them and closes the connection."""

    def do_GET(self):
        name = self.path.lstrip("/")
        self.server.requests.append(name)
        if self.server.watch is not None and self.server.watch.is_dir():  # what the client has written so far
            self.server.seen.append(sorted(p.name for p in self.server.watch.iterdir()))
        if name not in self.server.files:
            self.send_error(404)
            return
        raw = self.server.files[name]
        self.send_response(200)
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw[:self.server.cut.get(name, len(raw))])  # HTTP/1.0: the connection closes after

    def log_message(self, *args):
        pass


@pytest.fixture
def server(tmp_path, monkeypatch):
    """A server of small SVHN files, with the published table patched to their sizes and MD5s; svhn.URL
    points to it and XDG_CACHE_HOME into tmp_path. Stopped at the end of the test."""
    served = write_svhn(tmp_path / "served", n_train=12, n_test=4, n_extra=6)
    httpd = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    httpd.files = {name: (served / name).read_bytes() for name in NAMES}
    httpd.cut, httpd.requests, httpd.served, httpd.watch, httpd.seen = {}, [], served, None, []
    monkeypatch.setattr(svhn, "FILES", {name: (len(raw), hashlib.md5(raw).hexdigest())
                                        for name, raw in httpd.files.items()})
    monkeypatch.setattr(svhn, "URL", f"http://127.0.0.1:{httpd.server_address[1]}/")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield httpd
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def cache_dir(tmp_path):
    return tmp_path / "xdg" / "bidirectional_infogan" / "svhn"


def test_download_checks_and_loads_and_happens_once(server, tmp_path, capsys):
    assert svhn.default_cache_dir() == cache_dir(tmp_path)
    data = svhn.load_svhn(validation_size=5)  # no folder: the cache
    assert server.requests == ["train_32x32.mat", "test_32x32.mat"]  # no extra without use_extra
    assert sorted(p.name for p in cache_dir(tmp_path).iterdir()) == ["test_32x32.mat", "train_32x32.mat"]
    for name in ("train_32x32.mat", "test_32x32.mat"):
        assert (cache_dir(tmp_path) / name).read_bytes() == server.files[name]
    expected = svhn.load_svhn(server.served, validation_size=5)
    for split in ("train", "validation", "test"):
        assert np.array_equal(getattr(data, split).images, getattr(expected, split).images)
        assert np.array_equal(getattr(data, split).labels, getattr(expected, split).labels)
    err = capsys.readouterr().err
    assert f"downloading train_32x32.mat (0.0 MB) from {svhn.URL}train_32x32.mat to " in err
    assert "1/1 MB" in err and "ETA" in err  # the progress line

    svhn.load_svhn(validation_size=5)  # second start: nothing fetched
    assert len(server.requests) == 2 and capsys.readouterr().err == ""
    svhn.load_svhn(use_extra=True, validation_size=5)  # only what is missing
    assert server.requests[2:] == ["extra_32x32.mat"]


def test_a_cached_file_of_the_wrong_size_is_fetched_again(server, tmp_path):
    cache_dir(tmp_path).mkdir(parents=True)
    (cache_dir(tmp_path) / "train_32x32.mat").write_bytes(b"an old partial file")
    assert len(svhn.load_svhn(validation_size=5).train.labels) == 7
    assert server.requests == ["train_32x32.mat", "test_32x32.mat"]
    assert (cache_dir(tmp_path) / "train_32x32.mat").read_bytes() == server.files["train_32x32.mat"]


def test_train_svhn_load_data_without_data_dir(server, tmp_path):
    data = train_svhn.load_data({"data_dir": None, "use_extra": True}, 5)
    assert data.train_images.shape == (13, 32, 32, 3) and data.validation_images.shape == (5, 32, 32, 3)
    assert data.validation_labels.tolist() == [1, 2, 3, 4, 5]
    assert server.requests == list(NAMES)
    assert sorted(p.name for p in cache_dir(tmp_path).iterdir()) == sorted(NAMES)
    train_svhn.load_data({"data_dir": None, "use_extra": True}, 5)
    assert len(server.requests) == 3


def test_only_a_temporary_file_while_downloading(server, tmp_path):
    """Until a download is complete and checked, the real name does not exist: a killed process leaves at
    most a *.part file, never a partial file that a later start would take for the real one."""
    server.watch = cache_dir(tmp_path)
    svhn.load_svhn(validation_size=5)
    seen = [[re.sub(r"\.\w+\.part$", ".<random>.part", name) for name in listing] for listing in server.seen]
    assert seen == [["train_32x32.mat.<random>.part"],  # when the server got each request
                    ["test_32x32.mat.<random>.part", "train_32x32.mat"]]  # the first one complete by then


def test_interrupted_download_leaves_nothing(server, tmp_path, monkeypatch):
    class Interrupted(download.Progress):
        def update(self, count):
            raise KeyboardInterrupt  # Ctrl-C in the middle of the download

    monkeypatch.setattr(download, "Progress", Interrupted)
    with pytest.raises(KeyboardInterrupt):
        svhn.load_svhn(validation_size=5)
    assert not (tmp_path / "xdg").exists()  # not even the cache folders the download made


def check_error(tmp_path, message):
    with pytest.raises(DataError) as caught:
        svhn.load_svhn(validation_size=5)
    text = str(caught.value)
    assert "\n" not in text
    url = svhn.URL + "train_32x32.mat"
    assert text.startswith(f"could not download train_32x32.mat from {url} (")
    assert text.endswith(f"; nothing was kept; alternatively download train_32x32.mat, test_32x32.mat from "
                         f"{svhn.URL} yourself and pass their folder with --data_dir")
    assert message in text
    # no temporary file, nothing under the real name, and not the empty cache folders the download made (issue 43)
    assert not (tmp_path / "xdg").exists()


@pytest.mark.parametrize("how", ["cut", "short"])
def test_truncated_download(server, tmp_path, how):
    raw = server.files["train_32x32.mat"]
    if how == "cut":  # announces the full length, then the connection ends early
        server.cut["train_32x32.mat"] = 1000
        check_error(tmp_path, f"the download stopped after 1,000 of {len(raw):,} bytes")
    else:  # a shorter file, announced as such
        server.files["train_32x32.mat"] = raw[:1000]
        check_error(tmp_path, f"the server announces 1,000 bytes, not the published {len(raw):,}")
    assert server.requests == ["train_32x32.mat"]


def test_corrupted_download(server, tmp_path):
    raw = bytearray(server.files["train_32x32.mat"])
    raw[len(raw) // 2] ^= 0xFF  # same size, one byte changed
    server.files["train_32x32.mat"] = bytes(raw)
    check_error(tmp_path, f"checksum mismatch: MD5 {hashlib.md5(raw).hexdigest()}, published "
                          f"{svhn.FILES['train_32x32.mat'][1]}")


def test_missing_on_the_server(server, tmp_path):
    del server.files["train_32x32.mat"]
    check_error(tmp_path, "HTTP Error 404")


def test_server_down(server, tmp_path, monkeypatch):
    with socket.socket() as probe:  # a port that nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setattr(svhn, "URL", f"http://127.0.0.1:{port}/")
    check_error(tmp_path, "Connection refused")
    assert server.requests == []


def test_a_failed_download_keeps_the_folders_that_were_there(server, tmp_path):
    """Only the folders the download made go again: a cache folder that existed before (with its files) stays."""
    cache_dir(tmp_path).mkdir(parents=True)
    (cache_dir(tmp_path) / "notes.txt").write_text("mine")
    del server.files["test_32x32.mat"]
    with pytest.raises(DataError, match="HTTP Error 404"):
        svhn.load_svhn(validation_size=5)
    assert sorted(p.name for p in cache_dir(tmp_path).iterdir()) == ["notes.txt", "train_32x32.mat"]


def test_data_dir_is_read_as_before(server, tmp_path):
    """--data_dir never downloads, and a missing file there is still the old error."""
    data = svhn.load_svhn(server.served, validation_size=5)
    assert len(data.train.labels) == 7 and server.requests == []
    (server.served / "test_32x32.mat").unlink()
    with pytest.raises(DataError, match=r"SVHN file\(s\) missing in .*served: test_32x32\.mat; expected"):
        svhn.load_svhn(server.served, validation_size=5)
    assert server.requests == [] and not cache_dir(tmp_path).exists()


def test_a_run_trained_from_the_cache_is_evaluated_on_it(server, tmp_path):
    from types import SimpleNamespace

    from bidirectional_infogan.evaluate.evaluation_data import load_test_set
    run = SimpleNamespace(model=SimpleNamespace(dataset="svhn"), data={"data_dir": None, "use_extra": False})
    test = load_test_set(run)
    assert test.labels.tolist() == [1, 2, 3, 4] and test.images.shape == (4, 32, 32, 3)
    assert server.requests == ["train_32x32.mat", "test_32x32.mat"]
