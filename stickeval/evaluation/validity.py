"""The validity table: do the metrics rank held-out real motion above degenerate "models" built from it?

A score earns trust only if better motion scores better (issue 12). The test split of a suite is cut
in two by a hash of each clip's source (source file on the real track, sample id on StickBench), so
no take is on both sides:
- half A is the reference: its prompts are the "prompts", its clips the references;
- half B answers them: for each A clip, a B clip with the same prompt (else the same action) is the
  "held-out real" model, the ideal a generator can reach without having seen A.
Each pair is cut to the shorter clip's length. Every family below is built from the held-out real
clips (or, for the copy, from A itself) and scored against A through the same functions:

  copy          A's own clips: a memorised test set (must be flagged, not ranked below real)
  first_frame   the held-out clip's first frame held still
  mean_pose     the train split's mean pose, every frame of every clip
  white_noise   every coordinate drawn from a normal with the train frames' mean and sd
  shuffled      the held-out clip's frames in random order
  reversed      the held-out clip played backwards
  jitter        the held-out clip plus N(0, (0.05 torso lengths)^2) per frame and coordinate
  smoothed      a 15-frame moving average of the held-out clip
  wrong_action  a held-out clip of another action

Per family the table says which headline metrics rank it below held-out real with non-overlapping 95%
CIs, and which rank it *above* (closer to the references than held-out real motion can be: the
memorisation flag, `closer_than_real`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from stickeval.data import load_suite
from stickeval.data.suite import Suite
from stickeval.errors import EvaluatorError
from stickeval.evaluation.baselines import below_real, closer_than_real, cut_to_lengths, is_memorised, memorisation_notice, trivial_families

FAMILIES = ("real", "copy", "first_frame", "mean_pose", "white_noise", "shuffled", "reversed", "jitter", "smoothed", "wrong_action")
SUITES = ("quick", "standard", "real")
JITTER_SD = 0.05  # torso lengths (the real track's unit; StickBench's torso is ~1 too)
SMOOTH_FRAMES = 15  # the window issue 12 found pose MSE rewarding
MIN_PAIRS = 32  # R-precision's pool


# The table's columns, in order: names of `stickeval.metrics.METRICS` (whose directions they take), and
# action_accuracy_temporal: `action_accuracy` judged by the learned evaluator's time-aware classifier.
COLUMNS = (
    "r_precision_top1",
    "r_precision_top3",
    "matching_score",
    "evaluator_fid",
    "evaluator_diversity",
    "action_accuracy_temporal",
    "kinematic_fd",
    "frechet_distance",
    "pose_mse",
    "root_relative_pose_mse",
    "temporal_consistency",
    "foot_skating",
)


def column_directions() -> dict[str, bool | None]:
    """Each column's direction: True higher is better, False lower, None closest to the real row."""
    from stickeval.metrics import METRICS

    return {c: METRICS["action_accuracy" if c == "action_accuracy_temporal" else c].higher_is_better for c in COLUMNS}


def _hash_unit(key: str) -> float:
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "little") / 2**64


def _source(sample_id: str) -> str:
    return sample_id.rsplit("#", 1)[0]  # real track: "<source file>#<start frame>"; StickBench: the id


@dataclass(frozen=True)
class Pairs:
    """Reference half A, its held-out real answers from half B, and the wrong-action clips, all cut to `lengths`."""

    reference: Suite
    held_out: np.ndarray  # float32 [n, T, D]
    wrong_action: np.ndarray  # float32 [n, T, D]
    lengths: np.ndarray  # int64 [n]


def pair_test_split(test: Suite, *, seed: int = 0) -> Pairs:
    """Cut a test split into reference half A and held-out half B, and pair each A clip with B clips.

    Raises:
        EvaluatorError: fewer than `MIN_PAIRS` A clips found a held-out partner (use a larger suite).
    """
    rng = np.random.default_rng(seed)
    half_b = np.array([_hash_unit("validate/" + _source(i)) < 0.5 for i in test.ids])
    labels, prompts = np.asarray(test.labels), np.asarray(test.prompts)
    b_idx = np.flatnonzero(half_b)
    chosen, partner, wrong = [], [], []
    for i in np.flatnonzero(~half_b):
        same = b_idx[prompts[b_idx] == prompts[i]]
        same = same if same.size else b_idx[labels[b_idx] == labels[i]]
        other = b_idx[labels[b_idx] != labels[i]]
        if same.size and other.size:
            chosen.append(i)
            partner.append(int(rng.choice(same)))
            wrong.append(int(rng.choice(other)))
    if len(chosen) < MIN_PAIRS:
        raise EvaluatorError(
            f"only {len(chosen)} reference clips of suite '{test.name}' have a held-out partner of the same "
            f"action; the table needs {MIN_PAIRS}. Use --suite standard or --suite real."
        )
    from stickeval.data.suite import select

    chosen_a, partner_a, wrong_a = (np.array(x) for x in (chosen, partner, wrong))
    lengths = np.minimum.reduce([test.lengths[chosen_a], test.lengths[partner_a], test.lengths[wrong_a]])
    reference = select(test, chosen_a, name=f"{test.name}-validity-reference")
    return Pairs(reference, cut_to_lengths(test.motion[partner_a], lengths), cut_to_lengths(test.motion[wrong_a], lengths), lengths)


def degenerate_families(pairs: Pairs, train: Suite, *, seed: int = 0) -> dict[str, np.ndarray]:
    """Every family of clips [n, T, D] (module docstring), each to be scored with `pairs.lengths`."""
    from stickeval.metrics.corruptions import moving_average, reverse_clips, shuffle_clips

    rng = np.random.default_rng(seed)
    real, lengths = pairs.held_out.astype(np.float64), pairs.lengths
    families = {
        "real": real,
        "copy": np.asarray(pairs.reference.motion, dtype=np.float64),
        **trivial_families(real, train, rng),
        "shuffled": shuffle_clips(real, lengths, rng),
        "reversed": reverse_clips(real, lengths),
        "jitter": real + JITTER_SD * rng.standard_normal(real.shape),
        "smoothed": moving_average(real, SMOOTH_FRAMES),
        "wrong_action": pairs.wrong_action.astype(np.float64),
    }
    return {k: cut_to_lengths(v, lengths) for k, v in families.items()}


def score_family(
    motion: np.ndarray, pairs: Pairs, evaluator: Any, reference: dict[str, np.ndarray], *, n_boot: int = 1000, seed: int = 0
) -> dict[str, Any]:
    """Every column of the table (`COLUMNS`) for one family's clips against the reference half: {name: Estimate}.

    Args:
        motion: float [n, T, D] the family's clips; pairs: the reference and lengths.
        evaluator: the suite's `stickeval.judge.Evaluator`.
        reference: what is computed once for the reference half: "text" and "motion" embeddings,
            "features" (motion features), "kinematics" (kinematic features), "clips" (cut clips).
    """
    from stickeval.metrics import kinematics, physical, pose, temporal
    from stickeval.metrics.distribution import frechet_distance_ci
    from stickeval.metrics.features import motion_features
    from stickeval.metrics.retrieval import embedding_diversity_ci, embedding_fid_ci, matching_score_ci, r_precision_ci
    from stickeval.metrics.stats import bootstrap_ci

    lengths, ref = pairs.lengths, reference["clips"]
    emb = evaluator.embed_motion(motion, lengths)
    r_prec = r_precision_ci(reference["text"], emb, n_boot=n_boot, seed=seed)
    labels = np.asarray(pairs.reference.labels)
    correct = (np.asarray(evaluator.predict(motion, lengths)) == labels).astype(float)
    paired = {
        "pose_mse": pose.pose_mse,
        "root_relative_pose_mse": pose.root_relative_pose_mse,
        "temporal_consistency": temporal.temporal_consistency,
        "foot_skating": physical.foot_skating,
    }
    out = {
        "r_precision_top1": r_prec[1],
        "r_precision_top3": r_prec[3],
        "matching_score": matching_score_ci(reference["text"], emb, n_boot=n_boot, seed=seed),
        "evaluator_fid": embedding_fid_ci(emb, reference["motion"], n_boot=n_boot, seed=seed),
        "evaluator_diversity": embedding_diversity_ci(emb, reference["motion"], n_boot=n_boot, seed=seed),
        "action_accuracy_temporal": bootstrap_ci(correct, n_boot=n_boot, seed=seed),
        "kinematic_fd": kinematics.kinematic_fd_ci(
            kinematics.kinematic_features(motion, lengths), reference["kinematics"], n_boot=n_boot, seed=seed
        ),
        "frechet_distance": frechet_distance_ci(motion_features(motion, lengths), reference["features"], n_boot=n_boot, seed=seed),
    }
    for name, fn in paired.items():
        out[name] = bootstrap_ci(fn(motion, ref, lengths), n_boot=n_boot, seed=seed)
    return out


def validate_metrics(suite: str = "standard", *, cache_dir: str | Path, n_boot: int = 1000, seed: int = 0) -> dict[str, Any]:
    """Build the validity table of a suite: every family scored by every metric, ranked against held-out real.

    Args:
        suite: "standard" (StickBench, 1,178 test clips), "quick" (too small for pools of 32 on most
            actions) or "real" (the real track, needs ../shared/realmotion).
        cache_dir: where the real track's evaluator is cached (built on first use).
        n_boot: bootstrap resamples per figure; seed: seeds the pairing, the families and the bootstrap.

    Returns:
        JSON-ready {"suite", "n", "evaluator" (its manifest's held-out figures), "metrics" (name ->
        higher_is_better), "rows" (family -> metric -> Estimate dict), "ranks" (metric -> families
        best first), "below_real" (family -> metrics), "closer_than_real" (family -> metrics),
        "flags" (family -> notices)}.

    Raises:
        UnknownSuiteError / DatasetError: as `data.load_suite`. EvaluatorError: as
        `evaluator.load_evaluator`, or too few pairs.
    """
    from stickeval.judge import load_evaluator
    from stickeval.metrics.features import motion_features
    from stickeval.metrics.kinematics import kinematic_features

    test, train = load_suite(suite, split="test"), load_suite(suite, split="train")
    evaluator = load_evaluator(suite, cache_dir=cache_dir)
    pairs = pair_test_split(test, seed=seed)
    families = degenerate_families(pairs, train, seed=seed)
    clips = families["copy"]
    reference = {
        "clips": clips,
        "text": evaluator.embed_text(pairs.reference.prompts),
        "motion": evaluator.embed_motion(clips, pairs.lengths),
        "features": motion_features(clips, pairs.lengths),
        "kinematics": kinematic_features(clips, pairs.lengths),
    }
    rows = {name: score_family(m, pairs, evaluator, reference, n_boot=n_boot, seed=seed) for name, m in families.items()}
    direction = column_directions()
    real = rows["real"]
    below = {f: [m for m, hib in direction.items() if below_real(rows[f][m], real[m], hib)] for f in FAMILIES if f != "real"}
    closer = {f: [m for m, hib in direction.items() if closer_than_real(rows[f][m], real[m], hib)] for f in FAMILIES if f != "real"}
    flags = {f: [memorisation_notice(f)] for f in closer if is_memorised(rows[f], real)}

    def rank_key(family: str, metric: str) -> float:
        value, hib = rows[family][metric].mean, direction[metric]
        return abs(value - real[metric].mean) if hib is None else (-value if hib else value)

    return {
        "suite": suite,
        "n": len(pairs.lengths),
        "evaluator": {"domain": evaluator.manifest.get("domain"), "held_out": evaluator.manifest.get("held_out")},
        "metrics": direction,
        "rows": {f: {m: e.to_dict() for m, e in r.items()} for f, r in rows.items()},
        "ranks": {m: sorted(FAMILIES, key=lambda f, m=m: rank_key(f, m)) for m in direction},
        "below_real": below,
        "closer_than_real": closer,
        "flags": flags,
    }


def markdown_table(table: dict[str, Any]) -> str:
    """The validity table as Markdown (docs/metrics.md): metrics as rows, families as columns.

    A cell is the value and its 95% CI; **bold** marks a family ranked below held-out real with
    non-overlapping CIs, an `!` one closer to the references than held-out real clips can be.
    """
    families = list(table["rows"])
    arrows = {True: "↑", False: "↓", None: "≈ real"}
    lines = ["| metric | " + " | ".join(families) + " |", "|---|" + "---:|" * len(families)]
    for metric, hib in table["metrics"].items():
        cells = []
        for family in families:
            e = table["rows"][family][metric]
            text = "—" if e["mean"] is None else f"{e['mean']:.3g} [{e['ci95'][0]:.3g}, {e['ci95'][1]:.3g}]"
            if metric in table["below_real"].get(family, []):
                text = f"**{text}**"
            elif metric in table["closer_than_real"].get(family, []):
                text += " !"
            cells.append(text)
        lines.append(f"| {metric} {arrows[hib]} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
