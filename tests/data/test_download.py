"""Downloads against a real HTTP server on 127.0.0.1 with Range support and fault injection."""

from __future__ import annotations

import hashlib
import io
import logging
import os
import subprocess
import sys
import tarfile
import threading
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from tests.pipeline.project import REPO, copy_project, dvc
from textrec.config.data import DatasetSource, RealDataConfig
from textrec.data.archive import ArchiveError
from textrec.data.download import (
    MARKER,
    ChecksumError,
    DownloadError,
    download_file,
    fetch_source,
    resolve_url,
)

PAYLOAD = os.urandom(300_000) + b"end"


class FileServer(ThreadingHTTPServer):
    """Serves ``files`` by path. Faults: ``drop_after`` bytes then close (once), ``ignore_range``,
    ``fail_first`` HTTP 503 responses."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.files: dict[str, bytes] = {}
        self.requests: list[dict[str, str | None]] = []
        self.drop_after: int | None = None
        self.ignore_range = False
        self.fail_first = 0

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{path}"


class Handler(BaseHTTPRequestHandler):
    server: FileServer

    def log_message(self, format: str, *args: object) -> None:  # keep test output quiet
        pass

    def do_GET(self) -> None:
        srv = self.server
        srv.requests.append({"path": self.path, "range": self.headers.get("Range")})
        if srv.fail_first > 0:
            srv.fail_first -= 1
            self.send_error(503, "try later")
            return
        body = srv.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        start, rng = 0, self.headers.get("Range")
        if rng and not srv.ignore_range:
            start = int(rng.removeprefix("bytes=").split("-")[0])
            if start >= len(body):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(body)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(body) - start))
        self.end_headers()
        payload = body[start:]
        if srv.drop_after is not None:  # send part of the body, then drop the connection
            n, srv.drop_after = srv.drop_after, None
            self.wfile.write(payload[:n])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(payload)


def sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def _dl(url: str, dst: Path, **kw) -> str:
    kw.setdefault("sha256", sha(PAYLOAD))
    return download_file(url, dst, progress=False, timeout_seconds=10, **kw)


def test_normal_download(server: FileServer, tmp_path: Path) -> None:
    server.files["/data.bin"] = PAYLOAD
    dst = tmp_path / "data.bin"
    assert _dl(server.url("/data.bin"), dst) == sha(PAYLOAD)
    assert dst.read_bytes() == PAYLOAD
    assert not (tmp_path / "data.bin.part").exists()
    assert server.requests == [{"path": "/data.bin", "range": None}]


def test_dropped_connection_resumes_with_range(server: FileServer, tmp_path: Path) -> None:
    server.files["/data.bin"] = PAYLOAD
    server.drop_after = 100_000
    sleeps: list[float] = []
    dst = tmp_path / "data.bin"
    _dl(server.url("/data.bin"), dst, sleep=sleeps.append, backoff_seconds=0.5)
    assert dst.read_bytes() == PAYLOAD
    assert len(server.requests) == 2
    assert server.requests[0]["range"] is None
    assert server.requests[1]["range"] == "bytes=100000-"
    assert sleeps == [0.5]


def test_leftover_part_file_is_resumed(server: FileServer, tmp_path: Path) -> None:
    server.files["/data.bin"] = PAYLOAD
    dst = tmp_path / "data.bin"
    (tmp_path / "data.bin.part").write_bytes(PAYLOAD[:12_345])  # from an interrupted earlier run
    _dl(server.url("/data.bin"), dst)
    assert dst.read_bytes() == PAYLOAD
    assert server.requests[0]["range"] == "bytes=12345-"


def test_complete_part_file_gets_416_and_is_accepted(server: FileServer, tmp_path: Path) -> None:
    server.files["/data.bin"] = PAYLOAD
    (tmp_path / "data.bin.part").write_bytes(PAYLOAD)
    _dl(server.url("/data.bin"), tmp_path / "data.bin")
    assert (tmp_path / "data.bin").read_bytes() == PAYLOAD


def test_server_ignoring_range_restarts_from_zero(server: FileServer, tmp_path: Path) -> None:
    server.files["/data.bin"] = PAYLOAD
    server.drop_after = 50_000
    server.ignore_range = True
    dst = tmp_path / "data.bin"
    _dl(server.url("/data.bin"), dst, sleep=lambda s: None)
    assert dst.read_bytes() == PAYLOAD  # not the first 50 kB twice
    assert server.requests[1]["range"] == "bytes=50000-"


def test_transient_errors_back_off_exponentially_then_give_up(server: FileServer, tmp_path: Path) -> None:
    server.files["/data.bin"] = PAYLOAD
    server.fail_first = 2
    sleeps: list[float] = []
    _dl(server.url("/data.bin"), tmp_path / "ok.bin", sleep=sleeps.append, backoff_seconds=1.0)
    assert sleeps == [1.0, 2.0]
    server.fail_first = 10
    with pytest.raises(DownloadError, match="giving up after 3 retries: HTTP 503"):
        _dl(server.url("/data.bin"), tmp_path / "bad.bin", sleep=lambda s: None, retries=3)


def test_http_404_fails_without_retry(server: FileServer, tmp_path: Path) -> None:
    with pytest.raises(DownloadError, match="HTTP 404"):
        _dl(server.url("/missing.bin"), tmp_path / "x.bin", sleep=lambda s: pytest.fail("retried a 404"))
    assert len(server.requests) == 1


def test_wrong_checksum_fails_in_one_line_and_moves_the_file_aside(server: FileServer, tmp_path: Path) -> None:
    server.files["/data.bin"] = PAYLOAD
    with pytest.raises(ChecksumError) as err:
        _dl(server.url("/data.bin"), tmp_path / "data.bin", sha256="ab" * 32)
    msg = str(err.value)
    assert "\n" not in msg and f"expected {'ab' * 32}, got {sha(PAYLOAD)}" in msg
    [aside] = tmp_path.iterdir()  # neither data.bin nor data.bin.part: nothing a re-run would reuse
    assert aside.name.startswith("data.bin.corrupt-") and aside.read_bytes() == PAYLOAD
    assert str(aside) in msg and "Re-run" in msg and "params.yaml" in msg
    _dl(server.url("/data.bin"), tmp_path / "again.bin", sha256=sha(PAYLOAD))
    assert server.requests[-1]["range"] is None


def test_wrong_size_moves_the_file_aside(server: FileServer, tmp_path: Path) -> None:
    server.files["/data.bin"] = PAYLOAD
    with pytest.raises(ChecksumError, match=f"expected 999 bytes, got {len(PAYLOAD)}; moved the download to"):
        _dl(server.url("/data.bin"), tmp_path / "data.bin", expected_size=999)
    assert [p.name.partition("-")[0] for p in tmp_path.iterdir()] == ["data.bin.corrupt"]


def test_missing_checksum_needs_explicit_opt_in(server: FileServer, tmp_path: Path,
                                                caplog: pytest.LogCaptureFixture) -> None:
    server.files["/data.bin"] = PAYLOAD
    with pytest.raises(DownloadError, match="--allow-missing-checksum"):
        _dl(server.url("/data.bin"), tmp_path / "data.bin", sha256=None)
    assert server.requests == []  # refused before any network traffic
    with caplog.at_level(logging.WARNING):
        got = _dl(server.url("/data.bin"), tmp_path / "data.bin", sha256=None, allow_missing_checksum=True)
    assert got == sha(PAYLOAD)
    assert sha(PAYLOAD) in caplog.text


def _zip_bytes(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


def test_fetch_source_extracts_archive_and_skips_when_present(server: FileServer, tmp_path: Path) -> None:
    archive = _zip_bytes({"set/labels.tsv": b"a.png\tx\n", "set/a.png": b"img"})
    server.files["/sets/bench.zip"] = archive
    src = DatasetSource(name="bench", url=server.url("/sets/bench.zip"), sha256=sha(archive), kind="image_archive")
    raw = tmp_path / "raw"
    r = fetch_source(src, raw, RealDataConfig(), progress=False)
    assert not r.skipped and r.path == raw / "bench" and r.sha256 == sha(archive)
    assert (raw / "bench/set/labels.tsv").read_bytes() == b"a.png\tx\n"
    assert (raw / "bench" / MARKER).exists()
    assert not (raw / ".archives").exists()  # keep_archives is off by default
    again = fetch_source(src, raw, RealDataConfig(), progress=False)
    assert again.skipped and len(server.requests) == 1
    # With keep_archives the verified archive is reused when the extracted copy has to be rebuilt.
    (raw / "bench" / MARKER).unlink()
    fetch_source(src, raw, RealDataConfig(keep_archives=True), progress=False)
    assert len(server.requests) == 2 and (raw / ".archives" / "bench.zip").read_bytes() == archive
    (raw / "bench" / MARKER).unlink()
    fetch_source(src, raw, RealDataConfig(keep_archives=True), progress=False)
    assert len(server.requests) == 2 and (raw / "bench" / MARKER).exists()


def test_fetch_source_refuses_malicious_archive(server: FileServer, tmp_path: Path) -> None:
    archive = _zip_bytes({"../evil": b"pwned"})
    server.files["/evil.zip"] = archive
    src = DatasetSource(name="evil", url=server.url("/evil.zip"), sha256=sha(archive))
    with pytest.raises(ArchiveError, match="'..' in path"):
        fetch_source(src, tmp_path / "raw", RealDataConfig(), progress=False)
    assert not (tmp_path / "raw" / "evil").exists() and not (tmp_path / "evil").exists()


@pytest.mark.parametrize("as_uri", [False, True])
def test_mirror_directory_and_file_url(tmp_path: Path, as_uri: bool) -> None:
    mirror = tmp_path / "mirror dir"
    mirror.mkdir()
    (mirror / "labels v1.txt").write_bytes(PAYLOAD)
    # The configured URL is unreachable: only the mirror can satisfy the download.
    src = DatasetSource(name="labels", url="http://127.0.0.1:9/x/labels%20v1.txt", sha256=sha(PAYLOAD), kind="file")
    cfg = RealDataConfig(mirror=mirror.as_uri() if as_uri else str(mirror), retries=0)
    assert resolve_url(src, cfg.mirror) == mirror.as_uri() + "/labels%20v1.txt"
    r = fetch_source(src, tmp_path / "raw", cfg, progress=False)
    assert (r.path / "labels v1.txt").read_bytes() == PAYLOAD


def test_mirror_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    src = DatasetSource(name="x", url="http://example.invalid/a.zip", sha256="00" * 32)
    with pytest.raises(DownloadError, match="no such file in the mirror"):
        fetch_source(src, tmp_path / "raw", RealDataConfig(mirror=str(tmp_path)), progress=False)


# ---- archives kept outside the DVC output; bad archives end in one error line and are moved aside ---------

def _tar_gz_bytes(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_part_file_in_archive_dir_is_resumed(server: FileServer, tmp_path: Path) -> None:
    archive = _zip_bytes({"set/a.bin": PAYLOAD})
    server.files["/a.zip"] = archive
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "a.zip.part").write_bytes(archive[:5000])  # an earlier run's partial download
    src = DatasetSource(name="a", url=server.url("/a.zip"), sha256=sha(archive), kind="image_archive")
    r = fetch_source(src, tmp_path / "raw", RealDataConfig(), archive_dir=cache, progress=False)
    assert server.requests == [{"path": "/a.zip", "range": "bytes=5000-"}]
    assert (r.path / "set/a.bin").read_bytes() == PAYLOAD
    assert not cache.exists() and not (tmp_path / "raw" / ".archives").exists()  # extracted, then removed


def _run_stage(tmp_path: Path, datasets: list[dict], *args: str) -> subprocess.CompletedProcess:
    """stages/download.py as DVC runs it (a subprocess: a traceback would show), paths relative to tmp_path."""
    params = {"paths": {"raw": "raw", "downloads": "cache"},
              "data": {"source": "real", "real": {"retries": 0, "timeout_seconds": 10, "datasets": datasets}}}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    return subprocess.run([sys.executable, str(REPO / "stages" / "download.py"), "--no-progress", *args],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)


def _one_error_line(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, proc.stderr
    return errors[0]


@pytest.mark.parametrize("checksum", ["none", "of_the_good_file", "of_the_truncated_file"])
def test_truncated_archive_ends_in_one_error_line_and_is_moved_aside(server: FileServer, tmp_path: Path,
                                                                     checksum: str) -> None:
    good = _tar_gz_bytes({"set/a.bin": PAYLOAD, "set/b.bin": PAYLOAD[::-1]})
    truncated = good[: len(good) // 2]
    server.files["/set.tar.gz"] = truncated  # served whole: the file upstream (or on the mirror) is cut short
    sha256 = {"none": None, "of_the_good_file": sha(good), "of_the_truncated_file": sha(truncated)}[checksum]
    datasets = [{"name": "set", "url": server.url("/set.tar.gz"), "sha256": sha256, "kind": "image_archive"}]
    args = ("--allow-missing-checksum",) if sha256 is None else ()
    line = _one_error_line(_run_stage(tmp_path, datasets, *args))
    [aside] = (tmp_path / "cache").iterdir()
    assert aside.name.startswith("set.tar.gz.corrupt-") and aside.read_bytes() == truncated
    assert line.startswith("error: set: ") and str(Path("cache") / aside.name) in line
    expected = {"none": "re-run with --allow-missing-checksum to download it again",
                "of_the_good_file": "sha256 mismatch", "of_the_truncated_file": "the file itself is bad"}
    assert expected[checksum] in line
    assert not (tmp_path / "raw" / "set").exists()
    # the bad copy is never reused: the next run downloads from byte 0 and fails the same way
    _one_error_line(_run_stage(tmp_path, datasets, *args))
    assert [r["range"] for r in server.requests] == [None, None]
    assert len(list((tmp_path / "cache").iterdir())) == 2


def test_refused_member_is_an_error_line_not_a_traceback(server: FileServer, tmp_path: Path) -> None:
    archive = _zip_bytes({"ok.txt": b"fine", "../evil": b"pwned"})
    server.files["/evil.zip"] = archive
    datasets = [{"name": "evil", "url": server.url("/evil.zip"), "sha256": sha(archive), "kind": "image_archive"}]
    line = _one_error_line(_run_stage(tmp_path, datasets))
    assert "refusing member '../evil': '..' in path" in line and "nothing was extracted" in line
    [aside] = (tmp_path / "cache").iterdir()
    assert aside.name.startswith("evil.zip.refused-") and str(Path("cache") / aside.name) in line
    assert not (tmp_path / "raw" / "evil").exists() and not (tmp_path / "evil").exists()


def test_dvc_repro_resumes_an_interrupted_download(server: FileServer, tmp_path: Path) -> None:
    """DVC deletes <paths.raw> before running the stage; the .part file in paths.downloads survives it."""
    archive = _zip_bytes({"mini/a.bin": PAYLOAD, "mini/b.bin": PAYLOAD[::-1]})
    server.files["/mini.zip"] = archive
    server.drop_after = 200_000  # the first response stops there
    project = copy_project(tmp_path / "project", "tiny")
    pfile = project / "params.yaml"
    params = yaml.safe_load(pfile.read_text())
    params["data"]["source"] = "real"
    params["data"]["real"].update(retries=0, timeout_seconds=10, datasets=[
        {"name": "mini", "url": server.url("/mini.zip"), "sha256": sha(archive), "kind": "image_archive"}])
    pfile.write_text(yaml.safe_dump(params, sort_keys=False))
    first = dvc(["repro", "download"], project, check=False, timeout=300)
    assert first.returncode != 0 and "giving up after 0 retries" in first.stdout + first.stderr
    part = project / params["paths"]["downloads"] / "mini.zip.part"
    assert part.stat().st_size == 200_000
    dvc(["repro", "download"], project, timeout=300)
    assert [r["range"] for r in server.requests] == [None, "bytes=200000-"]
    assert (project / "data" / "raw" / "mini" / "mini" / "a.bin").read_bytes() == PAYLOAD
    assert not part.exists()
    assert "up to date" in dvc(["status", "download"], project).stdout
