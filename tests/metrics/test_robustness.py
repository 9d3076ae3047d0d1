"""Robustness to prompt noise from rollouts, and its undefined case (a model that ignores its text)."""

import numpy as np
import pytest

from stickeval.errors import MetricInputError
from stickeval.metrics.robustness import other_prompt_indices, robustness
from stickeval.metrics.stats import bootstrap_ci


def test_unchanged_rollout_scores_one_and_the_other_prompts_rollout_scores_zero(clips, variants):
    clean, other, lens = clips.motion, variants["other"], clips.lengths
    assert np.all(robustness(clean.copy(), clean, other, lens) == 1.0)
    assert np.all(robustness(other.copy(), clean, other, lens) == 0.0)


def test_offset_c_against_an_other_prompt_offset_2c_scores_three_quarters(clips):
    clean = clips.motion
    assert np.allclose(robustness(clean + 0.1, clean, clean + 0.2, clips.lengths), 0.75)


def test_moving_a_fraction_a_towards_the_other_rollout_scores_one_minus_a_squared(clips, variants):
    clean, other, lens = clips.motion, variants["other"], clips.lengths
    for a in (0.25, 0.5, 0.9):
        assert np.allclose(robustness(clean + a * (other - clean), clean, other, lens), 1 - a**2)


def test_noisy_rollout_further_than_the_other_prompt_is_clipped_to_zero(clips, variants):
    clean, other, lens = clips.motion, variants["other"], clips.lengths
    assert np.all(robustness(clean + 2 * (other - clean), clean, other, lens) == 0.0)  # 1 - 2^2, clipped


def test_ordering_robust_above_half_way_above_noise(clips, variants):
    clean, other, lens = clips.motion, variants["other"], clips.lengths
    robust = robustness(clean + 0.01 * np.random.default_rng(0).standard_normal(clean.shape), clean, other, lens)
    half_way = robustness((clean + other) / 2, clean, other, lens)
    noise = robustness(variants["noise"], clean, other, lens)
    assert robust.mean() > half_way.mean() > noise.mean()


def test_model_that_ignores_its_text_is_undefined_never_one(clips, variants):
    clean, lens = clips.motion, clips.lengths
    scores = robustness(variants["shifted"], clean, clean.copy(), lens)  # every prompt gives the same rollout
    assert np.all(np.isnan(scores))
    estimate = bootstrap_ci(scores, drop_undefined=True)
    assert not estimate.defined and estimate.n == 0 and estimate.n_undefined == len(clean)
    assert estimate.to_dict()["mean"] is None


def test_other_prompt_closer_than_one_percent_of_a_torso_is_undefined(figures):
    clean = figures.standing("v1", 30)[None]  # torso 1.0
    assert np.isnan(robustness(clean, clean, clean + 0.009)[0])
    assert robustness(clean, clean, clean + 0.011)[0] == 1.0


def test_other_prompt_indices_prefer_another_action_and_are_seeded():
    labels = ["walk", "walk", "run", "wave", "wave", "wave"]
    idx = other_prompt_indices(labels, seed=3)
    assert all(labels[j] != labels[i] for i, j in enumerate(idx))
    assert np.array_equal(idx, other_prompt_indices(labels, seed=3))
    assert any(not np.array_equal(idx, other_prompt_indices(labels, seed=s)) for s in range(4, 10))


def test_other_prompt_indices_of_a_single_action_pick_another_sample():
    idx = other_prompt_indices(["walk"] * 5, seed=0)
    assert all(j != i for i, j in enumerate(idx))


def test_one_prompt_cannot_be_contrasted():
    with pytest.raises(MetricInputError, match="at least 2 prompts"):
        other_prompt_indices(["walk"])


def test_rollout_sets_of_different_shapes_are_refused():
    with pytest.raises(MetricInputError, match="same clips, frames and schema"):
        robustness(np.zeros((2, 10, 20)), np.zeros((2, 10, 20)), np.zeros((3, 10, 20)))
