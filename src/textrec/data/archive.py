"""Safe extraction of downloaded zip and tar archives.

Every member is checked before anything is written: absolute paths, ``..`` components, links leading
outside the target, device files and FIFOs are refused with an ``ArchiveError`` naming the member. The
archive is extracted into a temporary sibling directory that is renamed onto the target only on success.
"""

from __future__ import annotations

import os
import posixpath
import shutil
import stat
import tarfile
import zipfile
from pathlib import Path


class ArchiveError(ValueError):
    """An archive that is unreadable, of an unknown type, or that would write outside its target."""


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
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            _check_zip(zf, archive)
    elif tarfile.is_tarfile(archive):
        with tarfile.open(archive) as tf:
            _check_tar(tf, archive)
    else:
        raise ArchiveError(f"{archive}: not a zip or tar archive")


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
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if dest.exists():
        old = dest.with_name(f".{dest.name}.old-{os.getpid()}")
        dest.rename(old)
        tmp.rename(dest)
        shutil.rmtree(old)
    else:
        tmp.rename(dest)
    return dest
