"""No third-party warning in normal output: paddle's import-time "No ccache found" (Recognizer with a
.pdparams model, the stages' runtime set-up, the fast-kernel loader) and MLflow's type-hint and
input-example warnings when `textrec register` logs the pyfunc."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import warnings

from tests.tracking.conftest import kit_run, tracked  # noqa: F401  (session fixtures shared with tests/tracking)

NOISE = ("ccache", "Add type hints", "input example was not provided", "input_example")


def _python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)


def test_recognizer_with_a_pdparams_model_does_not_warn_about_ccache(parity_kit):
    proc = _python(f"from textrec import Recognizer; print(Recognizer({str(parity_kit / 'mv3/best_accuracy.pdparams')!r})"
                   f"({str(parity_kit / 'images/ic15_word_3.png')!r}).text)")
    assert proc.returncode == 0 and proc.stdout.strip(), proc.stderr
    assert "ccache" not in proc.stderr, proc.stderr


def test_the_stage_runtime_and_the_kernel_loader_do_not_warn_about_ccache():
    """Each is the first paddle import of its process here, as in a stage or a rank."""
    for code in ("from textrec.runtime import configure_runtime; configure_runtime('cpu', threads=1)",
                 "from textrec.runtime import quiet_paddle_import\n"
                 "with quiet_paddle_import(): from paddle.utils.cpp_extension import load"):
        proc = _python(code)
        assert proc.returncode == 0 and "ccache" not in proc.stderr, proc.stderr


def test_a_warning_outside_the_block_is_still_shown():
    """Only paddle's ccache warning is dropped, only inside the block."""
    from textrec.runtime import quiet_paddle_import

    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        with quiet_paddle_import():
            warnings.warn("No ccache found. (test)", UserWarning, stacklevel=1)
            warnings.warn("something else", UserWarning, stacklevel=1)
        warnings.warn("No ccache found. (after)", UserWarning, stacklevel=1)
    assert [str(w.message) for w in seen] == ["something else", "No ccache found. (after)"]


def test_register_logs_the_pyfunc_without_mlflow_warnings(tracked, caplog):  # noqa: F811
    from textrec.tracking.registry import register_run

    params = dataclasses.replace(tracked.params, promotion=dataclasses.replace(
        tracked.params.promotion, model_name="t-quiet", serve_precision="fp32"))
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        rv = register_run(params, tracked.store, tracked.run.run_ids["mobilenet_v3"])
    assert rv.version == "1"
    said = [str(w.message) for w in seen] + [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert not [m for m in said if any(n in m for n in NOISE)], said
