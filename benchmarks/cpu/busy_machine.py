"""`stickeval run nano` idle and beside CPU-bound competitors on the same cores: does the run survive a busy machine?

Each round runs `stickeval run nano` (the quick suite with prompt noise, offline, a fresh run directory
so every rollout is generated) twice back to back: once with nothing else started, once beside
`--competitors` processes that spin on the same CPUs (`while True: pass`, the run's CPU affinity).
The classifier cache is warmed first, so each timed run does the same work. Prints one line per run
(wall seconds, sequences/s, torch threads recorded in results.json, the 1-minute load average before it)
and the median busy / idle ratio; the goal is a ratio under 1.25. A run still going after `--timeout`
is stopped and counted as that many seconds (a lower bound). Run it from a checkout: `-m stickeval`
imports the stickeval of the working directory.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/cpu/busy_machine.py --rounds 2
    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/cpu/busy_machine.py --env OMP_NUM_THREADS=1 -- --threads 2
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SPIN = "while True: pass"


def _run_nano(root: Path, name: str, env: dict[str, str], extra: list[str], timeout: float) -> dict:
    """One `stickeval run nano -o root/name`: wall seconds and what results.json says about the run
    (the seconds only, as a lower bound, when it is stopped at `timeout`)."""
    out = root / name
    load = os.getloadavg()[0]
    started = time.perf_counter()
    command = [sys.executable, "-m", "stickeval", "run", "nano", "-o", str(out), "--json", *extra]
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"run": name, "seconds": timeout, "stopped_at_timeout": True, "load_before": load}
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{name}: stickeval run nano failed (exit {done.returncode}):\n{done.stderr[-2000:]}")
    results = json.loads((out / "results.json").read_text())
    return {
        "run": name,
        "seconds": seconds,
        "sequences_per_second": results["timing"]["sequences_per_second"],
        "threads": results["config"].get("threads"),
        "load_before": load,
    }


def _competitors(n: int) -> list[subprocess.Popen]:
    """`n` processes spinning on this process's CPUs."""
    return [subprocess.Popen([sys.executable, "-c", SPIN]) for _ in range(n)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2, help="idle + busy pairs, back to back")
    parser.add_argument("--competitors", type=int, default=1, help="spinning processes beside the busy run")
    parser.add_argument("--env", action="append", default=[], metavar="KEY=VALUE", help="extra environment for the runs")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds after which a run is stopped (reported as that)")
    parser.add_argument("--keep", type=Path, help="copy each run's results.json here, as <run>.json")
    parser.add_argument("extra", nargs="*", help="more `stickeval run nano` options (after --)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="busy-machine-") as tmp:
        root = Path(tmp)
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "STICKEVAL_CACHE": str(root / "cache")}
        env.update(kv.split("=", 1) for kv in args.env)
        _run_nano(root, "warm-up", env, [*args.extra, "--limit", "8", "--no-noise"], args.timeout)  # fits the classifier, once
        rows = []
        for i in range(args.rounds):
            rows.append(_run_nano(root, f"idle-{i}", env, args.extra, args.timeout))
            print(json.dumps(rows[-1]), flush=True)
            spinning = _competitors(args.competitors)
            try:
                time.sleep(1.0)  # let the competitors reach full speed
                rows.append(_run_nano(root, f"busy-{i}", env, args.extra, args.timeout))
            finally:
                for p in spinning:
                    p.kill()
                    p.wait()
            print(json.dumps(rows[-1]), flush=True)
        if args.keep:
            args.keep.mkdir(parents=True, exist_ok=True)
            for found in root.glob("*/results.json"):
                shutil.copyfile(found, args.keep / f"{found.parent.name}.json")
    idle = [r["seconds"] for r in rows if r["run"].startswith("idle")]
    busy = [r["seconds"] for r in rows if r["run"].startswith("busy")]
    ratio = statistics.median(busy) / statistics.median(idle)
    print(
        f"median idle {statistics.median(idle):.1f} s, beside {args.competitors} spinning processes "
        f"{statistics.median(busy):.1f} s: {ratio:.2f}x (goal < 1.25)"
    )


if __name__ == "__main__":
    main()
