"""stickeval's metrics: pure functions on arrays, and the one table of what each metric is.

Every fact about a metric (its function, direction, model-card field, unit, one-line meaning, call
form, reference row) lives in its `Metric` row of `METRICS`, and `stickeval.scoring` scores a run
by walking this table; definitions are in the functions' docstrings and in docs/metrics.md. This
package imports neither `stickeval.zoo` nor `stickeval.generation`: it scores arrays. Call forms
(`Metric.kind`):

- "paired":         fn(generated [N,T,D], reference [N,T,D], lengths [N] | None) -> float64 [N]
- "teacher_forced": fn(predictions [N,T-1,D], motion [N,T,D], lengths) -> [N]
- "classifier":     fn(scores: action.ActionScores) -> [N]; one classifier pass per set of clips
                    (`action.score_actions`) serves every metric of this kind
- "action_head":    fn(logits [N,T,A], actions [N,T] int, lengths) -> [N]
- "robustness":     fn(noisy, clean, other, lengths) -> [N], NaN where undefined
- "set":            fn(features [N,F], reference_features [M,F], *, n_boot, seed) -> stats.Estimate, on
                    `features.motion_features` computed once per set of clips
Per-sample values are aggregated by `stats.bootstrap_ci`; "set" metrics give their Estimate directly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from stickeval.metrics import action, distribution, physical, pose, robustness, temporal


@dataclass(frozen=True)
class Metric:
    """One metric: the function and the facts a report needs about it.

    Attributes:
        name: key in results and on the command line.
        fn: the function (call form given by `kind`).
        higher_is_better: True / False, or None when closest to the reference row is best (diversity).
        card_field: the model card's `model-index` metric type it fills, or None.
        unit: unit of the per-sample value.
        description: one line: what it measures (shown beside the number in tables and reports).
        kind: call form (module docstring).
        reference: the reference row, the suite's own clips through the same function: None (no
            such row: a clip against itself scores trivially), "held_out" (the held-out reference
            clips scored as if generated), or "train" (set metrics: the held-out reference clips
            against the train clips, unpaired, since a set against itself scores 0).
        undefined: for metrics whose per-sample value can be undefined (NaN): what that means, the
            note reported when no sample is defined.
    """

    name: str
    fn: Callable
    higher_is_better: bool | None
    card_field: str | None
    unit: str
    description: str
    kind: str = "paired"
    reference: str | None = None
    undefined: str | None = None


METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("pose_mse", pose.pose_mse, False, "mse", "coordinate units^2",
               "MSE of the rollout against the reference, frames 1..T-1, all coordinates"),
        Metric("root_relative_pose_mse", pose.root_relative_pose_mse, False, None, "coordinate units^2",
               "pose MSE with each frame's root joint subtracted (shape, not placement)"),
        Metric("teacher_forced_mse", pose.teacher_forced_mse, False, None, "coordinate units^2",
               "the original one-step teacher-forced MSE, for comparison only (leaks the target)",
               "teacher_forced"),
        Metric("temporal_consistency", temporal.temporal_consistency, True, "temporal_consistency", "score in [0, 1]",
               "min(r, 1/r), r = scale-normalised jerk of the rollout / of the reference"),
        Metric("smoothness_legacy", temporal.smoothness_legacy, True, None, "score in (0, 1]",
               "the original 1/(1 + mean raw jerk); a frozen pose scores 1.0, for comparison only"),
        Metric("frozen", temporal.frozen, False, None, "flag (mean: share of clips)",
               "rollout moves less than 5% as fast as its reference"),
        Metric("jittery", temporal.jittery, False, None, "flag (mean: share of clips)",
               "rollout's jerk per unit speed is over 4x its reference's"),
        Metric("action_accuracy", action.top1_accuracy, True, "accuracy", "flag (mean: accuracy)",
               "stickeval's action classifier names the prompt's action (top-1)", "classifier", "held_out"),
        Metric("action_accuracy_top3", action.top3_accuracy, True, None, "flag (mean: accuracy)",
               "the prompt's action is among the classifier's 3 most probable", "classifier", "held_out"),
        Metric("action_head_accuracy", action.action_head_accuracy, True, None, "fraction of frames",
               "the model's own action head names each generated frame's action", "action_head"),
        Metric("robustness", robustness.robustness, True, "robustness", "score in [0, 1]",
               "1 - d(noisy, clean) / d(clean, other prompt), undefined when d(clean, other) ~ 0", "robustness",
               undefined="rollouts of different prompts are the same (the model ignores its text)"),
        Metric("frechet_distance", distribution.frechet_distance_ci, False, None, "reference feature variances",
               "Fréchet distance of standardised motion features, full matrix square root", "set", "train"),
        Metric("diversity", distribution.diversity_ci, None, None, "reference feature std",
               "mean pairwise distance of standardised motion features; compare with the reference row", "set",
               "held_out"),
        Metric("segment_length_instability", physical.segment_length_instability, False, None, "fraction",
               "segment-length coefficient of variation beyond the reference's"),
        Metric("foot_skating", physical.foot_skating, False, None, "fraction of frame steps",
               "a foot in ground contact slides faster than 1.2 torso lengths/s"),
        Metric("ground_penetration", physical.ground_penetration, False, None, "torso lengths",
               "mean depth of the lowest foot below the reference's lowest foot height"),
    )
}  # fmt: skip


__all__ = ["METRICS", "Metric"]
