"""Which samples train: length, quality filter and action-stratified balancing, with a record of why.

The original SFT curation filters on a combined quality score (>= 0.8, 0.85 for large) and caps
each dominant action's bucket at a fraction of the candidates. The published card says "quality score >= 0.5" and "action-stratified
balance"; stickeval implements both as written here and reports every sample kept or dropped.

Stratified balancing: samples are grouped by their dominant action (the most frequent per-frame
action, lowest id on a tie). Every group keeps at most `cap` samples, drawn uniformly without
replacement with a seeded generator, where `cap` is the largest number for which no action holds
more than `max_fraction` of what is kept. When there are too few actions for that share
(actions x max_fraction < 1), every action keeps as many as the rarest one has: a perfectly
balanced set.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field

import numpy as np

from stickeval.data.schema import ACTIONS


@dataclass(frozen=True)
class CurationStep:
    """One filter: how many samples it saw, kept and dropped, and why."""

    step: str
    rule: str
    n_in: int
    n_kept: int
    n_dropped: int


@dataclass(frozen=True)
class CurationReport:
    """What curation did: the steps in order and the per-action counts before balancing and after all steps."""

    steps: list[CurationStep]
    actions_before: dict[str, int]
    actions_after: dict[str, int]
    cap: int | None = None  # stratified balancing's per-action cap, when it ran
    kept_indices: list[int] = field(default_factory=list)  # into the samples given to `curate`

    @property
    def n_kept(self) -> int:
        return len(self.kept_indices)

    def to_dict(self) -> dict:
        """JSON-ready (written as curation.json beside the trained model)."""
        return asdict(self)


def dominant_action(actions: np.ndarray) -> int:
    """The most frequent action id of a per-frame track (the lowest id on a tie)."""
    return int(np.bincount(np.asarray(actions, dtype=np.int64)).argmax())


def stratified_cap(counts: list[int], max_fraction: float) -> int:
    """The largest per-group cap c with c <= max_fraction x sum(min(n, c)); the smallest group's size if none.

    Args:
        counts: group sizes (each > 0).
        max_fraction: the largest share of the kept set one group may hold, in (0, 1].
    """
    for c in range(max(counts), 0, -1):
        if c <= max_fraction * sum(min(n, c) for n in counts) + 1e-9:
            return c
    return min(counts)


def curate(
    samples: list[dict],
    *,
    n_frames: int,
    min_quality: float,
    missing_quality: str,
    balance: str,
    max_fraction: float,
    seed: int,
) -> CurationReport:
    """Choose the training samples.

    Steps, in order: length (at least `n_frames` frames; longer clips are cropped later), quality
    (`quality_score >= min_quality`; samples without a score are kept or dropped per `missing_quality`),
    then balancing ("stratified" as the module docstring says, or "none").

    Returns:
        The report; `kept_indices` are in increasing order.
    """
    steps = []
    idx = list(range(len(samples)))

    def record(step: str, rule: str, kept: list[int]) -> list[int]:
        steps.append(CurationStep(step, rule, len(idx), len(kept), len(idx) - len(kept)))
        return kept

    idx = record("length", f"at least {n_frames} frames", [i for i in idx if samples[i]["motion"].shape[0] >= n_frames])

    def quality_ok(sample: dict) -> bool:
        q = sample.get("quality_score")
        return missing_quality == "keep" if q is None else float(q) >= min_quality

    rule = f"quality_score >= {min_quality:g}" + ("" if missing_quality == "keep" else ", a score required")
    idx = record("quality", rule, [i for i in idx if quality_ok(samples[i])])
    groups: dict[int, list[int]] = {}
    for i in idx:
        groups.setdefault(dominant_action(samples[i]["actions"].numpy()[:n_frames]), []).append(i)
    before = {ACTIONS[a]: len(g) for a, g in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))}
    cap = None
    if balance == "stratified" and groups:
        cap = stratified_cap([len(g) for g in groups.values()], max_fraction)
        rng = np.random.default_rng(seed)
        kept = []
        for action in sorted(groups):  # a fixed order, so the draws do not depend on dict order
            group = groups[action]
            kept += [group[j] for j in rng.permutation(len(group))[:cap]]
        idx = record("balance", f"stratified by dominant action, at most {cap} per action ({max_fraction:g} share)", sorted(kept))
    after = Counter(ACTIONS[dominant_action(samples[i]["actions"].numpy()[:n_frames])] for i in idx)
    return CurationReport(
        steps=steps,
        actions_before=before,
        actions_after=dict(sorted(after.items(), key=lambda kv: (-kv[1], kv[0]))),
        cap=cap,
        kept_indices=idx,
    )
