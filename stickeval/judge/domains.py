"""One evaluator per domain: StickBench's is shipped in the package, the real track's is built on first use.

- "stickbench" (suites quick and standard): trained on StickBench standard's train split, held-out
  figures on its test split; the bundle is in `weights/stickbench/`, rebuilt with
  `python -m stickeval.judge.build stickbench` (seeded: the same bytes on one machine).
- "real" (suite real): trained on the real track's train split (split by source file, so no take is
  on both sides) from the user's local copy, then cached under `<cache_dir>/evaluator/real-<key>/`,
  key = sha256 of the data file + evaluator version + training settings. Never shipped: the data's
  licence is non-commercial, and weights trained on it are derived material.
"""

from __future__ import annotations

import logging
import os
import platform
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from stickeval._io import sha256_file, stable_key
from stickeval.data import load_suite, realmotion_path
from stickeval.data.suite import Suite
from stickeval.errors import EvaluatorError
from stickeval.judge.bundle import EVALUATOR_VERSION, Evaluator, load_evaluator_dir, save_evaluator
from stickeval.judge.inputs import n_channels
from stickeval.judge.model import EvaluatorConfig
from stickeval.judge.training import TrainingConfig, train_classifier, train_evaluator
from stickeval.metrics.corruptions import reverse_clips
from stickeval.metrics.retrieval import matching_score_ci, r_precision_ci
from stickeval.metrics.stats import bootstrap_ci

log = logging.getLogger(__name__)

SHIPPED_DIR = Path(__file__).with_name("weights")
DOMAIN_SUITES = {"stickbench": "standard", "real": "real"}  # domain -> the suite it trains and tests on
SUITE_DOMAINS = {"quick": "stickbench", "standard": "stickbench", "real": "real"}
# Actions whose time reversal is not the same action, known from how the data was captured: the real
# track's locomotion is seen from the side and always travels towards +x (README of ../realmotion), so
# reversed it travels backwards. StickBench draws every action in both directions: none is listed, and
# its per-action figures say which reversals the classifier notices.
TIME_ASYMMETRIC = {"stickbench": (), "real": ("walk", "run", "walk-turn-left", "walk-turn-right")}
# Every domain's evaluator reads the pose's velocity and acceleration (`inputs.motion_tracks`), which
# show a 1% tremor or a 5-frame moving average plainly, in a convolution stack of their own
# (`EvaluatorConfig.dynamics_width`). Read by the one stack that reads the pose, they cost StickBench's
# held-out R-precision top-1 (0.788 -> 0.746): its synthetic clips carry high-frequency motion of their
# own that varies between clips of one prompt. Apart, it holds (docs/metrics.md).
DYNAMICS_WIDTH = 32


def domain_of(suite: str) -> str:
    """The evaluator domain of a suite name ("quick", "standard", "real").

    Raises:
        EvaluatorError: no learned evaluator exists for the suite (a user's own `.pt` data).
    """
    if suite not in SUITE_DOMAINS:
        raise EvaluatorError(
            f"no learned evaluator for suite '{suite}': evaluators exist for {', '.join(SUITE_DOMAINS)}. "
            "Score with --suite quick|standard|real to get R-precision and the evaluator's FID."
        )
    return SUITE_DOMAINS[suite]


def build_evaluator(domain: str, training: TrainingConfig = TrainingConfig()) -> Evaluator:
    """Train a domain's evaluator and classifier on its train split; measure them on its test split.

    Raises:
        EvaluatorError: unknown domain. DatasetError: the real-motion file is absent (domain "real").
    """
    if domain not in DOMAIN_SUITES:
        raise EvaluatorError(f"unknown evaluator domain '{domain}'; use one of {', '.join(DOMAIN_SUITES)}.")
    train = load_suite(DOMAIN_SUITES[domain], split="train")
    test = load_suite(DOMAIN_SUITES[domain], split="test")
    from stickeval.text import HashEncoder

    config = EvaluatorConfig(
        in_channels=n_channels(train.motion.shape[-1], derivatives=True),
        derivatives=True,
        dynamics_width=DYNAMICS_WIDTH,
        classes=tuple(sorted(set(train.labels))),
    )
    texts = HashEncoder(config.text_dim).encode(train.prompts)
    network, net_cost = train_evaluator(train.motion, train.lengths, texts, train.prompts, config=config, training=training)
    classifier, clf_cost = train_classifier(train.motion, train.lengths, train.labels, config=config, training=training)
    manifest = {
        "domain": domain,
        "training": asdict(training),
        "data": {
            split: {"suite": s.name, "version": s.version, "hash": s.hash, "n": len(s)} for split, s in (("train", train), ("test", test))
        },
        "cost": {
            "evaluator_seconds": round(net_cost["seconds"], 1),
            "classifier_seconds": round(clf_cost["seconds"], 1),
            "torch_threads": 1,
            "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        },
    }
    evaluator = Evaluator(config, network, classifier, manifest)
    manifest["held_out"] = held_out_figures(evaluator, test, TIME_ASYMMETRIC[domain])
    return evaluator


def held_out_figures(evaluator: Evaluator, test: Suite, asymmetric: tuple[str, ...]) -> dict[str, Any]:
    """The evaluator's own accuracy on held-out clips: the reference row every run reports beside its figures.

    Returns:
        {"n", "r_precision": {"top1".."top3": Estimate dict}, "matching_score", "classifier_top1",
        "classifier_top1_by_action": {action: {"real", "reversed", "n"}}, "asymmetric_actions", and when
        any: "classifier_top1_asymmetric", "classifier_top1_asymmetric_reversed" (Estimate dicts).
    """
    text = evaluator.embed_text(test.prompts)
    motion = evaluator.embed_motion(test.motion, test.lengths)
    labels = np.asarray(test.labels)
    hit = (np.asarray(evaluator.predict(test.motion, test.lengths)) == labels).astype(float)
    backwards = reverse_clips(test.motion, test.lengths)
    hit_rev = (np.asarray(evaluator.predict(backwards, test.lengths)) == labels).astype(float)
    sel = np.isin(labels, asymmetric)
    out: dict[str, Any] = {
        "n": len(test),
        "r_precision": {f"top{k}": e.to_dict() for k, e in r_precision_ci(text, motion).items()},
        "matching_score": matching_score_ci(text, motion).to_dict(),
        "classifier_top1": bootstrap_ci(hit).to_dict(),
        "classifier_top1_by_action": {
            a: {"real": float(hit[labels == a].mean()), "reversed": float(hit_rev[labels == a].mean()), "n": int((labels == a).sum())}
            for a in sorted(set(test.labels))
        },
        "asymmetric_actions": [a for a in asymmetric if a in set(test.labels)],
    }
    if sel.any():
        out["classifier_top1_asymmetric"] = bootstrap_ci(hit[sel]).to_dict()
        out["classifier_top1_asymmetric_reversed"] = bootstrap_ci(hit_rev[sel]).to_dict()
    return out


def real_cache_key(data_path: Path, training: TrainingConfig = TrainingConfig()) -> str:
    """The cache key of the real track's evaluator: data file sha256, evaluator version, training settings."""
    return stable_key({"data": sha256_file(data_path), "version": EVALUATOR_VERSION, "training": asdict(training)})


def load_evaluator(suite: str, *, cache_dir: str | Path) -> Evaluator:
    """The evaluator for a suite: the shipped StickBench one, or the real track's, cached or built now.

    Building the real track's takes about seven minutes of one CPU core (docs/metrics.md); it happens
    once per data file and is then read from `cache_dir`. An unreadable cached bundle is rebuilt.

    Args:
        suite: "quick", "standard" or "real".
        cache_dir: the directory of cached judges (the run pipeline's cache directory).

    Raises:
        EvaluatorError: no evaluator for the suite, or the shipped weights are missing or corrupt.
        DatasetError: suite "real" and the real-motion file is absent.
    """
    domain = domain_of(suite)
    if domain == "stickbench":
        return load_evaluator_dir(SHIPPED_DIR / domain)
    data = realmotion_path()
    if not data.is_file():
        load_suite("real")  # raises the DatasetError that says where the file goes
    directory = Path(cache_dir) / "evaluator" / f"real-{real_cache_key(data)}"
    if (directory / "manifest.json").is_file():
        try:
            return load_evaluator_dir(directory)
        except EvaluatorError as e:
            log.warning("rebuilding the real track's evaluator: %s", e)
    start = time.perf_counter()
    log.info("training the real track's evaluator on %s (once; cached in %s)", data, directory)
    evaluator = build_evaluator("real")
    log.info("real track's evaluator built in %.0f s", time.perf_counter() - start)
    return load_evaluator_dir(save_evaluator(evaluator, directory))
