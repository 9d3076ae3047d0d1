"""The evaluator's inputs, the corrupted copies it is trained against, and seeded, reproducible training."""

import numpy as np
import pytest
import torch

from stickeval.data.schema import joints
from stickeval.data.stickbench import load_suite
from stickeval.errors import EvaluatorError, MetricInputError
from stickeval.judge.bundle import Evaluator, load_evaluator_dir, save_evaluator
from stickeval.judge.inputs import motion_tracks, n_channels
from stickeval.judge.model import EvaluatorConfig, TextMotionEvaluator
from stickeval.judge.training import NEGATIVES, TrainingConfig, corrupted_copies, train_classifier, train_evaluator
from stickeval.metrics.corruptions import reverse_clips
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


def test_derivative_channels_hold_the_pose_velocity_and_acceleration(quick):
    suite, _ = quick
    tracks, _ = motion_tracks(suite.motion[:2], derivatives=True)
    plain, _ = motion_tracks(suite.motion[:2])
    assert tracks.shape[-1] == n_channels(20, derivatives=True) == 32 and plain.shape[-1] == 12
    pose, velocity, acceleration = tracks[..., :10], tracks[..., 10:20], tracks[..., 20:30]
    np.testing.assert_allclose(velocity[:, 2:], np.diff(pose, axis=1)[:, 1:] * 25, rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(acceleration[:, 2:], np.diff(velocity, axis=1)[:, 1:] * 25, rtol=1e-4, atol=1e-2)
    assert not acceleration[:, :2].any()  # frame 0 is given, not stepped into: nothing to accelerate from
    np.testing.assert_array_equal(tracks[..., -2:], plain[..., -2:])  # the root's velocity, last as before


def test_the_dynamics_stack_reads_velocity_and_acceleration_and_the_main_stack_the_rest():
    config = EvaluatorConfig(in_channels=32, derivatives=True, dynamics_width=4, text_dim=64, width=8, embed_dim=4)
    assert config.dynamics_channels == 20
    encoder = TextMotionEvaluator(config).motion.eval()
    tracks, mask = torch.randn(2, 40, 32, generator=torch.Generator().manual_seed(0)), torch.ones(2, 40, dtype=torch.bool)

    def output_change(channels: slice, stack: str) -> float:
        """How much the encoder's output moves when `channels` change, with only `stack`'s features read."""
        with torch.no_grad():
            weight = encoder.out.weight.clone()
            main = 2 * config.width  # the main stack's pooled features come first
            keep = slice(0, main) if stack == "main" else slice(main, None)
            encoder.out.weight.zero_()
            encoder.out.weight[:, keep] = weight[:, keep]
            changed = tracks.clone()
            changed[..., channels] += 1.0
            moved = (encoder(changed, mask) - encoder(tracks, mask)).abs().max().item()
            encoder.out.weight.copy_(weight)
        return moved

    pose_and_root, dynamics = [slice(0, 10), slice(30, 32)], slice(10, 30)
    assert output_change(dynamics, "main") == 0.0 and output_change(dynamics, "dynamics") > 0
    assert all(output_change(c, "dynamics") == 0.0 and output_change(c, "main") > 0 for c in pose_and_root)


def test_without_a_dynamics_width_one_stack_reads_every_channel_under_the_v2_weight_names():
    keys = TextMotionEvaluator(EvaluatorConfig(in_channels=32, derivatives=True, text_dim=64, width=8, embed_dim=4)).state_dict()
    assert not any(k.startswith("motion.dynamics") for k in keys) and keys["motion.convs.0.weight"].shape == (8, 32, 5)


def test_a_clip_shorter_than_three_frames_is_refused(quick):
    with pytest.raises(MetricInputError):
        motion_tracks(quick[0].motion[:1], np.array([2]))


def test_the_negatives_are_light_and_heavy_corruptions_of_every_clip_and_keep_the_hip_path(quick):
    suite, _ = quick
    copies = corrupted_copies(suite.motion, suite.lengths, NEGATIVES, np.random.default_rng(0))
    assert list(copies) == list(NEGATIVES) == ["reversed", "shuffled", "smoothed", "jittered", "speed"]
    np.testing.assert_array_equal(copies["reversed"], reverse_clips(suite.motion, suite.lengths))
    for name, clips in copies.items():
        assert clips.shape == suite.motion.shape and not np.allclose(clips, suite.motion), name
    # Jitter moves the pose, not the figure's path; its strength spans light to heavy across clips.
    np.testing.assert_array_equal(joints(copies["jittered"])["hip"], joints(suite.motion)["hip"])
    moved = np.abs(joints(copies["jittered"])["left_hand"] - joints(suite.motion)["left_hand"]).mean(axis=(1, 2))
    assert moved.max() > 5 * moved.min()


def test_an_unknown_negative_is_refused_naming_the_known_ones(quick):
    suite, _ = quick
    with pytest.raises(EvaluatorError, match="unknown negatives \\['blurred'\\].*reversed, shuffled"):
        corrupted_copies(suite.motion, suite.lengths, ["blurred"], np.random.default_rng(0))


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
