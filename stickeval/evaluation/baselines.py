"""The context rows of a run: clips that answer the suite's prompts without a model, and the memorisation flags.

Scored beside a model's rollouts through the same functions, the rows give each figure its meaning
(what real motion scores, what a lookup of train clips scores, what a still or random clip scores).
Two flags compare a model with the real row: one that beats held-out real motion on pose error while
its clips are as real as real ones has memorised the references (`is_memorised`), and one whose clips
lie nearer to training clips than real motion does replays its training data (`replays_training`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from stickeval.data.suite import Suite


def cut_to_lengths(motion: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Clips with frames past `lengths` holding the last real frame."""
    t = np.arange(motion.shape[1])[None, :]
    idx = np.minimum(t, lengths[:, None] - 1)
    return np.take_along_axis(motion, idx[..., None], axis=1)


def trivial_families(first: np.ndarray, train: Suite, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """The baselines that need no model: "first_frame" (each clip of `first` holding its frame 0),
    "mean_pose" (the train frames' mean pose throughout) and "white_noise" (each coordinate drawn
    from a normal with the train frames' mean and sd), all float64 of `first`'s shape [n, T, D]."""
    valid = np.arange(train.motion.shape[1])[None, :] < train.lengths[:, None]
    frames = train.motion[valid].astype(np.float64)  # every real train frame, [F, D]
    shape = first.shape
    return {
        "first_frame": np.repeat(np.asarray(first[:, :1], dtype=np.float64), shape[1], axis=1),
        "mean_pose": np.broadcast_to(frames.mean(axis=0), shape).copy(),
        "white_noise": frames.mean(axis=0) + frames.std(axis=0) * rng.standard_normal(shape),
    }


CONTEXT = ("real", "retrieval", "first_frame", "mean_pose", "white_noise")


def context_families(suite: Suite, train: Suite, *, seed: int = 0) -> dict[str, np.ndarray]:
    """The context rows of a run: clips [N, T, D] that answer the suite's prompts without a model.

    Scored against the suite's references with the suite's lengths, exactly as the rollouts are
    (same n, same pairing, same functions), they give each figure its meaning:

      real         another real clip of the prompt's action: a clip of the suite itself with the same
                   prompt, else the same action (never the clip itself; seeded choice), else a train
                   clip of the action, else any other clip. The ideal a generator can reach.
      retrieval    the train clip whose prompt is nearest to the prompt (cosine of hash sentence
                   embeddings): a lookup "model"
      first_frame  the reference's frame 0 (what the generator is given) held still
      mean_pose    the train frames' mean pose; white_noise: the train frames' mean and sd

    A clip shorter than the reference holds its last real frame.
    """
    rng = np.random.default_rng(seed)
    prompts, labels = np.asarray(suite.prompts), np.asarray(suite.labels)
    train_labels = np.asarray(train.labels)
    own = cut_to_lengths(suite.motion, suite.lengths)
    held = cut_to_lengths(train.motion, train.lengths)
    real = np.empty(own.shape, dtype=np.float64)
    everyone = np.arange(len(suite))
    for i in everyone:
        others = everyone[everyone != i]
        for pool, clips in (
            (others[prompts[others] == prompts[i]], own),
            (others[labels[others] == labels[i]], own),
            (np.flatnonzero(train_labels == labels[i]), held),
            (others, own),
        ):
            if pool.size:
                real[i] = clips[int(rng.choice(pool))]
                break
        else:
            real[i] = own[i]  # a suite of one clip: there is no other
    retrieved = held[nearest_train_prompts(list(prompts), train)].astype(np.float64)
    return {"real": real, "retrieval": retrieved, **trivial_families(suite.motion, train, rng)}


def nearest_train_prompts(prompts: list[str], train: Suite) -> np.ndarray:
    """Index of the train clip whose prompt is nearest to each prompt: the cosine of hash sentence
    embeddings (`stickeval.text.HashEncoder`), the first train clip on a tie (`_nearest`). int [len(prompts)]."""
    from stickeval.text import HashEncoder

    encoder = HashEncoder(512)
    return _nearest(encoder.encode(prompts), encoder.encode(list(train.prompts)))


def _nearest(queries: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Index of each query's most similar key (dot product): in float64, rounded to 1e-9, the first
    key on a tie, so the lookup does not depend on the BLAS thread count. (In float32, 229 of the
    standard suite's 1,178 prompts had a runner-up within 1e-6 and 11 lookups flipped between one
    and two threads.)"""
    similarity = queries.astype(np.float64) @ keys.astype(np.float64).T
    return np.round(similarity, 9).argmax(axis=1)


def closer_than_real(estimate: Any, real: Any, higher_is_better: bool | None) -> bool:
    """Whether a figure beats the held-out real row with non-overlapping 95% CIs (a memorisation sign).

    Args:
        estimate, real: `stats.Estimate`s of one metric for the model and for held-out real clips.
        higher_is_better: the metric's direction; None (closest to the real row is best: diversity,
            nearest_train_mse) is never "closer".
    """
    if higher_is_better is None:
        return False
    return estimate.ci95[0] > real.ci95[1] if higher_is_better else estimate.ci95[1] < real.ci95[0]


def is_memorised(model: dict[str, Any], real: dict[str, Any]) -> bool:
    """The memorisation flag: paired pose error below held-out real motion's (non-overlapping 95% CIs)
    while the evaluator's FID is not ranked below real.

    Pose MSE alone is not enough: a frozen mean pose beats held-out real clips on it (regression to the
    mean), and so can an over-smoothed copy, but their FID is far worse. Clips that are as real as real
    ones as a set *and* closer to each reference than another real take of the same prompt can be are
    reproductions of the references. Non-overlap is not asked of the FID itself: the real row's
    interval reaches 0 (a set statistic's bias-aware interval, `stats.set_estimate`), which a copy's
    FID of 0 cannot lie below.

    Args:
        model, real: {metric name: `stats.Estimate`} for the model and the held-out real row, holding
            at least "pose_mse" and "evaluator_fid".
    """
    return closer_than_real(model["pose_mse"], real["pose_mse"], False) and not below_real(
        model["evaluator_fid"], real["evaluator_fid"], False
    )


def replays_training(model: dict[str, Any], real: dict[str, Any]) -> bool:
    """The replay flag: clips nearer to their nearest training clip than held-out real motion is to its
    own (`nearest_train_mse` below the real row's, non-overlapping 95% CIs) while their motion
    features are as real as real ones (`frechet_distance` not ranked below the real row).

    A lookup of training clips (the `retrieval` context row) scores like real motion, or better, on
    every metric that compares clips with the references; its distance to the training data is 0.
    Distance alone is not enough: a still pose lies near the train split's still clips, closer than
    a moving real clip lies to its nearest one, but its feature FD is far above real.

    Args:
        model, real: {metric name: `stats.Estimate`} for the model and the held-out real row.
    """
    return closer_than_real(model["nearest_train_mse"], real["nearest_train_mse"], False) and not below_real(
        model["frechet_distance"], real["frechet_distance"], False
    )


def memorisation_flags(model: dict[str, Any], real: dict[str, Any]) -> list[str]:
    """The memorisation flags a result raises: "test_set" (`is_memorised`) and "training_data"
    (`replays_training`), in that order; empty for clips that look like a model that generalises.

    Args:
        model, real: {metric name: `stats.Estimate`} for the clips and the held-out real row; the
            test-set flag needs the evaluator's FID and is not raised where it is undefined.
    """
    flags = ["test_set"] if model["evaluator_fid"].defined and is_memorised(model, real) else []
    return flags + (["training_data"] if replays_training(model, real) else [])


def memorisation_notice(name: str, flag: str) -> str:
    """The notice of a memorisation flag (`memorisation_flags`), naming the clips (a model, a family)."""
    if flag == "training_data":
        return (
            f"{name} lies nearer to the training clips than held-out real motion does (nearest_train_mse below the "
            "real row's, feature FD not above it): replayed training data, not a model that generalises."
        )
    return (
        f"{name} matches the test references more closely than held-out real clips can (pose MSE below the "
        "real row's, evaluator FID not above it): a memorised test set, not a better model."
    )


def below_real(estimate: Any, real: Any, higher_is_better: bool | None) -> bool:
    """Whether a figure ranks below the held-out real row with non-overlapping 95% CIs: on the wrong
    side of it for a direction, on either side for a metric whose best value is the real row's (None)."""
    if higher_is_better is None:
        return estimate.ci95[0] > real.ci95[1] or estimate.ci95[1] < real.ci95[0]
    return closer_than_real(real, estimate, higher_is_better)
