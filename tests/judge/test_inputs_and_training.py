"""The evaluator's inputs, the order corruptions it is trained against, and seeded, reproducible training."""

import numpy as np
import pytest
import torch

from stickeval.data.stickbench import load_suite
from stickeval.errors import MetricInputError
from stickeval.judge.bundle import Evaluator, load_evaluator_dir, save_evaluator
from stickeval.judge.inputs import motion_tracks, n_channels
from stickeval.judge.model import EvaluatorConfig
from stickeval.judge.training import (
    TrainingConfig,
    moving_average,
    reverse_clips,
    shuffle_clips,
    train_classifier,
    train_evaluator,
)
from stickeval.text import HashEncoder

TINY = EvaluatorConfig(in_channels=12, text_dim=64, width=8, embed_dim=4)
FAST = TrainingConfig(epochs=2, batch_size=16)


@pytest.fixture(scope="module")
def quick():
    suite = load_suite("quick", split="train", limit=48)
    return suite, HashEncoder(TINY.text_dim).encode(suite.prompts)


def test_tracks_ignore_where_the_figure_stands_and_how_big_it_is(quick):
    suite, _ = quick
    moved = suite.motion * 1.7 + np.tile([3.0, -1.0], 10)
    a, mask = motion_tracks(suite.motion[:4], suite.lengths[:4])
    b, _ = motion_tracks(moved[:4], suite.lengths[:4])
    assert a.shape == (4, 250, n_channels(20)) and n_channels(20) == 12
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)  # float32 input
    assert not mask[:, 0].any() and mask[:, 1:].all()


def test_tracks_of_a_frozen_clip_have_zero_root_velocity(quick):
    frozen = np.repeat(quick[0].motion[:1, :1], 20, axis=1)
    tracks, _ = motion_tracks(frozen)
    np.testing.assert_array_equal(tracks[..., -2:], 0.0)


def test_a_clip_shorter_than_three_frames_is_refused(quick):
    with pytest.raises(MetricInputError):
        motion_tracks(quick[0].motion[:1], np.array([2]))


def test_reversing_twice_restores_the_real_frames_and_padding_holds_the_new_last_frame():
    motion = np.arange(2 * 6 * 20, dtype=np.float64).reshape(2, 6, 20)
    lengths = np.array([6, 4])
    once = reverse_clips(motion, lengths)
    np.testing.assert_array_equal(once[1, :4], motion[1, [3, 2, 1, 0]])
    np.testing.assert_array_equal(once[1, 4:], motion[1, [0, 0]])
    np.testing.assert_array_equal(reverse_clips(once, lengths)[:, :4], motion[:, :4])


def test_shuffling_keeps_the_clip_frames_and_only_their_order_changes():
    motion = np.arange(30 * 20, dtype=np.float64).reshape(1, 30, 20)
    out = shuffle_clips(motion, np.array([25]), np.random.default_rng(0))
    assert sorted(out[0, :25, 0]) == sorted(motion[0, :25, 0])
    assert not np.array_equal(out[0, :25], motion[0, :25])
    np.testing.assert_array_equal(out[0, 25:], np.repeat(out[0, 24:25], 5, axis=0))


def test_moving_average_known_answer_and_a_still_clip_stays_still():
    ramp = np.tile(np.array([0.0, 0.0, 3.0, 6.0, 6.0])[None, :, None], (2, 1, 20))
    out = moving_average(ramp, np.array([3, 1]))
    np.testing.assert_allclose(out[0, :, 0], [0.0, 1.0, 3.0, 5.0, 6.0])  # edges repeat the end frames
    np.testing.assert_array_equal(out[1], ramp[1])  # a window of 1 changes nothing
    still = np.ones((1, 30, 20))
    np.testing.assert_allclose(moving_average(still, 15), still)


def _train(quick, seed):
    suite, text = quick
    config = EvaluatorConfig(**{**TINY.to_dict(), "classes": tuple(sorted(set(suite.labels)))})
    training = TrainingConfig(epochs=FAST.epochs, batch_size=FAST.batch_size, seed=seed)
    net, _ = train_evaluator(suite.motion, suite.lengths, text, suite.prompts, config=config, training=training)
    clf, _ = train_classifier(suite.motion, suite.lengths, suite.labels, config=config, training=training)
    return Evaluator(config, net, clf, {"domain": "test"})


def test_training_is_bit_reproducible_and_depends_on_the_seed(quick):
    a, b, c = _train(quick, 0), _train(quick, 0), _train(quick, 1)
    for key, value in a.network.state_dict().items():
        assert torch.equal(value, b.network.state_dict()[key]), key
    for key, value in a.classifier.state_dict().items():
        assert torch.equal(value, b.classifier.state_dict()[key]), key
    assert not torch.equal(a.network.text[0].weight, c.network.text[0].weight)


def test_a_saved_bundle_loads_to_the_same_embeddings_and_probabilities(quick, tmp_path):
    suite, _ = quick
    ev = _train(quick, 0)
    loaded = load_evaluator_dir(save_evaluator(ev, tmp_path / "bundle"))
    np.testing.assert_array_equal(loaded.embed_motion(suite.motion, suite.lengths), ev.embed_motion(suite.motion, suite.lengths))
    np.testing.assert_array_equal(loaded.embed_text(suite.prompts[:5]), ev.embed_text(suite.prompts[:5]))
    np.testing.assert_array_equal(loaded.classify(suite.motion, suite.lengths), ev.classify(suite.motion, suite.lengths))
    assert loaded.classes == ev.classes
