"""Safe extraction of downloaded zip and tar archives.

Every member is checked before anything is written: absolute paths, ``..`` components, links leading
outside the target, device files and FIFOs are refused with an ``ArchiveError`` naming the member. So are
archives whose members only make sense together in a way extraction cannot honour safely (``_check_tree``):
a member inside a symlink or a file of the archive (``s -> sub/..`` then ``s/ok2``), a symlink that leaves
the target through other symlinks of the archive (``d -> .`` then ``d2 -> d/..``) or never resolves (a
loop), a name used twice for different kinds of member, a hard link to anything but an earlier file.
The archive is extracted into a temporary sibling directory that is renamed onto the target only on success.
An archive that cannot be read to the end (truncated, bad CRC, not an archive) raises ``CorruptArchiveError``.
"""

from __future__ import annotations

import errno
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


_MAX_LINK_HOPS = 40  # symlinks followed to resolve one path (Linux's MAXSYMLINKS)


class _LinkLoop(Exception):
    """A symlink of the archive that goes on resolving through its links forever."""


def _clean(path: str) -> str:
    """A relative POSIX path without ``.``, ``..`` or empty components ("" for the top)."""
    clean = posixpath.normpath(path)
    return "" if clean == "." else clean


def _resolve(start: list[str], target: str, links: dict[str, str]) -> tuple[bool, list[str]]:
    """Follow ``target`` from directory ``start`` as the OS will once everything is extracted, through the
    archive's own symlinks (``links``: clean name -> target): (stays inside the target, links followed),
    or ``_LinkLoop``. A ``..`` applies to the path with the links before it resolved (as the kernel does),
    not to the text: ``d/..`` with ``d -> .`` is the target's parent."""
    todo, here, followed = target.split("/"), list(start), []
    while todo:
        part = todo.pop(0)
        if part in ("", "."):
            continue
        if part == "..":
            if not here:
                return False, followed
            here.pop()
            continue
        name = "/".join([*here, part])
        if name not in links:
            here.append(part)
            continue
        followed.append(name)
        if len(followed) > _MAX_LINK_HOPS:
            raise _LinkLoop(name)
        todo = links[name].split("/") + todo  # relative to the link's directory, which is ``here``
    return True, followed


def _check_tree(entries: list[tuple[str, str, str]], archive: Path) -> None:
    """Refuse members that clash once extracted. ``entries``: (clean name, kind, link target as written) in
    archive order, kind one of file, directory, symlink, hard link."""
    kinds: dict[str, str] = {}
    files_before: set[str] = set()
    for name, kind, target in entries:
        if name in kinds and (kinds[name] != kind or kind not in ("file", "directory")):
            raise ArchiveError(f"{archive.name}: refusing member {name!r}: the name is used twice ({kinds[name]}, "
                               f"then {kind}); only files and directories may repeat")
        kinds[name] = kind
        if kind == "hard link" and _clean(target) not in files_before:
            raise ArchiveError(f"{archive.name}: refusing hard link {name!r} -> {target!r}: a hard link must "
                               "point to a regular file earlier in the archive")
        if kind == "file":
            files_before.add(name)
    links = {name: target for name, kind, target in entries if kind == "symlink"}
    for name, kind, target in entries:
        parts = name.split("/")
        for i in range(1, len(parts)):
            parent = "/".join(parts[:i])
            if kinds.get(parent, "directory") != "directory":
                raise ArchiveError(f"{archive.name}: refusing member {name!r}: it would be written inside "
                                   f"{parent!r}, which is a {kinds[parent]} in the archive, not a directory")
        if kind != "symlink":
            continue
        try:
            inside, followed = _resolve(parts[:-1], target, links)
        except _LinkLoop:
            raise ArchiveError(f"{archive.name}: refusing link {name!r} -> {target!r}: it never resolves "
                               "(a loop of symlinks in the archive)") from None
        if not inside:
            via = ", ".join(f"{f!r} -> {links[f]!r}" for f in followed[:3])
            raise ArchiveError(f"{archive.name}: refusing link {name!r} -> {target!r}: it leads outside the "
                               f"target through the archive's link {via}")


def _check_tar(tf: tarfile.TarFile, archive: Path) -> None:
    entries = []
    for m in tf.getmembers():
        name = _check_name(m.name, archive)
        if m.issym():
            _check_link(name, m.linkname, archive, relative_to_member=True)
        elif m.islnk():
            _check_link(name, m.linkname, archive, relative_to_member=False)
        elif not (m.isfile() or m.isdir()):
            raise ArchiveError(f"{archive.name}: refusing member {m.name!r}: device file or FIFO")
        kind = "symlink" if m.issym() else "hard link" if m.islnk() else "directory" if m.isdir() else "file"
        if not name and kind != "directory":
            raise ArchiveError(f"{archive.name}: refusing member {m.name!r}: a {kind} in place of the target itself")
        entries.append((name, kind, m.linkname.replace("\\", "/")))
    _check_tree(entries, archive)


def _check_zip(zf: zipfile.ZipFile, archive: Path) -> None:
    entries = []
    for info in zf.infolist():
        name = _check_name(info.filename, archive)
        ftype = stat.S_IFMT(info.external_attr >> 16)  # 0 when the zip carries no Unix file type
        if ftype == stat.S_IFLNK:
            raise ArchiveError(f"{archive.name}: refusing member {info.filename!r}: symlinks in zip files are not supported")
        if ftype not in (0, stat.S_IFREG, stat.S_IFDIR):
            raise ArchiveError(f"{archive.name}: refusing member {info.filename!r}: device file or FIFO")
        entries.append((name, "directory" if info.is_dir() else "file", ""))
    _check_tree(entries, archive)


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


# what extraction raises when members clash on disk (a file where a directory should be, and so on): the
# archive's doing, not the disk's, if _check_tree let such an archive through
_CLASHES = (errno.EEXIST, errno.ENOTDIR, errno.EISDIR, errno.ELOOP)


def _extraction_error(e: BaseException, archive: Path, tmp: Path) -> ArchiveError | None:
    """The one-line error for an extraction that failed after the checks passed; None if not the archive's."""
    if isinstance(e, tarfile.FilterError):  # the data filter: the second line of defence refused a member
        return ArchiveError(f"{archive.name}: refusing member {e.tarinfo.name!r}: {e}")
    if isinstance(e, OSError) and e.errno in _CLASHES:
        where = Path(e.filename).relative_to(tmp) if e.filename and Path(e.filename).is_relative_to(tmp) else "?"
        return ArchiveError(f"{archive.name}: refusing the archive: its members clash at {str(where)!r} "
                            f"({e.strerror})")
    if _is_damage(e):  # e.g. a bad CRC or data cut short inside a member: the listing was readable
        return CorruptArchiveError(f"{archive.name}: truncated or corrupt ({type(e).__name__}: {e})")
    return None


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
        refused = _extraction_error(e, archive, tmp)
        if refused is None:
            raise
        raise refused from e
    if dest.exists():
        old = dest.with_name(f".{dest.name}.old-{os.getpid()}")
        dest.rename(old)
        tmp.rename(dest)
        shutil.rmtree(old)
    else:
        tmp.rename(dest)
    return dest
