"""The runtime settings hold what they promise: MKL's AVX2 path computes the same, glibc stops re-faulting
freed tensor memory, a user's explicit MKL choice is kept."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from textrec.runtime import configure_runtime


def test_configure_runtime(monkeypatch) -> None:
    monkeypatch.delenv("MKL_DEBUG_CPU_TYPE", raising=False)
    info = configure_runtime("cpu", threads=1, keep_freed_memory=False)  # malloc: see the next test
    assert info.threads == 1 and info.cores == os.cpu_count() and info.cpu
    cpuinfo = Path("/proc/cpuinfo").read_text()
    assert (info.mkl_cpu_type == "5") == ("AuthenticAMD" in cpuinfo and " avx2" in cpuinfo and " fma" in cpuinfo)
    assert not info.malloc_tuned
    monkeypatch.setenv("MKL_DEBUG_CPU_TYPE", "2")  # a user's explicit choice is kept
    assert configure_runtime("cpu", keep_freed_memory=False).mkl_cpu_type == "2"
    with pytest.raises(ValueError):
        configure_runtime("cpu", threads=0)


KEEP_MEMORY_PROBE = """
import ctypes, ctypes.util, resource
from textrec.runtime import _keep_freed_memory

libc = ctypes.CDLL(ctypes.util.find_library("c"))
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]

def faults_per_alloc():  # minor page faults of malloc + touch + free of 64 MB, as paddle does per tensor
    start = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(5):
        p = libc.malloc(64 << 20)
        ctypes.memset(p, 1, 64 << 20)
        libc.free(p)
    return (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - start) / 5

before = faults_per_alloc()
assert _keep_freed_memory()
faults_per_alloc()  # the heap grows once
print(before, faults_per_alloc())
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc mallopt")
def test_keep_freed_memory_stops_refaulting_large_tensors() -> None:
    """Without the setting every 64 MB allocation faults its ~16k pages in again; with it, almost none."""
    out = subprocess.run([sys.executable, "-c", KEEP_MEMORY_PROBE], capture_output=True, text=True, check=True)
    before, after = map(float, out.stdout.split())
    assert before > 10_000, before
    assert after < 100, after


MKL_PROBE = """
from textrec.runtime import configure_runtime
info = configure_runtime("cpu")  # before paddle's first GEMM, as the trainer does
import numpy as np, paddle
import paddle.nn.functional as F
rng = np.random.default_rng(0)
a, b = rng.standard_normal((300, 500)), rng.standard_normal((500, 200))
got = paddle.matmul(paddle.to_tensor(a, "float32"), paddle.to_tensor(b, "float32")).numpy()
np.testing.assert_allclose(got, a @ b, rtol=1e-4, atol=1e-3)
x, w = rng.standard_normal((2, 64, 8, 25)), rng.standard_normal((32, 64, 3, 3))  # im2col + GEMM
got = F.conv2d(paddle.to_tensor(x, "float32"), paddle.to_tensor(w, "float32"), padding=1).numpy()
want = F.conv2d(paddle.to_tensor(x), paddle.to_tensor(w), padding=1).numpy()  # float64 kernel
np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-3)
print(info.mkl_cpu_type)
"""


def test_mkl_avx2_path_computes_the_same() -> None:
    """With MKL switched to its AVX2 path (AMD CPUs), GEMM and convolution still match float64."""
    env = {k: v for k, v in os.environ.items() if k != "MKL_DEBUG_CPU_TYPE"}
    out = subprocess.run([sys.executable, "-c", MKL_PROBE], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    cpuinfo = Path("/proc/cpuinfo").read_text()
    amd = "AuthenticAMD" in cpuinfo and " avx2" in cpuinfo and " fma" in cpuinfo
    assert out.stdout.split()[-1] == ("5" if amd else "None")
