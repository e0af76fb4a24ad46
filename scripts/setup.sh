#!/usr/bin/env bash
# One-time (idempotent) set-up: .venv/ with the locked dependencies and the textrec package (editable).
# Needs only Python 3.11 and access to PyPI. Re-running it is cheap: uv checks the lock and installs nothing new.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-$(command -v python3.11 || command -v python3)}
"$PY" -c 'import sys; assert sys.version_info[:2] == (3, 11), f"textrec needs Python 3.11, found {sys.version}"'
[ -x .venv/bin/python ] || "$PY" -m venv .venv
# uv itself is pinned in requirements.lock; bootstrap it with pip once, then let it install the lock.
.venv/bin/python -m uv --version >/dev/null 2>&1 || .venv/bin/python -m pip install -q "uv==0.13.9"
# The lock pins the core and the pipeline, fonts and dev extras (tests/test_packaging.py checks it), so after it
# the package itself goes in without resolving anything: everything `.[pipeline,fonts,dev]` asks is there.
# --compile-bytecode: a new venv gets its .pyc files at install. Without them every process compiles what it
# imports (paddle + mlflow: ~30 s of CPU on 2 shared cores) when PYTHONDONTWRITEBYTECODE is set or
# site-packages is read-only, and the stages, servers and tests start hundreds of processes.
.venv/bin/python -m uv pip install -q --python .venv/bin/python --require-hashes --compile-bytecode -r requirements.lock
.venv/bin/python -m uv pip install -q --python .venv/bin/python --no-deps -e .
