"""R-precision, matching score, FID and diversity in an evaluator's embedding space (embeddings in, numbers out)."""

import numpy as np
import pytest

from stickeval.errors import MetricInputError
from stickeval.metrics.retrieval import (
    POOL_SIZE,
    embedding_diversity_ci,
    embedding_fid_ci,
    matching_distances,
    matching_score_ci,
    r_precision_ci,
    r_precision_hits,
)


def unit_rows(rng, n, dim=16):
    x = rng.standard_normal((n, dim))
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_perfect_retrieval_scores_one_at_every_k():
    emb = unit_rows(np.random.default_rng(0), 100)
    hits = r_precision_hits(emb, emb)
    assert hits.shape == (100, 3)
    np.testing.assert_array_equal(hits, 1.0)


def test_shuffled_pairing_scores_chance_k_over_32():
    rng = np.random.default_rng(1)
    text, motion = unit_rows(rng, 2048), unit_rows(rng, 2048)
    estimates = r_precision_ci(text, motion, replications=5)
    for k in (1, 2, 3):
        assert estimates[k].mean == pytest.approx(k / POOL_SIZE, abs=0.012)
        assert estimates[k].ci95[0] <= k / POOL_SIZE <= estimates[k].ci95[1]
        assert estimates[k].n == 2048


def test_identical_motions_for_every_prompt_score_chance_not_one():
    # A frozen mean pose for every prompt: all 32 motions tie; random tie order gives k / 32 exactly.
    text = unit_rows(np.random.default_rng(2), 64)
    motion = np.tile(text[:1], (64, 1))
    hits = r_precision_hits(text, motion)
    np.testing.assert_allclose(hits.mean(axis=0), [1 / 32, 2 / 32, 3 / 32])


def test_every_sample_is_scored_in_a_full_pool_when_n_is_not_a_multiple_of_32():
    emb = unit_rows(np.random.default_rng(3), 45)
    noisy = emb + 0.3 * np.random.default_rng(4).standard_normal(emb.shape)
    hits = r_precision_hits(emb, noisy, replications=3)
    assert hits.shape == (45, 3)
    assert np.all((hits >= 0) & (hits <= 1))
    assert np.all(np.diff(hits, axis=1) >= 0)  # hit@1 <= hit@2 <= hit@3 per sample


def test_r_precision_is_seeded():
    rng = np.random.default_rng(5)
    text, motion = unit_rows(rng, 100), unit_rows(rng, 100)
    np.testing.assert_array_equal(r_precision_hits(text, motion, seed=7), r_precision_hits(text, motion, seed=7))


def test_fewer_samples_than_a_pool_is_refused_with_the_pool_size():
    emb = unit_rows(np.random.default_rng(6), 20)
    with pytest.raises(MetricInputError, match="at least 32 samples"):
        r_precision_hits(emb, emb)


@pytest.mark.parametrize("bad", [np.zeros((0, 4)), np.zeros(4), np.full((40, 4), np.nan)])
def test_degenerate_embeddings_are_refused(bad):
    with pytest.raises(MetricInputError):
        matching_distances(bad, bad)


def test_matching_score_known_answer():
    text = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    motion = np.array([[0.0, 1.0], [0.0, 1.0], [-1.0, 0.0]])
    np.testing.assert_allclose(matching_distances(text, motion), [np.sqrt(2), 0.0, 2.0])
    est = matching_score_ci(text, motion)
    assert est.mean == pytest.approx((np.sqrt(2) + 2) / 3) and est.n == 3


def test_fid_of_a_set_with_itself_is_zero_and_of_a_shifted_set_is_positive():
    emb = unit_rows(np.random.default_rng(8), 300, dim=8)
    assert embedding_fid_ci(emb, emb).mean == pytest.approx(0.0, abs=1e-9)
    shifted = embedding_fid_ci(emb + 0.5, emb)
    assert shifted.ci95[0] > 1.0


def test_diversity_is_zero_for_identical_embeddings_and_positive_for_spread_ones():
    emb = unit_rows(np.random.default_rng(9), 100, dim=8)
    assert embedding_diversity_ci(np.tile(emb[:1], (100, 1)), emb).mean == 0.0
    assert embedding_diversity_ci(emb, emb).mean > 1.0
