"""Soak: 20 clients send good and bad requests to `textrec serve` on 127.0.0.1; the server answers every one
(no 5xx, no dropped connection), every error stays short, and its memory stays flat. The suite runs a short
soak (~20 s); the long one (~2 minutes) is marked slow: `pytest -m slow tests/serving/test_soak.py`.

Flat: the median RSS of the server's process group over the last window is within 10% of its median over
the window after the warm-up (allocator pools, thread pool and caches fill during the warm-up)."""

from __future__ import annotations

import statistics
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from bench.servers import group_members
from tests.serving import kinds
from tests.serving.conftest import MAX_REQUEST_BYTES, start_textrec_server

CLIENTS, MAX_GROWTH = 20, 0.10
# (warm-up, measured time, RSS window) in seconds
SHORT, LONG = (6.0, 14.0, 4.0), (20.0, 80.0, 15.0)


def _rss_bytes(pgid: int) -> int:
    """Resident memory of every live process in the group (VmRSS from /proc, kB -> bytes)."""
    total = 0
    for pid in group_members(pgid):
        try:
            lines = Path(f"/proc/{pid}/status").read_text().splitlines()
        except OSError:
            continue  # ended while we looked
        total += next((int(line.split()[1]) * 1024 for line in lines if line.startswith("VmRSS:")), 0)
    return total


def _requests(url: str) -> list[tuple[str, int, object]]:
    """(kind, expected status, send()) in the order a client cycles through them: half of them good."""
    image = kinds.png_b64()
    good, bad_image = kinds.good(image), kinds.good("%%%")
    malformed, over = kinds.malformed_json(), kinds.padded(image, MAX_REQUEST_BYTES + 100_000)
    bad = [("malformed JSON", 400, lambda: kinds.post(url, malformed)),
           ("random bytes", 400, lambda: kinds.post(url, kinds.random_bytes())),
           ("model refusal", 400, lambda: kinds.post(url, bad_image)),
           ("wrong content type", 415, lambda: kinds.post(url, good, "text/x-" + kinds.SECRET.decode())),
           ("over the limit", 413, lambda: kinds.post(url, over)),
           ("declared 1 GB", 413, lambda: kinds.post_expecting_continue(url, 10**9))]
    out = []
    for b in bad:
        out += [("good", 200, lambda: kinds.post(url, good)), b]
    return out


@pytest.mark.servers
@pytest.mark.timeout(360)
@pytest.mark.parametrize(("warmup_s", "measure_s", "window_s"),
                         [pytest.param(*SHORT, id="short"), pytest.param(*LONG, id="long", marks=pytest.mark.slow)])
def test_soak_20_clients_no_5xx_short_errors_flat_memory(tiny_project, tmp_path, warmup_s, measure_s, window_s):
    results: list[tuple[str, int, int, bool]] = []  # kind, status, body length, secret in body
    failures: list[str] = []  # wrong statuses and exceptions (connection reset, timeout)
    lock = threading.Lock()
    with start_textrec_server(tiny_project, tmp_path / "serve.log") as srv:
        plan = _requests(srv.url)
        start = time.monotonic()
        stop = start + warmup_s + measure_s

        def client(i: int) -> None:
            n = i  # clients start at different points of the cycle
            while time.monotonic() < stop:
                kind, want, send = plan[n % len(plan)]
                n += 1
                try:
                    a = send()
                except Exception as e:  # recorded, not raised: the test reports every failure at the end
                    with lock:
                        failures.append(f"{kind}: {type(e).__name__}: {e}")
                    continue
                with lock:
                    results.append((kind, a.status, len(a.body), kinds.SECRET in a.body))
                    if a.status != want:
                        failures.append(f"{kind}: HTTP {a.status} (expected {want}): {a.body[:200]!r}")

        threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(CLIENTS)]
        for t in threads:
            t.start()
        samples: list[tuple[float, int]] = []  # (seconds since start, RSS bytes)
        while time.monotonic() < stop:
            samples.append((time.monotonic() - start, _rss_bytes(srv.proc.pid)))
            time.sleep(min(1.0, window_s / 8))  # at least 8 samples a window
        for t in threads:
            t.join(timeout=120)
        assert srv.alive(), srv.log_tail()
    assert srv.alive() == []

    counts = Counter(kind for kind, *_ in results)
    assert not failures, (len(failures), failures[:10])
    assert all(counts[kind] >= CLIENTS for kind, _, _ in plan), counts
    assert not [r for r in results if r[1] >= 500]
    errors = [r for r in results if r[1] >= 400]
    assert max(length for _, _, length, _ in errors) <= 1024
    assert not any(secret for *_, secret in results)

    after_warmup = [rss for t, rss in samples if warmup_s <= t < warmup_s + window_s]
    last = [rss for t, rss in samples if t >= warmup_s + measure_s - window_s]
    base, end = statistics.median(after_warmup), statistics.median(last)
    print(f"{len(results)} requests {dict(counts)}; RSS MiB: {[round(r / 2**20, 1) for _, r in samples]}")
    assert end <= base * (1 + MAX_GROWTH), (f"RSS {base / 2**20:.1f} MiB after warm-up -> {end / 2**20:.1f} MiB "
                                            f"at the end ({len(results)} requests)")
