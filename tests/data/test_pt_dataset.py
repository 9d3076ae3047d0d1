"""Stick-Gen `.pt` datasets: round trip, validation by sample, physics targets, Suite conversion."""

import logging
import pickle

import numpy as np
import pytest
import torch

from stickeval.data.pt_dataset import (
    describe_dataset,
    load_dataset,
    physics_from_motion,
    save_dataset,
    suite_from_dataset,
    suite_to_samples,
)
from stickeval.data.schema import ACTIONS, FPS
from stickeval.data.stickbench import load_suite
from stickeval.data.suite import MIN_FRAMES
from stickeval.errors import DatasetError


def sample(n_frames: int = 30, dim: int = 20, seed: int = 0, **overrides) -> dict:
    g = torch.Generator().manual_seed(seed)
    out = {
        "description": f"a person walks {seed}",
        "motion": torch.randn(n_frames, dim, generator=g),
        "actions": torch.full((n_frames,), 1, dtype=torch.int64),
        "physics": torch.randn(n_frames, 6, generator=g),
        "camera": torch.zeros(n_frames, 3),
        "embedding": torch.randn(1024, generator=g),
        "quality_score": 0.75,
        "source": "synthetic",
        "meta": {"id": f"s{seed}"},
    }
    out.update(overrides)
    return out


def test_a_pt_round_trip_preserves_every_field(tmp_path):
    samples = [sample(seed=0), sample(n_frames=250, seed=1)]
    save_dataset(samples, tmp_path / "d.pt")
    loaded = load_dataset(tmp_path / "d.pt")
    assert len(loaded) == 2
    for original, back in zip(samples, loaded):
        assert back.keys() == original.keys()
        for key, value in original.items():
            if isinstance(value, torch.Tensor):
                assert back[key].dtype == value.dtype
                torch.testing.assert_close(back[key], value, rtol=0, atol=0)
            else:
                assert back[key] == value


def test_numpy_arrays_are_saved_as_tensors(tmp_path):
    s = {k: v.numpy() if isinstance(v, torch.Tensor) else v for k, v in sample().items()}
    save_dataset([s], tmp_path / "d.pt")
    back = load_dataset(tmp_path / "d.pt")[0]
    assert isinstance(back["motion"], torch.Tensor)
    np.testing.assert_array_equal(back["motion"].numpy(), s["motion"])


BAD_SAMPLES = [
    ("a string", "is a str, not a dict"),
    ({"description": "x", "actions": torch.zeros(5, dtype=torch.int64)}, "lacks 'motion'"),
    (sample(description=""), "'description' is not a non-empty string"),
    (sample(motion=torch.randn(30, 19)), "'motion' is not a [T, 20|48] tensor"),
    (sample(motion=torch.full((30, 20), float("nan"))), "NaN/inf"),
    (sample(n_frames=1), "has 1 frame(s)"),
    (sample(motion=torch.randn(30, 48)), "48 numbers per frame, the file's first sample 20"),
    (sample(actions=torch.full((30,), 46, dtype=torch.int64)), "ids outside 0..45"),
    (sample(actions=torch.zeros(29, dtype=torch.int64)), "'actions' is not an integer tensor [30]"),
    (sample(actions=torch.zeros(30)), "'actions' is not an integer tensor [30]"),
    (sample(physics=torch.zeros(30, 5)), "'physics' is not a finite tensor [30, 6]"),
    (sample(camera=torch.full((30, 3), float("inf"))), "'camera' is not a finite tensor [30, 3]"),
    (sample(embedding=torch.randn(768)), "768 dims, the file's first embedding 1024"),
    (sample(quality_score=1.5), "'quality_score' is not a number in [0, 1]"),
    (sample(source=3), "'source' is not a string"),
]


def _write_raw(path, samples) -> None:
    torch.save(samples, path)


def test_each_kind_of_bad_sample_is_reported_by_index_with_its_problem(tmp_path):
    samples = [sample(), *[bad for bad, _ in BAD_SAMPLES], sample(seed=9)]
    _write_raw(tmp_path / "bad.pt", samples)
    with pytest.raises(DatasetError) as e:
        load_dataset(tmp_path / "bad.pt")
    problems = e.value.problems
    assert len(problems) == len(BAD_SAMPLES)
    for i, (problem, (_, expected)) in enumerate(zip(problems, BAD_SAMPLES), start=1):
        assert problem.startswith(f"sample {i}: ") and expected in problem, problem
    message = str(e.value)
    assert f"{len(BAD_SAMPLES)} of {len(samples)} samples are bad" in message and "--on-bad skip" in message
    assert "\n" not in message


def test_on_bad_skip_keeps_the_good_samples_and_logs_each_bad_one(tmp_path, caplog):
    _write_raw(tmp_path / "bad.pt", [sample(seed=0), sample(n_frames=1), sample(seed=2)])
    with caplog.at_level(logging.WARNING):
        good = load_dataset(tmp_path / "bad.pt", on_bad="skip")
    assert [s["description"] for s in good] == ["a person walks 0", "a person walks 2"]
    assert "sample 1: 'motion' has 1 frame(s)" in caplog.text


def test_saving_a_bad_sample_raises_and_writes_nothing(tmp_path):
    with pytest.raises(DatasetError, match=r"1 of 2 samples are bad: .* Fix them; nothing was written\.$") as e:
        save_dataset([sample(), sample(quality_score=-1)], tmp_path / "out.pt")
    assert e.value.problems == ["sample 1: 'quality_score' is not a number in [0, 1] (got -1)"]
    assert "--on-bad" not in str(e.value)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "not found"),
        (b"this is not a torch file", "cannot be read as a torch file with weights_only=True"),
        ({"motion": torch.zeros(2, 20)}, "holds a dict, not a list"),
    ],
)
def test_an_unreadable_or_unsafe_file_is_one_clear_error(tmp_path, content, message):
    path = tmp_path / "d.pt"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        torch.save(content, path)
    with pytest.raises(DatasetError, match=message) as e:
        load_dataset(path)
    assert e.value.path == str(path)


def test_on_bad_must_be_fail_or_skip(tmp_path):
    with pytest.raises(DatasetError, match="'fail' or 'skip'"):
        load_dataset(tmp_path / "d.pt", on_bad="ignore")


def test_physics_targets_are_neck_velocity_and_acceleration_by_forward_differences():
    t = np.arange(10) / FPS
    motion = np.zeros((10, 20))
    motion[:, 0] = 2.0 * t  # neck x: constant 2 units/s
    motion[:, 1] = 0.5 * 3.0 * t**2  # neck y: constant acceleration 3 units/s²
    physics = physics_from_motion(motion)
    assert physics.shape == (10, 6) and physics.dtype == np.float32
    np.testing.assert_allclose(physics[:, 0], 2.0, rtol=1e-5)
    np.testing.assert_allclose(physics[:-1, 1], 3.0 * (t[:-1] + 0.5 / FPS), rtol=1e-5)  # forward difference
    np.testing.assert_allclose(physics[:-2, 3], 3.0, rtol=1e-4)
    np.testing.assert_array_equal(physics[:, 4:], physics[:, :2])  # momentum = velocity (unit mass)


def test_missing_physics_is_derived_and_missing_camera_is_zeros(tmp_path):
    s = sample()
    del s["physics"], s["camera"]
    save_dataset([s], tmp_path / "d.pt")
    back = load_dataset(tmp_path / "d.pt")[0]
    np.testing.assert_array_equal(back["physics"].numpy(), physics_from_motion(s["motion"].numpy()))
    assert torch.equal(back["camera"], torch.zeros(30, 3))


def test_a_dataset_file_becomes_a_suite_padded_by_holding_the_last_frame(tmp_path):
    actions = torch.tensor([5] * 20 + [1] * 10)
    samples = [sample(n_frames=30, actions=actions), sample(n_frames=12, seed=1)]
    save_dataset(samples, tmp_path / "mine.pt")
    suite = suite_from_dataset(tmp_path / "mine.pt")
    assert (suite.name, suite.ids, suite.labels) == ("mine", ["mine/0", "mine/1"], ["wave", "walk"])
    assert suite.motion.shape == (2, 30, 20) and list(suite.lengths) == [30, 12]
    np.testing.assert_array_equal(suite.motion[1, 12:], np.repeat(samples[1]["motion"][-1:].numpy(), 18, axis=0))
    np.testing.assert_array_equal(suite.embeddings, np.stack([s["embedding"].numpy() for s in samples]))
    assert suite.prompts == [s["description"] for s in samples]


def test_a_suite_written_as_samples_reads_back_as_the_same_suite(tmp_path):
    quick = load_suite("quick", limit=5)
    embeddings = np.random.default_rng(0).standard_normal((5, 16)).astype(np.float32)
    save_dataset(suite_to_samples(quick, embeddings), tmp_path / "q.pt")
    back = suite_from_dataset(tmp_path / "q.pt")
    np.testing.assert_array_equal(back.motion, quick.motion)
    np.testing.assert_array_equal(back.actions, quick.actions)
    np.testing.assert_array_equal(back.embeddings, embeddings)
    assert back.prompts == quick.prompts
    assert [s["meta"]["id"] for s in load_dataset(tmp_path / "q.pt")] == quick.ids


def test_describe_dataset_counts_actions_sources_lengths_quality_and_bad_samples(tmp_path):
    samples = [sample(seed=0), sample(n_frames=50, seed=1, quality_score=0.25, source="amass"), sample(n_frames=1)]
    samples[1]["actions"] = torch.full((50,), ACTIONS.index("jump"))
    _write_raw(tmp_path / "d.pt", samples)
    info = describe_dataset(tmp_path / "d.pt")
    assert (info["n_samples"], info["n_good"], info["motion_dim"]) == (3, 2, 20)
    assert info["actions"] == {"jump": 1, "walk": 1}
    assert info["sources"] == {"amass": 1, "synthetic": 1}
    assert info["length"] == {"min": 30, "median": 40.0, "max": 50}
    assert info["quality"] == {"n": 2, "min": 0.25, "mean": 0.5, "max": 0.75, "n_at_least_0.5": 1}
    assert info["problems"] == ["sample 2: 'motion' has 1 frame(s); at least 2 are needed"]


def test_clips_too_short_to_score_are_bad_samples_of_a_suite_but_fine_to_train_on(tmp_path):
    short = MIN_FRAMES - 1
    save_dataset([sample(seed=0), sample(n_frames=short, seed=1), sample(n_frames=MIN_FRAMES, seed=2)], tmp_path / "d.pt")
    assert len(load_dataset(tmp_path / "d.pt")) == 3
    with pytest.raises(DatasetError, match="1 of 3 samples are bad") as e:
        suite_from_dataset(tmp_path / "d.pt")
    assert e.value.problems == [f"sample 1: 'motion' has {short} frame(s); at least {MIN_FRAMES} are needed"]
    suite = suite_from_dataset(tmp_path / "d.pt", on_bad="skip")
    assert list(suite.lengths) == [30, MIN_FRAMES]


def test_a_file_with_no_usable_sample_is_not_a_suite(tmp_path):
    _write_raw(tmp_path / "d.pt", [sample(n_frames=1)])
    with pytest.raises(DatasetError, match="no usable samples"):
        suite_from_dataset(tmp_path / "d.pt", on_bad="skip")


def test_a_file_that_would_run_code_when_unpickled_is_refused(tmp_path, capsys):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    path = tmp_path / "evil.pt"
    with open(path, "wb") as f:
        pickle.dump([Evil()], f, protocol=2)
    with pytest.raises(DatasetError, match="weights_only=True"):
        load_dataset(path)
    assert "pwned" not in capsys.readouterr().out
