"""Reference motion data: the schema, StickBench, the real-motion track and Stick-Gen `.pt` files.

from stickeval.data import load_suite
suite = load_suite("quick")            # StickBench test split: prompts, clips, labels, hash
real = load_suite("real", limit=200)   # motion capture, when the file of realmotion_path() is present
"""

from stickeval.data.motion_npz import read_motion_npz, realmotion_path
from stickeval.data.pt_dataset import (
    check_samples,
    describe_dataset,
    load_dataset,
    physics_from_motion,
    save_dataset,
    suite_from_dataset,
    suite_to_samples,
)
from stickeval.data.schema import ACTION_TO_ID, ACTIONS, FPS, N_FRAMES, V1, V3, joints, segment_lengths
from stickeval.data.stickbench import SIZES, SUITES, VERSION, load_suite, make_sample
from stickeval.data.suite import Suite, split_of

__all__ = [
    "ACTIONS",
    "ACTION_TO_ID",
    "FPS",
    "N_FRAMES",
    "SIZES",
    "SUITES",
    "V1",
    "V3",
    "VERSION",
    "Suite",
    "check_samples",
    "describe_dataset",
    "joints",
    "load_dataset",
    "load_suite",
    "make_sample",
    "physics_from_motion",
    "read_motion_npz",
    "realmotion_path",
    "save_dataset",
    "segment_lengths",
    "split_of",
    "suite_from_dataset",
    "suite_to_samples",
]
