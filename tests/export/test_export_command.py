"""`textrec export --params` exports for the params' input shape, as the export stage does: the parity check's
images are resized to model.image_shape's width, not to the built-in 100 (before: 100 and 200 whatever the
params said)."""

from __future__ import annotations

import json

import yaml


def test_export_command_checks_parity_at_the_params_input_width(mv3_checkpoint, kit_lmdb, tmp_path):
    from textrec.cli import main

    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({"model": {"image_shape": [3, 32, 160]}, "export": {"parity_images": 3}}))
    out = tmp_path / "exported"
    assert main(["export", "--model", str(mv3_checkpoint), "--out", str(out), "--check", str(kit_lmdb),
                 "--params", str(params), "--threads", "2"]) == 0
    reports = json.loads((out / "parity.json").read_text())["reports"]
    shapes = {tuple(case["shape"]) for r in reports for case in r["cases"]}
    # the images at the params' width, and the parity's double-width case of two crops side by side
    assert {s[1:] for s in shapes} == {(3, 32, 160), (3, 32, 320)}
