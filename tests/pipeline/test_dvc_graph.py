"""The stage graph of every profile expands, and every data dependency is produced by some stage."""


import pytest

from tests.pipeline.project import copy_project, dvc


def _stages(project):
    out = dvc(["stage", "list", "--all", "--name-only"], project).stdout.split()
    return set(out)


@pytest.mark.parametrize("profile", ["tiny", "paper", "demo"])
def test_dag_expands_and_every_dependency_is_produced(tmp_path, profile):
    project = copy_project(tmp_path, profile)
    names = _stages(project)
    from textrec.config import load_params

    params = load_params(project / "params.yaml")
    bbs, benches = params.model.backbones, params.eval.benchmarks
    expected = {"download", "prepare", "validate", "report"}
    expected |= {f"{s}@{bb}" for s in ("train", "export", "quantize") for bb in bbs}
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
