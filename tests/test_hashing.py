"""A file's sha256 lives below its users, so hashing a checkpoint does not tie a stage to the downloader."""

import hashlib

from tests.pipeline.test_stage_deps import REPO, closure
from textrec.hashing import sha256_file


def test_sha256_of_a_file_larger_than_one_block(tmp_path):
    data = bytes(range(256)) * 5000  # 1.28 MB: two blocks
    (tmp_path / "f").write_bytes(data)
    assert sha256_file(tmp_path / "f") == hashlib.sha256(data).hexdigest()


def test_the_evaluate_and_calibrate_stages_do_not_import_the_downloader():
    """They hash checkpoints (the init check, the calibration's provenance): a change to the downloader
    must not re-run every evaluate@ stage."""
    download = REPO / "src" / "textrec" / "data" / "download.py"
    for stage in ("evaluate", "calibrate"):
        files, _ = closure(REPO / "stages" / f"{stage}.py")
        assert REPO / "src" / "textrec" / "hashing.py" in files
        assert download not in files, stage
