"""Safe extraction: good archives land atomically; malicious ones are refused before anything is written."""

from __future__ import annotations

import hashlib
import io
import stat
import tarfile
import zipfile
from pathlib import Path

import pytest

from textrec.data.archive import ArchiveError, CorruptArchiveError, check_archive, safe_extract


def _tar(path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]]) -> Path:
    with tarfile.open(path, "w:gz") as tf:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            tf.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def _info(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    return info


def test_zip_extracts_atomically_and_replaces(tmp_path: Path) -> None:
    z = tmp_path / "ok.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("data/a.txt", b"alpha")
        zf.writestr("data/sub/b.txt", b"beta")
    dest = tmp_path / "out"
    dest.mkdir()
    (dest / "stale.txt").write_text("old")
    assert safe_extract(z, dest) == dest
    assert (dest / "data/a.txt").read_bytes() == b"alpha"
    assert (dest / "data/sub/b.txt").read_bytes() == b"beta"
    assert not (dest / "stale.txt").exists()  # replaced as a whole, not merged
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ok.zip", "out"]  # no temp dirs left


def test_tar_with_internal_symlink_is_allowed(tmp_path: Path) -> None:
    t = _tar(tmp_path / "ok.tar.gz", [(_info("d/file.txt"), b"x"), (_info("d/link", tarfile.SYMTYPE, "file.txt"), None)])
    dest = safe_extract(t, tmp_path / "out")
    assert (dest / "d/link").is_symlink()
    assert (dest / "d/link").read_bytes() == b"x"


def test_zip_with_parent_traversal_is_refused(tmp_path: Path) -> None:
    z = tmp_path / "evil.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("fine.txt", b"ok")
        zf.writestr("../evil", b"pwned")
    with pytest.raises(ArchiveError, match=r"'\.\./evil'.*'\.\.' in path"):
        safe_extract(z, tmp_path / "out" / "target")
    assert not (tmp_path / "out" / "evil").exists()
    assert not (tmp_path / "evil").exists()
    assert not (tmp_path / "out" / "target").exists()


def test_zip_with_backslash_traversal_is_refused(tmp_path: Path) -> None:
    z = tmp_path / "evil.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("..\\..\\evil", b"pwned")
    with pytest.raises(ArchiveError, match="'..' in path"):
        check_archive(z)


def test_tar_with_absolute_path_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "abs_evil"
    t = _tar(tmp_path / "evil.tar.gz", [(_info(str(target)), b"pwned")])
    with pytest.raises(ArchiveError, match="absolute path"):
        safe_extract(t, tmp_path / "out")
    assert not target.exists()
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("kind,link", [(tarfile.SYMTYPE, "../../outside"), (tarfile.SYMTYPE, "/etc/passwd"),
                                       (tarfile.LNKTYPE, "../outside")])
def test_tar_with_link_leading_outside_is_refused(tmp_path: Path, kind: bytes, link: str) -> None:
    t = _tar(tmp_path / "evil.tar", [(_info("a/link", kind, link), None)])
    with pytest.raises(ArchiveError, match="link 'a/link'"):
        safe_extract(t, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_tar_with_device_file_is_refused(tmp_path: Path) -> None:
    t = _tar(tmp_path / "dev.tar", [(_info("dev/null", tarfile.CHRTYPE), None)])
    with pytest.raises(ArchiveError, match="device file"):
        safe_extract(t, tmp_path / "out")


def test_not_an_archive(tmp_path: Path) -> None:
    p = tmp_path / "x.zip"
    p.write_bytes(b"this is not an archive")
    with pytest.raises(ArchiveError, match="not a zip or tar"):
        safe_extract(p, tmp_path / "out")


def test_zip_symlink_entry_is_refused(tmp_path: Path) -> None:
    z = tmp_path / "link.zip"
    info = zipfile.ZipInfo("link")
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr(info, "../../etc/passwd")
    with pytest.raises(ArchiveError, match="symlinks in zip files are not supported"):
        safe_extract(z, tmp_path / "out")


def test_truncated_tar_gz_is_a_corrupt_archive_error(tmp_path: Path) -> None:
    t = _tar(tmp_path / "ok.tar.gz", [(_info(f"d/{i}.bin"), bytes(range(256)) * 200 + bytes([i])) for i in range(4)])
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(t.read_bytes()[: t.stat().st_size // 2])
    with pytest.raises(CorruptArchiveError, match=r"cut.tar.gz: truncated or corrupt \(EOFError"):
        safe_extract(cut, tmp_path / "out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cut.tar.gz", "ok.tar.gz"]  # no temp dirs left


def test_zip_with_bad_member_data_is_a_corrupt_archive_error(tmp_path: Path) -> None:
    z = tmp_path / "bad.zip"
    with zipfile.ZipFile(z, "w") as zf:  # stored, not deflated: the damage reaches the CRC check
        zf.writestr("a.txt", b"x" * 5000)
    data = bytearray(z.read_bytes())
    data[100:110] = b"\0" * 10
    z.write_bytes(bytes(data))
    check_archive(z)  # the listing is intact...
    with pytest.raises(CorruptArchiveError, match="Bad CRC-32"):  # ...the bytes are not
        safe_extract(z, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_truncated_zip_is_a_corrupt_archive_error(tmp_path: Path) -> None:
    z = tmp_path / "cut.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("a.txt", b"x" * 5000)
    z.write_bytes(z.read_bytes()[:-30])  # the central directory is at the end
    with pytest.raises(CorruptArchiveError, match="not a zip or tar archive"):
        check_archive(z)


# ---- members that clash once extracted: one line naming the member and why, the archive moved aside -------

S, H, D = tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.DIRTYPE


def _tar_bytes(members: list[tuple[tarfile.TarInfo, bytes | None]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            tf.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def _zip_bytes(files: list[tuple[str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in files:
            zf.writestr(name, data)
    return buf.getvalue()


# case -> (archive file name, bytes, what the error line says)
CLASHING = {
    "a file under a symlink to its own parent": (
        "set.tar", _tar_bytes([(_info("s", S, "sub/.."), None), (_info("s/ok2"), b"x")]),
        "refusing member 's/ok2': it would be written inside 's', which is a symlink in the archive"),
    "a link out through another link": (
        "set.tar", _tar_bytes([(_info("d", S, "."), None), (_info("d2", S, "d/.."), None)]),
        "refusing link 'd2' -> 'd/..': it leads outside the target through the archive's link 'd' -> '.'"),
    "the same, the outer link first": (  # d2 looks harmless until d arrives: the check sees the whole archive
        "set.tar", _tar_bytes([(_info("d2", S, "d/.."), None), (_info("d", S, "."), None)]),
        "refusing link 'd2' -> 'd/..': it leads outside the target through the archive's link 'd' -> '.'"),
    "a chain of links out": (
        "set.tar", _tar_bytes([(_info("x", D), None), (_info("x/l1", S, ".."), None),
                               (_info("l2", S, "x/l1/.."), None)]),
        "refusing link 'l2' -> 'x/l1/..': it leads outside the target through the archive's link 'x/l1' -> '..'"),
    "a symlink loop": (
        "set.tar", _tar_bytes([(_info("a", S, "b"), None), (_info("b", S, "a"), None)]),
        "refusing link 'a' -> 'b': it never resolves (a loop of symlinks in the archive)"),
    "a file under a symlinked directory": (
        "set.tar", _tar_bytes([(_info("real", D), None), (_info("link", S, "real"), None),
                               (_info("link/f"), b"x")]),
        "refusing member 'link/f': it would be written inside 'link', which is a symlink in the archive"),
    "a file under a file": (
        "set.tar", _tar_bytes([(_info("a"), b"1"), (_info("a/b"), b"2")]),
        "refusing member 'a/b': it would be written inside 'a', which is a file in the archive"),
    "a file under a file, zip": (
        "set.zip", _zip_bytes([("a", b"1"), ("a/b", b"2")]),
        "refusing member 'a/b': it would be written inside 'a', which is a file in the archive"),
    "one name for a file and a symlink": (
        "set.tar", _tar_bytes([(_info("x"), b"1"), (_info("x", S, "y"), None)]),
        "refusing member 'x': the name is used twice (file, then symlink)"),
    "a hard link to a symlink": (
        "set.tar", _tar_bytes([(_info("s", S, "t"), None), (_info("h", H, "s"), None)]),
        "refusing hard link 'h' -> 's': a hard link must point to a regular file earlier in the archive"),
    "a hard link to a later file": (
        "set.tar", _tar_bytes([(_info("h", H, "f"), None), (_info("f"), b"x")]),
        "refusing hard link 'h' -> 'f': a hard link must point to a regular file earlier in the archive"),
}


def _tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


@pytest.mark.parametrize("case", CLASHING)
def test_clashing_members_are_one_line_and_the_archive_is_moved_aside(case: str, server, tmp_path: Path) -> None:
    from textrec.config.data import DatasetSource, RealDataConfig
    from textrec.data.download import fetch_source
    from textrec.hashing import sha256_file

    filename, data, why = CLASHING[case]
    server.files[f"/{filename}"] = data
    work = tmp_path / "work"  # raw/ and cache/ in here; tmp_path around it shows anything written beside
    digest = hashlib.sha256(data).hexdigest()
    src = DatasetSource(name="set", url=server.url(f"/{filename}"), sha256=digest, kind="image_archive")
    with pytest.raises(ArchiveError) as e:
        fetch_source(src, work / "raw", RealDataConfig(retries=0), archive_dir=work / "cache", progress=False)
    line = str(e.value)
    assert not isinstance(e.value, CorruptArchiveError) and "\n" not in line
    assert line.startswith(f"{filename}: {why}") and "nothing was extracted" in line, line
    [aside] = (work / "cache").iterdir()
    assert aside.name.startswith(f"{filename}.refused-") and sha256_file(aside) == digest
    assert _tree(tmp_path) == {"work", "work/cache", f"work/cache/{aside.name}"}  # nothing extracted anywhere


@pytest.mark.parametrize("members,why", [
    ([("s", S, "sub/.."), ("s/ok2", tarfile.REGTYPE, "")], "refusing member 's/ok2'"),
    ([("d", S, "."), ("d2", S, "d/..")], "refusing link 'd2' -> 'd/..'"),
])
def test_the_issue_cases_end_the_download_stage_in_one_line(members, why, server, tmp_path: Path) -> None:
    """stages/download.py as DVC runs it: one error line, no traceback (was FileExistsError / "corrupt")."""
    from tests.data.test_download import _one_error_line, _run_stage

    data = _tar_bytes([(_info(n, k, link), b"x" if k == tarfile.REGTYPE else None) for n, k, link in members])
    server.files["/set.tar"] = data
    datasets = [{"name": "set", "url": server.url("/set.tar"), "sha256": hashlib.sha256(data).hexdigest(),
                 "kind": "image_archive"}]
    line = _one_error_line(_run_stage(tmp_path, datasets))
    assert why in line and "truncated or corrupt" not in line, line
    [aside] = (tmp_path / "cache").iterdir()
    assert aside.name.startswith("set.tar.refused-")
    assert not (tmp_path / "raw" / "set").exists()


def test_links_inside_the_target_through_other_links_still_extract(tmp_path: Path) -> None:
    t = _tar(tmp_path / "ok.tar", [(_info("./", D), None), (_info("./d", D), None), (_info("./d/f.txt"), b"data"),
                                   (_info("l1", S, "d"), None), (_info("l2", S, "l1/f.txt"), None),
                                   (_info("d/up", S, "../l1"), None), (_info("h", H, "./d/f.txt"), None)])
    dest = safe_extract(t, tmp_path / "out")
    assert (dest / "l2").read_bytes() == b"data" and (dest / "d/up/f.txt").read_bytes() == b"data"
    assert (dest / "h").read_bytes() == b"data" and not (dest / "h").is_symlink()
