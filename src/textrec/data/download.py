"""Resumable, checksummed downloads of the configured datasets (stdlib ``urllib`` only).

A file is written to ``<name>.part`` and resumed with an HTTP ``Range`` request after a dropped connection
(a server that ignores ``Range`` makes us restart from zero). Transient failures are retried with
exponential back-off. The sha256 is computed while streaming; only a file whose checksum matches is moved
into place with ``os.replace``. A file that fails its checksum or size, or an archive that cannot be read
to the end, is moved aside to ``<name>.corrupt-<time>`` (never reused) and the error says what to do.

Archives live in an archive folder of their own (``paths.downloads`` in the stage), outside the stage's
DVC output: DVC deletes a stage's outputs before running it, so a ``.part`` file kept there would be gone
on every ``dvc repro`` or Prefect retry, and the download would start again from byte 0.

``mirror`` (a local directory or ``file://`` URL holding the files under their file names) replaces every
URL, for air-gapped machines.
"""

from __future__ import annotations

import hashlib
import http.client
import io
import json
import logging
import os
import shutil
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from textrec.config.data import DatasetSource, RealDataConfig
from textrec.data.archive import ArchiveError, CorruptArchiveError, safe_extract
from textrec.hashing import sha256_file

log = logging.getLogger(__name__)

CHUNK = 1 << 20
MARKER = ".textrec-source.json"  # written inside <raw>/<name>/ once the data is in place


class DownloadError(RuntimeError):
    """A download that failed for good (bad URL, too many retries, missing checksum...)."""


class ChecksumError(DownloadError):
    """The downloaded bytes do not match the configured sha256."""


class _Transient(Exception):
    """A failure worth retrying (connection dropped, timeout, HTTP 5xx/429, short read)."""


def file_name(source: DatasetSource) -> str:
    name = source.filename or Path(urllib.parse.unquote(urllib.parse.urlparse(source.url).path)).name
    if not name or name in (".", ".."):
        raise DownloadError(f"{source.name}: cannot derive a file name from {source.url!r}; set 'filename'")
    return name


def resolve_url(source: DatasetSource, mirror: str | None) -> str:
    """The URL to fetch: the configured one, or ``<mirror>/<file name>``."""
    if mirror is None:
        return source.url
    base = mirror if "://" in mirror else Path(mirror).resolve().as_uri()
    return base.rstrip("/") + "/" + urllib.parse.quote(file_name(source))


def move_aside(path: Path, name: str | None = None, why: str = "corrupt") -> Path:
    """Rename a bad download to ``<name>.<why>-<UTC time>`` next to it (``name``: default ``path.name``),
    so no later run picks it up."""
    base = f"{name or path.name}.{why}-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}"
    aside, n = path.with_name(base), 1
    while aside.exists():
        n += 1
        aside = path.with_name(f"{base}-{n}")
    os.replace(path, aside)
    return aside


def _open(url: str, offset: int, timeout: float) -> tuple[BinaryIO, int, int | None]:
    """Open ``url`` at byte ``offset`` -> (stream, actual start offset, total size or None)."""
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme == "file":
        path = Path(urllib.request.url2pathname(parsed.path))
        if not path.is_file():
            raise DownloadError(f"{url}: no such file in the mirror")
        f = path.open("rb")
        f.seek(offset)
        return f, offset, path.stat().st_size
    headers = {"User-Agent": "textrec-download/1", "Accept-Encoding": "identity"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    try:
        resp = urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)
    except urllib.error.HTTPError as e:
        e.close()
        if e.code == 416 and offset:  # nothing left to send: the part file may already be complete
            total = (e.headers.get("Content-Range") or "").rpartition("/")[2]
            if total.isdigit() and int(total) == offset:
                return io.BytesIO(b""), offset, offset
            return _open(url, 0, timeout)
        if e.code in (408, 425, 429) or e.code >= 500:
            raise _Transient(f"HTTP {e.code} {e.reason}") from e
        raise DownloadError(f"{url}: HTTP {e.code} {e.reason}") from e
    except (urllib.error.URLError, OSError, http.client.HTTPException) as e:
        raise _Transient(f"{type(e).__name__}: {e}") from e
    length = resp.headers.get("Content-Length")
    if offset and resp.status == 206:
        start, _, total = (resp.headers.get("Content-Range") or "").removeprefix("bytes ").partition("/")
        if start.partition("-")[0] != str(offset):
            resp.close()
            raise DownloadError(f"{url}: asked for bytes from {offset}, server sent {start!r}")
        return resp, offset, int(total) if total.isdigit() else None
    if offset:
        log.warning("%s: server ignored the Range request; restarting from byte 0", url)
    return resp, 0, int(length) if length and length.isdigit() else None


def download_file(url: str, dst: str | Path, *, sha256: str | None, allow_missing_checksum: bool = False,
                  retries: int = 5, backoff_seconds: float = 2.0, timeout_seconds: float = 60.0,
                  expected_size: int | None = None, progress: bool = True,
                  sleep: Callable[[float], None] = time.sleep) -> str:
    """Download ``url`` to ``dst`` via ``dst.part`` (resumed if present); returns the sha256 hex digest."""
    from tqdm import tqdm

    dst = Path(dst)
    if sha256 is None and not allow_missing_checksum:
        raise DownloadError(f"{url}: no sha256 configured. Run once with --allow-missing-checksum to download "
                            "it and print the computed hash, check it, then add it to params.yaml.")
    dst.parent.mkdir(parents=True, exist_ok=True)
    part = dst.with_name(dst.name + ".part")
    hasher, offset = hashlib.sha256(), 0
    if part.exists():  # left by an earlier run: resume after hashing what is already there
        with part.open("rb") as f:
            while block := f.read(CHUNK):
                hasher.update(block)
                offset += len(block)
    failures = 0
    while True:
        before = offset
        try:
            stream, start, total = _open(url, offset, timeout_seconds)
            if start != offset:  # restart from zero
                hasher, offset = hashlib.sha256(), 0
            with stream, part.open("r+b" if offset else "wb") as out, tqdm(
                    total=total, initial=offset, unit="B", unit_scale=True, unit_divisor=1024,
                    desc=dst.name, disable=not progress, leave=False) as bar:
                out.seek(offset)
                out.truncate()
                while True:
                    try:
                        block = stream.read(CHUNK)
                    except (OSError, http.client.HTTPException) as e:
                        raise _Transient(f"connection lost at byte {offset}: {type(e).__name__}: {e}") from e
                    if not block:
                        break
                    out.write(block)
                    hasher.update(block)
                    offset += len(block)
                    bar.update(len(block))
            if total is not None and offset < total:
                raise _Transient(f"connection closed at byte {offset} of {total}")
            break
        except _Transient as e:
            failures = 1 if offset > before else failures + 1  # progress resets the retry budget
            if failures > retries:
                raise DownloadError(f"{url}: giving up after {retries} retries: {e}. The partial file "
                                    f"{part} is kept; re-run to resume.") from None
            delay = backoff_seconds * 2 ** (failures - 1)
            log.warning("%s: %s; retry %d/%d in %.1f s", url, e, failures, retries, delay)
            sleep(delay)
    got = hasher.hexdigest()
    if expected_size is not None and offset != expected_size:
        aside = move_aside(part, dst.name)
        raise ChecksumError(f"{url}: expected {expected_size} bytes, got {offset}; moved the download to "
                            f"{aside}. Re-run to download it again, or fix size_bytes in params.yaml "
                            "(data.real.datasets) if the file changed upstream.")
    if sha256 is not None and got != sha256.lower():
        aside = move_aside(part, dst.name)
        raise ChecksumError(
            f"{url}: sha256 mismatch (expected {sha256.lower()}, got {got}); moved the download to {aside}. "
            "Re-run to download it again; if the file really changed upstream, check it and update the sha256 "
            "in params.yaml (data.real.datasets).")
    if sha256 is None:
        log.warning("%s: no sha256 configured; computed sha256: %s (add it to params.yaml)", url, got)
    os.replace(part, dst)
    return got


@dataclass(frozen=True)
class FetchResult:
    name: str
    path: Path  # <raw>/<name>
    sha256: str
    skipped: bool  # already in place with the same checksum
    checksum_was_missing: bool


def fetch_source(source: DatasetSource, raw_dir: str | Path, cfg: RealDataConfig, *,
                 archive_dir: str | Path | None = None, allow_missing_checksum: bool = False,
                 progress: bool = True, sleep: Callable[[float], None] = time.sleep) -> FetchResult:
    """Download ``source`` and place it in ``<raw_dir>/<name>/`` (extracting archives safely).

    The download (``.part`` while incomplete, then the archive itself until extracted, or for good with
    ``keep_archives``) lives in ``archive_dir``, default ``<raw_dir>/.archives``; keep it outside a DVC
    output to resume across ``dvc repro`` runs. Bad archives are moved aside there, not reused.
    """
    raw_dir = Path(raw_dir)
    target = raw_dir / source.name
    marker = target / MARKER
    if marker.exists():
        done = json.loads(marker.read_text(encoding="utf-8"))
        if source.sha256 is None and not allow_missing_checksum:
            raise DownloadError(f"{source.name}: no sha256 configured; the copy in {target} has sha256 "
                                f"{done['sha256']}: check it and add it to params.yaml (data.real.datasets)")
        if source.sha256 is None or done.get("sha256") == source.sha256.lower():
            return FetchResult(source.name, target, done["sha256"], True, source.sha256 is None)
    name = file_name(source)
    archive = (Path(archive_dir) if archive_dir is not None else raw_dir / ".archives") / name
    if source.sha256 is not None and archive.exists() and sha256_file(archive) == source.sha256.lower():
        digest = source.sha256.lower()  # kept from an earlier run (keep_archives)
    else:
        digest = download_file(resolve_url(source, cfg.mirror), archive, sha256=source.sha256,
                               allow_missing_checksum=allow_missing_checksum, retries=cfg.retries,
                               backoff_seconds=cfg.backoff_seconds, timeout_seconds=cfg.timeout_seconds,
                               expected_size=source.size_bytes, progress=progress, sleep=sleep)
    info = {"name": source.name, "url": source.url, "file": name, "sha256": digest, "kind": source.kind}
    if source.kind == "file":
        tmp = target.with_name(f".{target.name}.place-{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        shutil.move(archive, tmp / name)  # archive_dir may be on another file system
        (tmp / MARKER).write_text(json.dumps(info, indent=2), encoding="utf-8")
        if target.exists():
            shutil.rmtree(target)
        tmp.rename(target)
    else:
        _extract(archive, target, source)
        (target / MARKER).write_text(json.dumps(info, indent=2), encoding="utf-8")
        if not cfg.keep_archives:
            archive.unlink()
    if not any(archive.parent.iterdir()):
        archive.parent.rmdir()
    return FetchResult(source.name, target, digest, False, source.sha256 is None)


def _extract(archive: Path, target: Path, source: DatasetSource) -> None:
    """``safe_extract``; a damaged or refused archive is moved aside and the error says what to do next."""
    try:
        safe_extract(archive, target)
    except CorruptArchiveError as e:
        aside = move_aside(archive)
        if source.sha256 is not None:  # the bytes are exactly the configured ones: the source itself is bad
            hint = (f"Its sha256 matches params.yaml, so the file itself is bad: check the url and sha256 of "
                    f"{source.name!r} in data.real.datasets.")
        else:
            hint = ("It was probably cut short: re-run with --allow-missing-checksum to download it again, then "
                    f"add the printed sha256 to {source.name!r} in data.real.datasets so a bad copy is caught.")
        raise DownloadError(f"{e}; moved it to {aside}. {hint}") from None
    except ArchiveError as e:
        aside = move_aside(archive, why="refused")
        raise ArchiveError(f"{e}; nothing was extracted and the archive was moved to {aside}. Do not use it: "
                           f"check the url of {source.name!r} in data.real.datasets.") from None
