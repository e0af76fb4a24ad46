"""The stage graph of every profile expands, and every data dependency is produced by some stage."""

from pathlib import Path

import pytest

from tests.pipeline.project import copy_project, dvc


def _stages(project):
    out = dvc(["stage", "list", "--all", "--name-only"], project).stdout.split()
    return set(out)


@pytest.mark.parametrize("profile", ["tiny", "paper", "demo", "reproduce", "finetune"])
def test_dag_expands_and_every_dependency_is_produced(tmp_path, profile):
    project = copy_project(tmp_path, profile)
    names = _stages(project)
    from textrec.config import load_params

    params = load_params(project / "params.yaml")
    bbs, benches = params.model.backbones, params.eval.benchmarks
    expected = {"download", "prepare", "validate", "report"}
    expected |= {f"{s}@{bb}" for s in ("train", "calibrate", "export", "quantize") for bb in bbs}
    expected |= {f"evaluate@{bb}-{b}" for bb in bbs for b in benches}
    assert names == expected

    # every dependency is either project code/config (tracked in git) or some stage's output (or inside one)
    from dvc.repo import Repo

    repo = Repo(str(project))
    try:
        outs = [str(o.fs_path) for st in repo.index.stages for o in st.outs]
        for st in repo.index.stages:
            for dep in st.deps:
                path = str(dep.fs_path)
                produced = any(path == o or path.startswith(o + "/") or o.startswith(path + "/") for o in outs)
                # the copy holds only what git tracks, so existing there means part of the project
                tracked = (project / dep.def_path).exists()
                assert produced or tracked, f"{st.addressing}: dependency {dep.def_path} is produced by no stage"
    finally:
        repo.close()
    # `dvc dag` renders the whole graph: the report sits downstream of every quantize stage
    dag = dvc(["dag", "--md", "report"], project).stdout
    for bb in bbs:
        assert f"quantize@{bb}" in dag and f"train@{bb}" in dag


def test_reproduce_fetches_paddleocrs_releases_and_dtrbs_benchmarks_only(tmp_path):
    """`reproduce`: both release checkpoints (the URLs of PaddleOCR's CRNN doc), 0 steps, and from the DTRB
    archive `paper` downloads only its evaluation and validation LMDBs; the seven benchmarks of the table."""
    from textrec.models.pretrained import PADDLEOCR_RELEASES, PUBLISHED_BENCHMARKS
    from textrec.profiles import PROFILES, load_profile

    repo = Path(__file__).resolve().parents[2]
    assert "reproduce" in PROFILES
    rep, paper = (load_profile(n, repo) for n in ("reproduce", "paper"))
    assert {bb: r.url for bb, r in PADDLEOCR_RELEASES.items()} == {
        "mobilenet_v3": "https://paddleocr.bj.bcebos.com/dygraph_v2.0/en/rec_mv3_none_bilstm_ctc_v2.0_train.tar",
        "resnet34_vd": "https://paddleocr.bj.bcebos.com/dygraph_v2.0/en/rec_r34_vd_none_bilstm_ctc_v2.0_train.tar"}
    assert {bb: r.published_accuracy for bb, r in PADDLEOCR_RELEASES.items()} == {
        "mobilenet_v3": 0.7795, "resnet34_vd": 0.8104}
    assert rep.model.backbones == ("mobilenet_v3", "resnet34_vd")
    for bb in rep.model.backbones:
        recipe = rep.train.recipe(bb)
        assert (recipe.init, recipe.max_steps, recipe.processes) == ("paddleocr", 0, 1)
    assert rep.data.source == "real"
    assert [(d.name, d.url) for d in rep.data.real.datasets] == [(d.name, d.url) for d in paper.data.real.datasets]
    assert rep.eval.benchmarks == paper.eval.benchmarks == PUBLISHED_BENCHMARKS
    # the same benchmark LMDBs as `paper`, and nothing from the archive's training/ part
    bench = {c.dst: c.src for c in rep.data.real.convert if c.dst.startswith("bench/")}
    assert bench == {c.dst: c.src for c in paper.data.real.convert if c.dst.startswith("bench/")}
    assert set(bench) == {f"bench/{b}" for b in rep.eval.benchmarks}
    assert all("/training" not in c.src for c in rep.data.real.convert)
    assert {c.dst for c in rep.data.real.convert} >= {"train", "val"}
    # every params key a stage tracks is in the profile (dvc repro refuses to run a stage otherwise)
    import yaml
    from dvc.dependency.param import ParamsDependency
    from dvc.repo import Repo

    project = copy_project(tmp_path, "reproduce")
    values = yaml.safe_load((project / "params.yaml").read_text())
    repo = Repo(str(project))
    try:
        for st in repo.index.stages:
            for dep in st.deps:
                for key in dep.params if isinstance(dep, ParamsDependency) else ():
                    node = values
                    for part in key.split("."):
                        assert isinstance(node, dict) and part in node, f"{st.addressing}: params key {key}"
                        node = node[part]
    finally:
        repo.close()
