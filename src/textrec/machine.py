"""What CPU this is, from /proc/cpuinfo (Linux); for benchmark reports, caches keyed by CPU and runtime tuning."""

from __future__ import annotations

import platform
from pathlib import Path


def cpuinfo_field(name: str) -> str | None:
    """The first ``name : value`` line of /proc/cpuinfo, or None (field absent or not Linux)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.split(":", 1)[0].strip() == name:
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def cpu_model() -> str:
    """``model name`` from /proc/cpuinfo, else ``platform.processor()`` or the machine type."""
    return cpuinfo_field("model name") or platform.processor() or platform.machine()


def cpu_flags() -> set[str]:
    return set((cpuinfo_field("flags") or "").split())


# instruction-set flags that decide which kernels MKL, oneDNN and our compiled kernels can use
RELEVANT_FLAGS = ("avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_bf16",
                  "amx_int8")


def machine_info() -> dict:
    """What a benchmark JSON records about the machine: CPU model, vendor, core count, relevant flags."""
    import os

    flags = cpu_flags()
    # a VM's "model name" can be generic ("Intel(R) Xeon(R) Processor"); family/model/stepping name the part
    family_model = [cpuinfo_field(k) for k in ("cpu family", "model", "stepping")]
    return {"cpu": cpu_model(), "vendor": cpuinfo_field("vendor_id") or platform.machine(),
            "family_model_stepping": "/".join(family_model) if all(family_model) else None,
            "cores": os.cpu_count(), "flags": [f for f in RELEVANT_FLAGS if f in flags],
            "python": platform.python_version()}
