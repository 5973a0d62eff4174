"""Run the benchmarks: ``uv run python bench/run.py [names...]`` (``just bench`` calls it).

Each benchmark measures the platform against a baseline run in the same process on the
same machine and reports the ratio (see bench/README.md). Results go to
``bench/results/<name>.json``; ``bench/results/summary.png`` plots the latest ratio of
every benchmark that has a result file. Benchmarks are not tests: nothing here asserts
on a timing.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import platform
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
#: name -> module in bench/ (each module has ``DESCRIPTION`` and ``run() -> dict``).
BENCHMARKS = {
    "outbox_throughput": "outbox_throughput",
    "http_hello": "http_hello",
    "auth": "auth",
    "files": "files",
    "profiles": "profiles",
    "payments_ledger": "payments_ledger",
    "payments_callbacks": "payments_callbacks",
    "chat": "chat",
}


def machine_info() -> dict[str, object]:
    info: dict[str, object] = {
        "cpu_count": os.cpu_count(),
        "python": sys.version.split()[0],
        "python_implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "hostname": platform.node(),
    }
    with contextlib.suppress(OSError):
        info["load_average_at_start"] = [round(x, 2) for x in os.getloadavg()]
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu_model"] = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return info


def run_one(name: str) -> dict[str, object]:
    module = importlib.import_module(BENCHMARKS[name])
    started = time.perf_counter()
    timestamp = datetime.now(UTC).isoformat(timespec="seconds")
    machine = machine_info()
    print(f"== {name}: {module.DESCRIPTION}", flush=True)
    outcome = module.run()
    with contextlib.suppress(OSError):
        machine["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    result = {
        "name": name,
        "timestamp": timestamp,
        "description": module.DESCRIPTION,
        "machine": machine,
        **outcome,
        "wall_seconds": round(time.perf_counter() - started, 2),
    }
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(f"== {name}: ratio {result['ratio']:.3f} ({result['ratio_definition']}); wrote {path}", flush=True)
    return result


def plot_summary() -> Path | None:
    results = []
    for path in sorted(RESULTS.glob("*.json")):
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if isinstance(data.get("ratio"), int | float):
            results.append(data)
    if not results:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [r["name"] for r in results]
    ratios = [float(r["ratio"]) for r in results]
    fig, ax = plt.subplots(figsize=(max(4.0, 1.8 * len(results) + 2), 4.5))
    bars = ax.bar(names, ratios, color=["tab:green" if r >= 1 else "tab:orange" for r in ratios])
    ax.axhline(1.0, color="black", linestyle="--", linewidth=1, label="baseline (1.0)")
    for bar, result in zip(bars, results, strict=True):
        ax.annotate(
            f"{result['ratio']:.3f}\n{result['timestamp'][:10]}",
            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
            ha="center",
            va="bottom",
            fontsize=8,
        )
    ax.set_ylabel("ratio to same-machine baseline (higher is better)")
    ax.set_ylim(0, max(1.2, max(ratios) * 1.25))
    cpus = results[-1].get("machine", {}).get("cpu_count")
    ax.set_title(f"Nexgate benchmarks ({cpus} CPUs)")
    ax.legend(loc="upper right")
    fig.tight_layout()
    out = RESULTS / "summary.png"
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "names", nargs="*", help=f"benchmarks to run (default: all of {', '.join(BENCHMARKS)})"
    )
    args = parser.parse_args(argv)
    names = args.names or list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmarks {unknown}; known: {list(BENCHMARKS)}")
    RESULTS.mkdir(exist_ok=True)
    sys.path.insert(0, str(HERE))
    failed = []
    for name in names:
        try:
            run_one(name)
        except Exception:
            traceback.print_exc()
            print(f"== {name}: FAILED", file=sys.stderr, flush=True)
            failed.append(name)
    plot = plot_summary()
    if plot is not None:
        print(f"== summary plot: {plot}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
