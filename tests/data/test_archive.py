"""Safe extraction: good archives land atomically; malicious ones are refused before anything is written."""

from __future__ import annotations

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
