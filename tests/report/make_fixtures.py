"""Regenerate the stored report fixtures: ``python tests/report/make_fixtures.py``.

The fixtures are generated once and committed, so the golden files depend on stored
bytes rather than on numpy's random streams staying stable across versions. The
latencies are seeded log-normal bodies with a sparse slow tail, recorded into real
HdrHistograms (1 µs .. 60 s, 3 digits) the way the engine does.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
from hdrh.histogram import HdrHistogram

from sockbench.core.validity import assess

HERE = Path(__file__).parent / "fixtures"
ENVIRONMENT = {
    "hostname": "bench-01",
    "os": "Linux",
    "kernel": "6.1.0-18-amd64",
    "python": "3.11.2",
    "cpu_model": "AMD EPYC 7B13",
    "cpu_count": 16,
    "loadavg": [0.42, 0.35, 0.30],
    "sockbench": "0.1.0",
    "trio": "0.27.0",
    "hdrhistogram": "0.10.8",
}
MODELS = {"threaded": 1.0, "trio": 1.35, "asyncio": 1.7}


def summary(values: np.ndarray[Any, np.dtype[np.int64]]) -> dict[str, Any]:
    hist = HdrHistogram(1, 60_000_000, 3)
    unique, counts = np.unique(np.clip(values, 1, 60_000_000), return_counts=True)
    for v, c in zip(unique, counts, strict=True):
        hist.record_value(int(v), int(c))
    pct = hist.get_percentile_to_value_dict([50.0, 90.0, 99.0, 99.9, 99.99])
    return {
        "count": int(hist.get_total_count()),
        "min": int(hist.get_min_value()),
        "mean": round(float(hist.get_mean_value()), 3),
        "stdev": round(float(hist.get_stddev()), 3),
        "p50": int(pct[50.0]),
        "p90": int(pct[90.0]),
        "p99": int(pct[99.0]),
        "p99_9": int(pct[99.9]),
        "p99_99": int(pct[99.99]),
        "max": int(hist.get_max_value()),
        "histogram": hist.encode().decode(),
    }


def latencies(
    rng: np.random.Generator, n: int, median_us: float, tail: float = 0.004
) -> np.ndarray[Any, np.dtype[np.int64]]:
    body = rng.lognormal(math.log(median_us), 0.35, n)
    slow = rng.random(n) < tail
    body[slow] *= rng.uniform(4, 40, int(slow.sum()))
    return body.astype(np.int64)


def result(
    rng: np.random.Generator,
    *,
    model: str | None,
    proto: str,
    clients: int,
    payload: int = 64,
    duration: float = 10.0,
    intervals: bool = False,
    resources: bool = True,
    rate: float | None = None,
) -> dict[str, Any]:
    factor = MODELS.get(model or "", 1.2)
    median = 25.0 * factor * (1 + clients / 2) * (0.8 if proto == "udp" else 1.0)
    # Closed loop: each client has one request in flight, so rps ~ clients / latency.
    rps = clients / (median * 1.15e-6) * float(rng.uniform(0.97, 1.03))
    if rate:
        rps = rate * float(rng.uniform(0.995, 1.0))
    requests = int(rps * duration)
    lat = latencies(rng, requests, median)
    n = requests
    errors = {"timeout": int(rng.integers(0, 4))} if proto == "udp" else {}
    if model == "asyncio" and clients >= 100:
        errors["reset"] = 2
    doc: dict[str, Any] = {
        "schema": "sockbench.result/1",
        "sockbench_version": "0.1.0",
        "started_at": "2024-11-24T10:00:00+00:00",
        "duration_s": duration,
        "interrupted": False,
        "status": "completed",
        "command": f"sockbench run --proto {proto} --clients {clients} --payload {payload}"
        + (f" --server {model}" if model else " --target tcp://10.0.0.5:7000")
        + (f" --rate {rate:g}" if rate else ""),
        "config": {
            "proto": proto,
            "mode": "echo",
            "clients": clients,
            "duration_s": duration,
            "warmup_s": 2.0,
            "payload": payload,
            "timeout_s": 5.0,
            "target": None if model else "tcp://10.0.0.5:7000",
            "server_model": model,
            "rate": rate,
            "pipeline": 1,
            "requests": None,
            "interval_s": 1.0,
            "workers": 1,
        },
        "environment": ENVIRONMENT,
        "server": {
            "model": model,
            "target": f"{proto}://127.0.0.1:{40000 + clients}" if model else "tcp://10.0.0.5:7000",
        },
        "totals": {
            "requests": requests,
            "bytes_sent": requests * payload,
            "bytes_received": requests * payload,
            "throughput_rps": round(requests / duration, 3),
            "throughput_bps": round(requests * payload * 8 / duration, 3),
            "connections": clients if proto == "tcp" else 0,
            "errors": errors,
        },
        "datagrams": None,
        "latency_us": summary(lat),
        "connect_us": summary(latencies(rng, clients, 90.0 * factor, tail=0.0)),
        "service_time_us": None,
        "send_lag_us": None,
        "intervals": [],
        "warnings": [],
        "server_resources": None,
        "generator": {
            "cpu_percent_mean": round(float(rng.uniform(40, 95)), 1),
            "cpu_percent_max": 99.0,
            "saturated": clients >= 100 and model == "threaded",
            "workers": 1,
        },
    }
    if proto == "udp":
        sent = requests + int(rng.integers(5, 50))
        lost = int(sent * rng.uniform(0.0001, 0.002))
        in_flight = int(rng.integers(0, clients))
        doc["datagrams"] = {
            "sent": sent,
            "received": sent - lost - in_flight,
            "lost": lost,
            "duplicates": 0,
            "reordered": int(rng.integers(0, 20)),
            "late": int(rng.integers(0, 5)),
            "in_flight": in_flight,
        }
        doc["totals"]["connections"] = 0
    if rate:
        doc["service_time_us"] = summary(latencies(rng, n, median * 1.1))
        doc["send_lag_us"] = summary(latencies(rng, n, 3.0, tail=0.01))
    if resources and model:
        doc["server_resources"] = {
            "cpu_percent_mean": round(min(99.0, 12 * factor * clients**0.4), 1),
            "cpu_percent_max": round(min(100.0, 16 * factor * clients**0.4), 1),
            "rss_bytes_max": int(20e6 * factor + clients * 65536 * factor),
            "threads_max": clients + 2 if model == "threaded" else 1,
            "fds_max": clients + 8,
        }
    if intervals:
        rows = []
        for t in range(1, int(duration) + 1):
            dip = 0.6 if t == 6 and model != "threaded" else 1.0
            chunk = lat[rng.integers(0, lat.size, 500)]
            per = int(rps * dip * rng.uniform(0.95, 1.05))
            rows.append(
                {
                    "t": float(t),
                    "requests": per,
                    "errors": 0,
                    "rps": float(per),
                    "p50": int(np.percentile(chunk, 50)),
                    "p99": int(np.percentile(chunk, 99) * (2.5 if dip < 1 else 1)),
                    "max": int(chunk.max() * (3 if dip < 1 else 1)),
                }
            )
        doc["intervals"] = rows
    if doc["generator"]["saturated"]:
        doc["warnings"].append(
            "load generator CPU reached 99% of a core: results may be limited by sockbench"
        )
    return doc


def main() -> None:
    rng = np.random.default_rng(20241124)
    HERE.mkdir(parents=True, exist_ok=True)
    tcp = result(rng, model="threaded", proto="tcp", clients=100, intervals=True)
    tcp["totals"]["errors"] = {"timeout": 3, "reset": 1}
    tcp["validity"] = assess(tcp).to_json()  # docs/validity.md: the verdict and each ±
    udp = result(rng, model="trio", proto="udp", clients=50, rate=20000.0, intervals=True)
    udp["warnings"].append("12 datagrams arrived after their timeout and were counted as lost")
    cells = []
    for proto in ("tcp", "udp"):
        for clients in (10, 100):
            for model in MODELS:
                cell = result(
                    rng,
                    model=model,
                    proto=proto,
                    clients=clients,
                    intervals=clients == 100,
                    resources=not (model == "asyncio" and proto == "udp"),
                )
                cell["cell"] = {
                    "model": model,
                    "proto": proto,
                    "clients": clients,
                    "payload": 64,
                    "repeat": 1,
                }
                cells.append(cell)
    compare = {
        "schema": "sockbench.compare/1",
        "created_at": "2024-11-24T10:30:00+00:00",
        "command": "sockbench compare --models threaded,trio,asyncio --proto tcp,udp "
        "--clients 10,100 --payload 64",
        "status": "completed",
        "plan": {
            "models": list(MODELS),
            "protos": ["tcp", "udp"],
            "clients": [10, 100],
            "payloads": [64],
            "repeat": 1,
            "duration_s": 10.0,
            "warmup_s": 2.0,
        },
        "environment": ENVIRONMENT,
        "cells": cells,
    }
    write(HERE / "result-tcp.json", tcp)
    write(HERE / "result-udp.json", udp)
    write(HERE / "compare-small" / "results.json", compare)


def write(path: Path, doc: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {path} ({path.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
