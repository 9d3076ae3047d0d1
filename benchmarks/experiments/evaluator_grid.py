"""Which StickBench evaluator catches light smoothing, light jitter and slow motion without losing R-precision?

    PYTHONPATH=. python benchmarks/experiments/evaluator_grid.py [--device cuda] [--variants a,b] [--out FILE]

Each variant trains the StickBench text-motion evaluator (`judge.training.train_evaluator`, the
shipped training settings unless the variant changes them) and reports, on the standard suite's test
split: held-out R-precision top-1 over every test clip (the figure the shipped evaluator's manifest
records), and for each pairing of the validity table (`evaluation.validity`) R-precision top-1 and
the matching score of held-out real and of the families the issue names (5-frame smoothing, 1%
hip-fixed jitter, 2x slow), with whether each is caught (95% CIs disjoint, worse than real). On
CUDA the training is not bit-reproducible; the shipped bundle is built on the CPU
(`python -m stickeval.judge.build stickbench`).
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

from stickeval.data import load_suite
from stickeval.evaluation.baselines import below_real
from stickeval.evaluation.validity import PAIRINGS, degenerate_families, pair_test_split
from stickeval.judge.bundle import Evaluator
from stickeval.judge.inputs import n_channels
from stickeval.judge.model import EvaluatorConfig
from stickeval.judge.training import TrainingConfig, train_evaluator
from stickeval.metrics.retrieval import matching_score_ci, r_precision_ci
from stickeval.text import HashEncoder

FAMILIES = ("real", "smoothed_5", "jitter_1", "slow", "smoothed_15", "jitter_5", "fast")
ISSUE_FAMILIES = ("smoothed_5", "jitter_1", "slow")
# name -> (EvaluatorConfig changes, TrainingConfig changes)
VARIANTS = {
    "shipped": ({}, {}),
    "deriv": ({"derivatives": True}, {}),
    "deriv-w128": ({"derivatives": True, "width": 128}, {}),
    "deriv-e80": ({"derivatives": True}, {"epochs": 80}),
    "branch32": ({"derivatives": True, "dynamics_width": 32}, {}),
    "branch64": ({"derivatives": True, "dynamics_width": 64}, {}),
    "branch16": ({"derivatives": True, "dynamics_width": 16}, {}),
    "branch32-e80": ({"derivatives": True, "dynamics_width": 32}, {"epochs": 80}),
    "branch32-w96": ({"derivatives": True, "width": 96, "dynamics_width": 32}, {}),
    "shipped-w128": ({"width": 128}, {}),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--seeds", default="0", help="training seeds, comma-separated")
    parser.add_argument("--epochs", type=int, help="override every variant's epochs (a quick dry run)")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    train, test = load_suite("standard", split="train"), load_suite("standard", split="test")
    pairings = {}
    for pairing in PAIRINGS:
        pairs = pair_test_split(test, pairing)
        families = degenerate_families(pairs, train)
        pairings[pairing] = (pairs, {f: families[f] for f in FAMILIES})
    results = []
    for name in args.variants.split(","):
        for seed in map(int, args.seeds.split(",")):
            arch, opt = VARIANTS[name]
            derivatives = arch.get("derivatives", False)
            config = EvaluatorConfig(in_channels=n_channels(train.motion.shape[-1], derivatives=derivatives), **arch)
            training = replace(TrainingConfig(seed=seed), **opt, **({"epochs": args.epochs} if args.epochs else {}))
            texts = HashEncoder(config.text_dim).encode(train.prompts)
            began = time.perf_counter()
            network, _ = train_evaluator(
                train.motion, train.lengths, texts, train.prompts, config=config, training=training, device=args.device
            )
            seconds = time.perf_counter() - began
            judge = Evaluator(config, network, None, {})
            held_out = r_precision_ci(judge.embed_text(test.prompts), judge.embed_motion(test.motion, test.lengths))[1]
            row = {"variant": name, "seed": seed, "seconds": seconds, "held_out_top1": held_out.to_dict(), "pairings": {}}
            line = [
                f"{name:14s} s{seed} {seconds:4.0f} s  held-out top1 {held_out.mean:.3f} [{held_out.ci95[0]:.3f}, {held_out.ci95[1]:.3f}]"
            ]
            for pairing, (pairs, families) in pairings.items():
                text = judge.embed_text(list(pairs.reference.prompts))
                scores = {}
                for family, clips in families.items():
                    motion = judge.embed_motion(clips, pairs.lengths)
                    scores[family] = {
                        "top1": r_precision_ci(text, motion, n_boot=1000)[1],
                        "matching": matching_score_ci(text, motion, n_boot=1000),
                    }
                real = scores["real"]
                caught = {
                    f: [m for m, higher in (("top1", True), ("matching", False)) if below_real(scores[f][m], real[m], higher)]
                    for f in FAMILIES[1:]
                }
                row["pairings"][pairing] = {
                    "n": len(pairs),
                    "scores": {f: {m: e.to_dict() for m, e in s.items()} for f, s in scores.items()},
                    "caught": caught,
                }
                misses = [f for f in ISSUE_FAMILIES if not caught[f]]
                line.append(
                    f"| {pairing} real {real['top1'].mean:.3f} mm {real['matching'].mean:.3f}; "
                    + " ".join(
                        f"{f} {scores[f]['top1'].mean:.3f}/{scores[f]['matching'].mean:.3f}{'' if caught[f] else '!'}" for f in FAMILIES[1:]
                    )
                    + f"; issue families missed: {misses or 'none'}"
                )
            results.append(row)
            print("  ".join(line), flush=True)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
