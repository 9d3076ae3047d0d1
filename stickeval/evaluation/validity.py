"""The validity table: do the metrics rank held-out real motion above degenerate "models" built from it?

A score earns trust only if better motion scores better. The test split of a suite is cut in two by
a hash of each clip's source (source file on the real track, sample id on StickBench), so no take is
on both sides:
- half A is the reference: its prompts are the "prompts", its clips the references;
- half B answers them: for each A clip, a B clip is the "held-out real" model, the ideal a generator
  can reach without having seen A. Two pairings (`PAIRINGS`): a B clip of the same action, and a B
  clip of the same prompt (only the A clips that have one; a suite with fewer than `MIN_PAIRS` such
  clips is left out of that pairing, with a note).
Each pair is cut to the shortest of the clips involved. Every family of `FAMILIES` is built from the
held-out real clips as scored (or from A itself, the train split, or another action's clips) and
scored against A through the run's own code (`scoring_setup.ScoringSetup`, `scoring.score_metric`): every
metric of `stickeval.metrics.METRICS` that a set of clips can be given. The three that need a model's
own outputs say so in their cells (`NOT_APPLICABLE`).

Per family the table says which metrics rank it below held-out real with non-overlapping 95% CIs
(for a metric whose best value is the real row's, on either side of it), which rank it *above*
(closer to the references than held-out real motion can be), and which memorisation flags it raises
(`baselines.memorisation_flags`). The coverage verdict lists, per family, the headline metrics
(`stickeval.metrics.HEADLINE`) that catch it; a family caught by none and not flagged is uncaught.
Families built from a corruption the learned evaluator was trained against (`TRAINING_NEGATIVE`)
are marked, so that what the evaluator's own metrics say about them is read as by design.
The table as Markdown (docs/metrics.md): `validity_markdown`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from stickeval.data import load_suite
from stickeval.data.suite import Suite, select
from stickeval.errors import EvaluatorError
from stickeval.evaluation.baselines import (
    below_real,
    closer_than_real,
    cut_to_lengths,
    memorisation_flags,
    nearest_train_prompts,
    trivial_families,
)
from stickeval.evaluation.scoring import score_metric
from stickeval.evaluation.scoring_setup import ScoringSetup
from stickeval.metrics import HEADLINE, METRICS
from stickeval.metrics.stats import Estimate

MIN_PAIRS = 32  # R-precision's pool
SMOOTH_WINDOWS = (5, 15, 31)  # frames of the moving averages
JITTER_PERCENT = (1, 5, 10)  # each non-root joint's noise, % of body scale
SHAKE_SD = 0.05  # body scales: the whole figure's rigid shake per frame and coordinate
SPEEDS = {"slow": 0.5, "fast": 2.0}

FAMILIES: dict[str, str] = {
    "real": "a held-out real clip (the ideal a generator can reach)",
    "copy": "the reference clip itself (a memorised test set: flagged, not ranked)",
    "retrieval": "the train clip whose prompt is nearest (the run's lookup row: replayed training data)",
    "first_frame": "the held-out clip's first frame held still (frozen)",
    "mean_pose": "the train frames' mean pose throughout",
    "white_noise": "every coordinate drawn from the train frames' mean and sd",
    "shuffled": "the held-out clip's frames in random order",
    "reversed": "the held-out clip played backwards",
    **{f"smoothed_{w}": f"a centred {w}-frame moving average of the held-out clip" for w in SMOOTH_WINDOWS},
    **{f"jitter_{p}": f"every joint but the hip moved by N(0, ({p}% body scale)^2) per frame" for p in JITTER_PERCENT},
    "shake": f"the whole figure moved rigidly by N(0, ({SHAKE_SD:.0%} body scale)^2) per frame",
    "slow": "the held-out clip at half speed",
    "fast": "the held-out clip at twice the speed (played back and forth to fill its length)",
    "limb_swap": "the held-out clip with its left and right limbs swapped",
    "wrong_action": "a held-out clip of another action",
}
PAIRINGS = ("same_action", "same_prompt")  # held-out real is a half-B clip of the reference's action / prompt
# The family -> the learned evaluator's training negative it is an instance of (`judge.training.NEGATIVES`).
TRAINING_NEGATIVE = {
    "shuffled": "shuffled",
    "reversed": "reversed",
    **{f"smoothed_{w}": "smoothed" for w in SMOOTH_WINDOWS},
    **{f"jitter_{p}": "jittered" for p in JITTER_PERCENT},
    "slow": "speed",
    "fast": "speed",
}
# Metric kinds that need a model's own outputs: no family has them (`scoring.MODEL_ONLY`).
NOT_APPLICABLE = {
    "teacher_forced": "not applicable: needs a model's teacher-forced predictions",
    "action_head": "not applicable: reads a model's own action head",
    "robustness": "not applicable: compares a model's rollouts of reworded prompts, and a family answers every wording alike",
}


def _hash_unit(key: str) -> float:
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "little") / 2**64


def _source(sample_id: str) -> str:
    return sample_id.rsplit("#", 1)[0]  # real track: "<source file>#<start frame>"; StickBench: the id


@dataclass(frozen=True)
class Pairs:
    """Reference half A (cut to `lengths`, its `lengths` the pairs'), its held-out real answers from
    half B and the wrong-action clips, all cut to `lengths`."""

    reference: Suite
    held_out: np.ndarray  # float64 [n, T, D]
    wrong_action: np.ndarray  # float64 [n, T, D]
    lengths: np.ndarray  # int64 [n]

    def __len__(self) -> int:
        return len(self.lengths)


def pair_test_split(test: Suite, pairing: str = "same_action", *, seed: int = 0) -> Pairs:
    """Cut a test split into reference half A and held-out half B, and pair each A clip with B clips.

    Args:
        test: the suite's test split.
        pairing: "same_action" (every A clip whose action half B has) or "same_prompt" (every A clip
            whose prompt half B has); each also needs a B clip of another action.
        seed: seeds the choice among the candidates.

    Returns:
        The pairs (maybe fewer than `MIN_PAIRS`; `validate_metrics` checks).
    """
    rng = np.random.default_rng(seed)
    half_b = np.array([_hash_unit("validate/" + _source(i)) < 0.5 for i in test.ids])
    labels, prompts = np.asarray(test.labels), np.asarray(test.prompts)
    key = prompts if pairing == "same_prompt" else labels
    b_idx = np.flatnonzero(half_b)
    chosen, partner, wrong = [], [], []
    for i in np.flatnonzero(~half_b):
        same, other = b_idx[key[b_idx] == key[i]], b_idx[labels[b_idx] != labels[i]]
        if same.size and other.size:
            chosen.append(i)
            partner.append(int(rng.choice(same)))
            wrong.append(int(rng.choice(other)))
    chosen_a, partner_a, wrong_a = (np.array(x, dtype=np.int64) for x in (chosen, partner, wrong))
    lengths = np.minimum.reduce([test.lengths[chosen_a], test.lengths[partner_a], test.lengths[wrong_a]])
    part = select(test, chosen_a)
    reference = Suite.build(
        name=f"{test.name}-validity-{pairing}",
        version=test.version,
        ids=part.ids,
        prompts=part.prompts,
        motion=cut_to_lengths(part.motion, lengths).astype(np.float32),
        actions=part.actions,
        lengths=lengths,
        labels=part.labels,
    )
    held_out, wrong_action = (cut_to_lengths(test.motion[i].astype(np.float64), lengths) for i in (partner_a, wrong_a))
    return Pairs(reference, held_out, wrong_action, lengths)


def degenerate_families(pairs: Pairs, train: Suite, *, seed: int = 0) -> dict[str, np.ndarray]:
    """Every family of `FAMILIES`: float64 clips [n, T, D], each to be scored with `pairs.lengths`."""
    from stickeval.metrics.corruptions import change_speed, jitter_joints, moving_average, reverse_clips, shake, shuffle_clips, swap_sides

    rng = np.random.default_rng(seed)
    real, lengths = pairs.held_out, pairs.lengths
    families = {
        "real": real,
        "copy": np.asarray(pairs.reference.motion, dtype=np.float64),
        "retrieval": train.motion[nearest_train_prompts(pairs.reference.prompts, train)].astype(np.float64),
        **trivial_families(real, train, rng),
        "shuffled": shuffle_clips(real, lengths, rng),
        "reversed": reverse_clips(real, lengths),
        **{f"smoothed_{w}": moving_average(real, w) for w in SMOOTH_WINDOWS},
        **{f"jitter_{p}": jitter_joints(real, lengths, p / 100, rng) for p in JITTER_PERCENT},
        "shake": shake(real, lengths, SHAKE_SD, rng),
        **{name: change_speed(real, lengths, factor) for name, factor in SPEEDS.items()},
        "limb_swap": swap_sides(real),
        "wrong_action": pairs.wrong_action,
    }
    return {k: cut_to_lengths(v, lengths) for k, v in families.items()}


def score_family(motion: np.ndarray, setup: ScoringSetup, *, n_boot: int = 1000) -> dict[str, Estimate]:
    """Every metric a set of clips can be given (all but `NOT_APPLICABLE`'s kinds), for one family's
    clips [n, T, D] answering the setup's suite (the reference half A), through the run's own
    `scoring.score_metric`: {metric name: Estimate}."""
    clips = setup.clips(motion)
    return {
        m.name: score_metric(m, clips, setup, setup.reference, n_boot=n_boot)[0] for m in METRICS.values() if m.kind not in NOT_APPLICABLE
    }


def _pairing_table(pairs: Pairs, setup: ScoringSetup, n_boot: int) -> dict[str, Any]:
    """One pairing's rows, rankings, flags and catches (`validate_metrics`)."""
    from stickeval.metrics._threads import one_thread

    families = degenerate_families(pairs, setup.train_suite, seed=setup.seed)
    with one_thread():  # one BLAS thread: the Fréchet distances do not depend on the machine
        rows = {name: score_family(clips, setup, n_boot=n_boot) for name, clips in families.items()}
    real = rows.pop("real")
    below = {f: [m for m, e in r.items() if below_real(e, real[m], METRICS[m].higher_is_better)] for f, r in rows.items()}
    closer = {f: [m for m, e in r.items() if closer_than_real(e, real[m], METRICS[m].higher_is_better)] for f, r in rows.items()}
    flags = {f: raised for f, r in rows.items() if (raised := memorisation_flags(r, real))}
    not_applicable = {
        m.name: {**Estimate(float("nan"), (float("nan"), float("nan")), 0, None).to_dict(), "note": NOT_APPLICABLE[m.kind]}
        for m in METRICS.values()
        if m.kind in NOT_APPLICABLE
    }
    return {
        "n": len(pairs),
        "rows": {
            f: {m.name: r[m.name].to_dict() if m.name in r else not_applicable[m.name] for m in METRICS.values()}
            for f, r in {"real": real, **rows}.items()
        },
        "below_real": below,
        "closer_than_real": closer,
        "flags": flags,
        "caught_by": {f: [m for m in HEADLINE if m in below[f]] for f in rows},
    }


def validate_metrics(suite: str = "standard", *, n_boot: int = 1000, seed: int = 0) -> dict[str, Any]:
    """Build the validity table of a suite: every family scored by every metric, ranked against held-out real.

    Args:
        suite: "standard" (StickBench, 1,178 test clips), "quick" (too small for the same-prompt
            pairing) or "real" (the real track: needs the file of `stickeval.data.realmotion_path()`;
            its evaluator is trained on first use and cached, see `stickeval.judge.load_evaluator`).
        n_boot: bootstrap resamples per figure; seed: seeds the pairing, the families and the bootstrap.

    Returns:
        JSON-ready {"suite", "seed", "n_boot", "evaluator" (its version, training negatives and own
        held-out figures), "metrics" (name -> higher_is_better), "headline" (the headline metrics),
        "families" (name -> {"description", "seen_in_training"}), "pairings" (name -> {"n", "rows"
        (family -> metric -> Estimate dict, with a "note" where not applicable), "below_real",
        "closer_than_real" (family -> metrics), "flags" (family -> memorisation flags), "caught_by" (family ->
        headline metrics)}, or {"skipped": why} for a pairing with too few pairs), "uncaught"
        ([{"pairing", "family"}]: neither caught by a headline metric nor flagged)}.

    Raises:
        UnknownSuiteError / DatasetError: as `data.load_suite`. EvaluatorError: as
        `judge.load_evaluator`, or fewer than `MIN_PAIRS` same-action pairs.
    """
    from stickeval.evaluation.scoring_setup import cache_dir
    from stickeval.judge import load_evaluator

    test = load_suite(suite, split="test")
    evaluator = load_evaluator(suite, cache_dir=cache_dir())  # raises what is wrong; each pairing's setup reloads it
    pairings: dict[str, dict[str, Any]] = {}
    for pairing in PAIRINGS:
        pairs = pair_test_split(test, pairing, seed=seed)
        if len(pairs) < MIN_PAIRS:
            kind = pairing.replace("_", " ")
            why = f"only {len(pairs)} reference clips of suite '{suite}' have a held-out clip of the {kind}; the table needs {MIN_PAIRS}"
            if pairing == "same_action":
                raise EvaluatorError(f"{why}. Use --suite standard or --suite real.")
            pairings[pairing] = {"skipped": why}
            continue
        setup = ScoringSetup({"suite": suite, "seed": seed}, pairs.reference)
        pairings[pairing] = _pairing_table(pairs, setup, n_boot)
    negatives = set(evaluator.manifest.get("training", {}).get("negatives", ()))
    table = {
        "suite": suite,
        "seed": seed,
        "n_boot": n_boot,
        "evaluator": {
            "domain": evaluator.manifest.get("domain"),
            "version": evaluator.manifest.get("version"),
            "negatives": sorted(negatives),
            "held_out": evaluator.manifest.get("held_out"),
        },
        "metrics": {m.name: m.higher_is_better for m in METRICS.values()},
        "headline": list(HEADLINE),
        "families": {f: {"description": d, "seen_in_training": TRAINING_NEGATIVE.get(f) in negatives} for f, d in FAMILIES.items()},
        "pairings": pairings,
    }
    table["uncaught"] = [{"pairing": p, "family": f} for t, p in _columns([table]) for f in _families([table]) if not catchers(t, p, f)]
    return table


FLAG_NAMES = {"test_set": "flagged: test set", "training_data": "flagged: training data"}


def catchers(table: dict[str, Any], pairing: str, family: str) -> list[str]:
    """What catches a family in one pairing: the headline metrics that rank it below held-out real,
    then its memorisation flags (`FLAG_NAMES`); empty when nothing does."""
    part = table["pairings"][pairing]
    return list(part["caught_by"][family]) + [FLAG_NAMES[x] for x in part["flags"].get(family, [])]


def coverage(table: dict[str, Any], pairing: str, family: str) -> str:
    """`catchers` as one cell: comma-separated, "uncaught" when empty, "—" for a pairing the suite does not have."""
    if "skipped" in table["pairings"][pairing]:
        return "—"
    return ", ".join(catchers(table, pairing, family)) or "uncaught"


def _families(tables: list[dict[str, Any]]) -> list[str]:
    """Every family but real: those the evaluator never saw, then those it was trained against."""
    families = [f for f in tables[0]["families"] if f != "real"]
    seen = [f for f in families if any(t["families"][f]["seen_in_training"] for t in tables)]
    return [f for f in families if f not in seen] + seen


def _columns(tables: list[dict[str, Any]]) -> list[tuple[dict[str, Any], str]]:
    return [(t, p) for t in tables for p, part in t["pairings"].items() if "skipped" not in part]
