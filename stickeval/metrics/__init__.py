"""stickeval's metrics: pure functions on arrays, and the one table of what each metric is.

Every fact about a metric (its function, direction, model-card field, unit, one-line meaning, call
form, reference row) lives in its `Metric` row of `METRICS`, and `stickeval.evaluation.scoring` scores a run
by walking this table; definitions are in the functions' docstrings and in docs/metrics.md. The table
starts with the `HEADLINE` metrics, so results, `stickeval run`'s table and the report lead with them. This
package imports neither `stickeval.zoo` nor `stickeval.generation`: it scores arrays. Call forms
(`Metric.kind`):

- "paired":         fn(generated [N,T,D], reference [N,T,D], lengths [N] | None) -> float64 [N]
- "teacher_forced": fn(predictions [N,T-1,D], motion [N,T,D], lengths) -> [N]
- "classifier":     fn(scores: action.ActionScores) -> [N]; the judge is the learned evaluator's
                    time-aware classifier (`stickeval.judge`), one pass per set of clips
                    (`action.judge_actions`) serving every metric of this kind; for data without an
                    evaluator (a user's .pt data) the static classifier below, with a notice
- "static_classifier": the same call form, judged by the logistic regression on time-pooled motion
                    features (`action.score_actions`), fitted on the suite's train split
- "retrieval":      fn(text [N,E], motion [N,E], *, seed) -> [N] on the evaluator's co-embeddings of
                    the prompts and the clips (`retrieval`)
- "action_head":    fn(logits [N,T,A], actions [N,T] int, lengths) -> [N]
- "robustness":     fn(noisy, clean, other, lengths) -> [N], NaN where undefined
- "train_distance": fn(clips [N,T,D], lengths [N], train [M,T,D], train_lengths [M]) -> [N], each clip
                    against the suite's train split (`memorisation`)
- "set":            fn(features [N,F], reference_features [M,F], *, n_boot, seed) -> stats.Estimate, on
                    per-clip vectors computed once per set of clips, chosen by `Metric.space`
Per-sample values are aggregated by `stats.bootstrap_ci`; "set" metrics give their Estimate directly.
The kind "retrieval" and the space "embedding" need a learned evaluator (`Metric.needs_evaluator`):
where the suite has none (a user's .pt data), those figures are null with a note.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from stickeval.metrics import action, distribution, kinematics, memorisation, physical, pose, retrieval, robustness, temporal


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
        space: "set" metrics: the per-clip vectors compared: "features" (`features.motion_features`),
            "embedding" (the evaluator's motion embeddings) or "kinematics" (`kinematics.kinematic_features`).
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
    space: str = "features"

    @property
    def needs_evaluator(self) -> bool:
        """Whether the figure comes from a learned evaluator (null for data that has none)."""
        return self.kind == "retrieval" or self.space == "embedding"


def _r_precision_at(k: int) -> Callable:
    def r_precision(text, motion, *, seed: int = 0):
        return retrieval.r_precision_hits(text, motion, top_k=k, seed=seed)[:, k - 1]

    r_precision.__doc__ = (
        f"Per-sample R-precision top-{k} in pools of 32 (`retrieval.r_precision_hits`, column {k - 1}). "
        f"Range [0, 1], higher is better; chance ({k}/32) for a frozen pose or white noise."
    )
    return r_precision


def _matching(text, motion, *, seed: int = 0):
    """Per-sample matching score (`retrieval.matching_distances`); the seed is unused (no randomness).

    Range [0, 2], lower is better; a frozen pose or white noise sit near sqrt(2), unrelated pairs' distance.
    """
    return retrieval.matching_distances(text, motion)


_ROWS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric(
            "pose_mse",
            pose.pose_mse,
            False,
            "mse",
            "coordinate units^2",
            "MSE of the rollout against the reference, frames 1..T-1, all coordinates",
        ),
        Metric(
            "root_relative_pose_mse",
            pose.root_relative_pose_mse,
            False,
            None,
            "coordinate units^2",
            "pose MSE with each frame's root joint subtracted (shape, not placement)",
        ),
        Metric(
            "teacher_forced_mse",
            pose.teacher_forced_mse,
            False,
            None,
            "coordinate units^2",
            "the original one-step teacher-forced MSE, for comparison only (leaks the target)",
            "teacher_forced",
        ),
        Metric(
            "temporal_consistency",
            temporal.temporal_consistency,
            True,
            "temporal_consistency",
            "score in [0, 1]",
            "min(r, 1/r), r = scale-normalised jerk of the rollout / of the reference",
        ),
        Metric(
            "smoothness_legacy",
            temporal.smoothness_legacy,
            True,
            None,
            "score in (0, 1]",
            "the original 1/(1 + mean raw jerk); a frozen pose scores 1.0, for comparison only",
        ),
        Metric(
            "frozen", temporal.frozen, False, None, "flag (mean: share of clips)", "rollout moves less than 5% as fast as its reference"
        ),
        Metric(
            "jittery",
            temporal.jittery,
            False,
            None,
            "flag (mean: share of clips)",
            "rollout's jerk per unit speed is over 4x its reference's",
        ),
        Metric(
            "action_accuracy",
            action.top1_accuracy,
            True,
            "accuracy",
            "flag (mean: accuracy)",
            "the evaluator's time-aware classifier names the prompt's action (top-1)",
            "classifier",
            "held_out",
        ),
        Metric(
            "action_accuracy_top3",
            action.top3_accuracy,
            True,
            None,
            "flag (mean: accuracy)",
            "the prompt's action is among the time-aware classifier's 3 most probable",
            "classifier",
            "held_out",
        ),
        Metric(
            "static_action_accuracy",
            action.top1_accuracy,
            True,
            None,
            "flag (mean: accuracy)",
            "logistic regression on time-pooled features names the action (blind to time order)",
            "static_classifier",
            "held_out",
        ),
        Metric(
            "r_precision_top1",
            _r_precision_at(1),
            True,
            None,
            "hit rate (chance 1/32)",
            "the prompt's clip is the nearest of 32 to its text in the evaluator's space",
            "retrieval",
            "held_out",
        ),
        Metric(
            "r_precision_top2",
            _r_precision_at(2),
            True,
            None,
            "hit rate (chance 2/32)",
            "the prompt's clip is among the 2 nearest of 32 to its text",
            "retrieval",
            "held_out",
        ),
        Metric(
            "r_precision_top3",
            _r_precision_at(3),
            True,
            None,
            "hit rate (chance 3/32)",
            "the prompt's clip is among the 3 nearest of 32 to its text",
            "retrieval",
            "held_out",
        ),
        Metric(
            "matching_score",
            _matching,
            False,
            None,
            "embedding distance in [0, 2]",
            "distance of each clip to its prompt's text in the evaluator's space (MM-Dist)",
            "retrieval",
            "held_out",
        ),
        Metric(
            "evaluator_fid",
            retrieval.embedding_fid_ci,
            False,
            None,
            "reference embedding variances",
            "Fréchet distance of the evaluator's motion embeddings (FID)",
            "set",
            "train",
            space="embedding",
        ),
        Metric(
            "evaluator_diversity",
            retrieval.embedding_diversity_ci,
            None,
            None,
            "reference embedding std",
            "mean pairwise distance of the evaluator's motion embeddings",
            "set",
            "held_out",
            space="embedding",
        ),
        Metric(
            "kinematic_fd",
            kinematics.kinematic_fd_ci,
            False,
            None,
            "reference feature variances",
            "Fréchet distance of log speed, acceleration and jerk per joint (catches over-smoothing)",
            "set",
            "train",
            space="kinematics",
        ),
        Metric(
            "action_head_accuracy",
            action.action_head_accuracy,
            True,
            None,
            "fraction of frames",
            "the model's own action head names each generated frame's action",
            "action_head",
        ),
        Metric(
            "robustness",
            robustness.robustness,
            True,
            "robustness",
            "score in [0, 1]",
            "1 - d(noisy, clean) / d(clean, other prompt), undefined when d(clean, other) ~ 0",
            "robustness",
            undefined="rollouts of different prompts are the same (the model ignores its text)",
        ),
        Metric(
            "frechet_distance",
            distribution.frechet_distance_ci,
            False,
            None,
            "reference feature variances",
            "Fréchet distance of standardised motion features, full matrix square root",
            "set",
            "train",
        ),
        Metric(
            "diversity",
            distribution.diversity_ci,
            None,
            None,
            "reference feature std",
            "mean pairwise distance of standardised motion features; compare with the reference row",
            "set",
            "held_out",
        ),
        Metric(
            "segment_length_instability",
            physical.segment_length_instability,
            False,
            None,
            "fraction",
            "segment-length coefficient of variation beyond the reference's",
        ),
        Metric(
            "foot_skating",
            physical.foot_skating,
            False,
            None,
            "fraction of frame steps",
            "a foot in ground contact slides faster than 1.2 torso lengths/s",
        ),
        Metric(
            "ground_penetration",
            physical.ground_penetration,
            False,
            None,
            "torso lengths",
            "mean depth of the lowest foot below the reference's lowest foot height",
        ),
        Metric(
            "nearest_train_mse",
            memorisation.nearest_train_mse,
            None,
            None,
            "torso lengths^2",
            "root-relative MSE to the nearest train clip; below the real row's: replayed training data",
            "train_distance",
            "held_out",
        ),
    )
}


# The headline metrics, which a run's table and report lead with (`METRICS` starts with them, in this
# order): chosen with the validity table (`stickeval validate-metrics`, docs/metrics.md) so that every
# degenerate family there is ranked below held-out real by one of them, or flagged, on both suites.
HEADLINE = (
    "r_precision_top1",
    "matching_score",
    "evaluator_fid",
    "action_accuracy",
    "temporal_consistency",
    "kinematic_fd",
    "frechet_distance",
    "nearest_train_mse",
)

METRICS: dict[str, Metric] = {name: _ROWS[name] for name in HEADLINE} | {n: m for n, m in _ROWS.items() if n not in HEADLINE}

__all__ = ["HEADLINE", "METRICS", "Metric"]
