"""Curation: quality filter and action-stratified balancing, known answers on a skewed synthetic set."""

from collections import Counter

import torch

from stickeval.data.schema import ACTION_TO_ID
from stickeval.train.curation import curate, dominant_action, stratified_cap


def synthetic(counts: dict[str, int], n_frames: int = 30) -> list[dict]:
    """Clips whose per-frame actions are mostly their label; quality alternates 0.9 / 0.3 within each action."""
    samples = []
    for action, n in counts.items():
        for i in range(n):
            track = torch.full((n_frames,), ACTION_TO_ID[action])
            track[:5] = ACTION_TO_ID["idle"]  # a minority action: the dominant one must still win
            samples.append({"motion": torch.zeros(n_frames, 20), "actions": track, "quality_score": 0.9 if i % 2 == 0 else 0.3})
    return samples


def test_dominant_action_is_the_mode_lowest_id_on_ties():
    assert dominant_action(torch.tensor([3, 3, 1, 1, 2]).numpy()) == 1
    assert dominant_action(torch.tensor([5, 5, 5, 0]).numpy()) == 5


def test_stratified_cap_known_answers():
    assert stratified_cap([60, 20, 10, 10], 0.4) == 26  # 26 <= 0.4 x (26+20+10+10) = 26.4; 27 > 0.4 x 67
    assert stratified_cap([30, 10, 5, 5], 0.25) == 5  # balanced at the rarest: 5 <= 0.25 x 20
    assert stratified_cap([10, 3], 0.25) == 3  # two actions can never be <= 25% each: all at the rarest's size
    assert stratified_cap([7, 7, 7, 7], 0.25) == 7


def test_quality_filter_then_stratified_balance_on_a_skewed_set():
    samples = synthetic({"walk": 120, "run": 40, "wave": 20, "jump": 20})
    report = curate(samples, n_frames=30, min_quality=0.5, missing_quality="keep", balance="stratified", max_fraction=0.4, seed=0)
    by_step = {s.step: s for s in report.steps}
    assert (by_step["length"].n_dropped, by_step["quality"].n_kept, by_step["quality"].n_dropped) == (0, 100, 100)
    assert report.actions_before == {"walk": 60, "run": 20, "jump": 10, "wave": 10}
    assert report.cap == 26 and report.actions_after == {"walk": 26, "run": 20, "jump": 10, "wave": 10}
    assert by_step["balance"].n_dropped == 34
    kept = Counter(dominant_action(samples[i]["actions"].numpy()) for i in report.kept_indices)
    assert max(kept.values()) / sum(kept.values()) <= 0.4
    assert all(samples[i]["quality_score"] >= 0.5 for i in report.kept_indices)


def test_stratified_draw_is_seeded_and_depends_on_the_seed():
    samples = synthetic({"walk": 120, "run": 40, "wave": 20, "jump": 20})
    kwargs = dict(n_frames=30, min_quality=0.0, missing_quality="keep", balance="stratified", max_fraction=0.3)
    a, b, c = (curate(samples, seed=s, **kwargs).kept_indices for s in (1, 1, 2))
    assert a == b and a != c


def test_short_clips_and_missing_scores_follow_the_rules():
    samples = synthetic({"walk": 4}) + [{"motion": torch.zeros(10, 20), "actions": torch.zeros(10, dtype=torch.long)}]
    samples.append({"motion": torch.zeros(30, 20), "actions": torch.zeros(30, dtype=torch.long)})  # no quality_score
    keep = curate(samples, n_frames=30, min_quality=0.5, missing_quality="keep", balance="none", max_fraction=1.0, seed=0)
    drop = curate(samples, n_frames=30, min_quality=0.5, missing_quality="drop", balance="none", max_fraction=1.0, seed=0)
    assert keep.steps[0].n_dropped == 1  # the 10-frame clip
    assert keep.kept_indices == [0, 2, 5] and drop.kept_indices == [0, 2]
