"""Safe extraction of downloaded zip and tar archives.

Every member is checked before anything is written: absolute paths, ``..`` components, links leading
outside the target, device files and FIFOs are refused with an ``ArchiveError`` naming the member. The
archive is extracted into a temporary sibling directory that is renamed onto the target only on success.
An archive that cannot be read to the end (truncated, bad CRC, not an archive) raises ``CorruptArchiveError``.
"""

from __future__ import annotations

import lzma
import os
import posixpath
import shutil
import stat
import tarfile
import zipfile
import zlib
from pathlib import Path


class ArchiveError(ValueError):
    """An archive that is unreadable, of an unknown type, or that would write outside its target."""


class CorruptArchiveError(ArchiveError):
    """An archive that cannot be read to the end: truncated, damaged, or not a zip/tar file at all."""


# What the zip/tar/gzip/bz2/xz readers raise on damaged bytes. A plain OSError counts only without an errno
# (gzip's BadGzipFile, bz2's "Invalid data stream"): one with an errno (disk full, permission) is not the
# archive's fault.
_DAMAGED = (zipfile.BadZipFile, tarfile.TarError, EOFError, zlib.error, lzma.LZMAError)


def _is_damage(e: BaseException) -> bool:
    return isinstance(e, _DAMAGED) or (isinstance(e, OSError) and e.errno is None)


def _check_name(name: str, archive: Path) -> str:
    """Return the member name as a clean relative POSIX path, or raise if it could escape the target."""
    unified = name.replace("\\", "/")
    if unified.startswith("/") or (len(unified) > 1 and unified[1] == ":"):
        raise ArchiveError(f"{archive.name}: refusing member {name!r}: absolute path")
    parts = [p for p in unified.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise ArchiveError(f"{archive.name}: refusing member {name!r}: '..' in path")
    return "/".join(parts)


def _check_link(member: str, target: str, archive: Path, *, relative_to_member: bool) -> None:
    """A link is allowed only if it resolves (lexically) inside the extraction directory."""
    unified = target.replace("\\", "/")
    if unified.startswith("/"):
        raise ArchiveError(f"{archive.name}: refusing link {member!r} -> {target!r}: absolute target")
    base = posixpath.dirname(member) if relative_to_member else ""
    resolved = posixpath.normpath(posixpath.join(base, unified))
    if resolved == ".." or resolved.startswith("../"):
        raise ArchiveError(f"{archive.name}: refusing link {member!r} -> {target!r}: leads outside the target")


def _check_tar(tf: tarfile.TarFile, archive: Path) -> None:
    for m in tf.getmembers():
        name = _check_name(m.name, archive)
        if m.issym():
            _check_link(name, m.linkname, archive, relative_to_member=True)
        elif m.islnk():
            _check_link(name, m.linkname, archive, relative_to_member=False)
        elif not (m.isfile() or m.isdir()):
            raise ArchiveError(f"{archive.name}: refusing member {m.name!r}: device file or FIFO")


def _check_zip(zf: zipfile.ZipFile, archive: Path) -> None:
    for info in zf.infolist():
        _check_name(info.filename, archive)
        ftype = stat.S_IFMT(info.external_attr >> 16)  # 0 when the zip carries no Unix file type
        if ftype == stat.S_IFLNK:
            raise ArchiveError(f"{archive.name}: refusing member {info.filename!r}: symlinks in zip files are not supported")
        if ftype not in (0, stat.S_IFREG, stat.S_IFDIR):
            raise ArchiveError(f"{archive.name}: refusing member {info.filename!r}: device file or FIFO")


def check_archive(archive: str | Path) -> None:
    """Raise ``ArchiveError`` if any member of ``archive`` is unsafe (nothing is written)."""
    archive = Path(archive)
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                _check_zip(zf, archive)
        elif tarfile.is_tarfile(archive):
            with tarfile.open(archive) as tf:
                _check_tar(tf, archive)
        else:  # a zip cut short loses its central directory and lands here too
            raise CorruptArchiveError(f"{archive.name}: not a zip or tar archive (truncated or not an archive)")
    except (*_DAMAGED, OSError) as e:
        if not _is_damage(e):
            raise
        raise CorruptArchiveError(f"{archive.name}: truncated or corrupt ({type(e).__name__}: {e})") from e


def safe_extract(archive: str | Path, dest: str | Path) -> Path:
    """Check, then extract ``archive`` into ``dest`` atomically (an existing ``dest`` is replaced)."""
    archive, dest = Path(archive), Path(dest)
    check_archive(archive)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.extract-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                zf.extractall(tmp)
        else:
            with tarfile.open(archive) as tf:
                tf.extractall(tmp, filter="data")  # second line of defence after _check_tar
    except BaseException as e:
        shutil.rmtree(tmp, ignore_errors=True)
        if _is_damage(e):  # e.g. a bad CRC or data cut short inside a member: the listing was readable
            raise CorruptArchiveError(f"{archive.name}: truncated or corrupt ({type(e).__name__}: {e})") from e
        raise
    if dest.exists():
        old = dest.with_name(f".{dest.name}.old-{os.getpid()}")
        dest.rename(old)
        tmp.rename(dest)
        shutil.rmtree(old)
    else:
        tmp.rename(dest)
    return dest
