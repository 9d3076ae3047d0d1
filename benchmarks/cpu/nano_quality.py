"""Is the built-in nano really trained? nano and nano-sft against a random-weight model and trivial baselines.

The bar: on the StickBench standard suite, nano and nano-sft each beat a random-weight model of
the same size and the trivial baselines (first frame held still, the train split's mean pose, white
noise with the train frames' mean and sd) on Fréchet distance and action accuracy with
non-overlapping 95% CIs. The models go through `stickeval.evaluate` (clean prompts, no noise); each
baseline's clips go through the same `score_run` as a model's rollouts, so every row is scored by the
same functions against the same references. Prints a Markdown table (for docs/benchmarks.md) and a
verdict per model; writes each run under --out. `--models` scores other models instead (zoo names or
training run directories: how candidate recipes were compared, benchmarks/experiments/nano_sweep.sh).

    OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/cpu/nano_quality.py [--suite standard] [--out runs/nano-quality]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import numpy as np
import torch

from stickeval import RunSettings, evaluate, zoo
from stickeval.data import load_suite
from stickeval.evaluation.run import build_suite
from stickeval.evaluation.scoring import score_run
from stickeval.zoo.model import StickFigureTransformer, count_parameters
from stickeval.zoo.provenance import Provenance

METRICS = ("frechet_distance", "action_accuracy", "temporal_consistency")
MODELS = ("nano", "nano-sft")
RANDOM_SEED = 0


def random_like(name: str) -> zoo.LoadedModel:
    """A random-weight model of the variant's architecture (causal, as the trained one), seeded."""
    loaded = zoo.load(name)
    torch.manual_seed(RANDOM_SEED)
    model = StickFigureTransformer(loaded.config).eval()
    where = Path(f"random-{name}")
    return zoo.LoadedModel(
        model,
        loaded.config,
        Provenance(f"random-{name}", "local", None, None, None, where, where),
        loaded.encoder,
        loaded.schema,
        count_parameters(loaded.config),
    )


def baselines(suite_name: str, seed: int = 0) -> dict[str, np.ndarray]:
    """Trivial "models" [n, T, D] for the suite's test prompts (the same families as stickeval.evaluation.validity)."""
    test, train = load_suite(suite_name), load_suite(suite_name, split="train")
    rng = np.random.default_rng(seed)
    valid = np.arange(train.motion.shape[1])[None, :] < train.lengths[:, None]
    frames = train.motion[valid].astype(np.float64)  # every real train frame [F, D]
    shape = test.motion.shape
    return {
        "first frame held": np.repeat(test.motion[:, :1], shape[1], axis=1).astype(np.float32),
        "mean pose": np.broadcast_to(frames.mean(axis=0), shape).astype(np.float32),
        "white noise": (frames.mean(axis=0) + frames.std(axis=0) * rng.standard_normal(shape)).astype(np.float32),
    }


def score_clips(motion: np.ndarray, template: Path, out: Path) -> dict:
    """Score fixed clips as if a model had generated them: a model run's run.json with its motion replaced."""
    run = json.loads((template / "run.json").read_text())
    known = {f.name for f in dataclasses.fields(RunSettings)}
    settings = RunSettings(**{k: v for k, v in run["settings"].items() if k in known})
    suite, _ = build_suite(settings)
    n, t, d = motion.shape
    arrays = {
        "motion": motion,
        "teacher_forced": np.zeros((n, t - 1, d), np.float32),
        "action_logits": np.zeros((n, t, 64), np.float16),
        "seconds": np.zeros(n),
    }
    out.mkdir(parents=True, exist_ok=True)
    return score_run(out, run, suite, arrays)


def cell(entry: dict) -> str:
    lo, hi = entry["ci95"]
    return f"{entry['mean']:.4g} [{lo:.4g}, {hi:.4g}]"


def beats(model: dict, other: dict, metric: str) -> bool:
    """Non-overlapping 95% CIs in the metric's better direction."""
    a, b = model["metrics"][metric], other["metrics"][metric]
    return a["ci95"][0] > b["ci95"][1] if a["higher_is_better"] else a["ci95"][1] < b["ci95"][0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", default="standard")
    parser.add_argument("--out", type=Path, default=Path("runs/nano-quality"))
    parser.add_argument("--models", nargs="+", default=list(MODELS), help="zoo names or training run directories")
    parser.add_argument("--no-baselines", action="store_true", help="score only --models (the baselines do not depend on them)")
    args = parser.parse_args()
    settings = RunSettings(suite=args.suite, noise=False, dtype="float32")  # fp32 on a GPU too: rows comparable with CPU ones
    rows: dict[str, dict] = {}
    if not args.no_baselines:
        rows["random nano"] = evaluate(random_like("nano"), settings, args.out / "random-nano")
    models = args.models
    for name in models:
        rows[name] = evaluate(zoo.load(name), settings, args.out / Path(name).name)
    if not args.no_baselines:
        for label, motion in baselines(args.suite).items():
            rows[label] = score_clips(motion, args.out / "random-nano", args.out / label.replace(" ", "-"))
    suite = rows[models[0]]["suite"]
    print(f"{suite['name']} ({suite['version']}, n={suite['n']}, suite hash {suite['hash'][:16]})\n")
    print("| row | " + " | ".join(METRICS) + " |")
    print("|---|" + "---|" * len(METRICS))
    reference = rows[models[0]]["reference"]
    print("| reference clips | " + " | ".join(cell(reference[m]) if m in reference else "—" for m in METRICS) + " |")
    for label, results in rows.items():
        print(f"| {label} | " + " | ".join(cell(results["metrics"][m]) for m in METRICS) + " |")
    print()
    others = [label for label in rows if label not in models]
    for name in models if others else []:
        for metric in METRICS[:2]:
            lost = [o for o in others if not beats(rows[name], rows[o], metric)]
            print(
                f"{name} {metric}: "
                + ("beats every other row (non-overlapping 95% CIs)" if not lost else f"does NOT beat {', '.join(lost)}")
            )
    if set(MODELS) <= set(models):
        sft_better = [m for m in METRICS[:2] if beats(rows["nano-sft"], rows["nano"], m)]
        print(f"nano-sft vs nano: better with non-overlapping CIs on {', '.join(sft_better) or 'no headline metric'}")
    timing = {name: rows[name]["timing"]["sequences_per_second"] for name in rows if name in models or name == "random nano"}
    print("generation sequences/s: " + ", ".join(f"{k} {v:.1f}" for k, v in timing.items()))


if __name__ == "__main__":
    main()
