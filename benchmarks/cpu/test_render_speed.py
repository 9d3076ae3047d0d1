"""Rendering speed: one 250-frame clip (generated | reference, 256-pixel panels) drawn and encoded as a GIF,
on one core (goal: about a second; figure in docs/benchmarks.md).

    make bench     # or: .venv/bin/python -m pytest benchmarks/cpu/test_render_speed.py --benchmark-enable
"""

import io

import numpy as np
from PIL import Image
from threadpoolctl import threadpool_limits

from stickeval.data import load_suite
from stickeval.report.draw import Panel, Row, draw_frames
from stickeval.report.render import gif_bytes

GOAL_SECONDS = 1.5  # "about a second", with room for a loaded shared machine


def _render(rows: list[Row]) -> bytes:
    return gif_bytes(draw_frames(rows))


def test_a_250_frame_side_by_side_gif_renders_in_about_a_second(benchmark):
    suite = load_suite("quick", limit=2)
    generated = suite.motion[1] + np.random.default_rng(0).normal(0, 0.02, suite.motion[1].shape)
    rows = [Row(suite.prompts[1], (Panel(generated, "generated"), Panel(suite.motion[1], "reference", "reference")), 0.0)]
    with threadpool_limits(1):
        data = benchmark.pedantic(_render, args=(rows,), rounds=5, iterations=1, warmup_rounds=1)
    with Image.open(io.BytesIO(data)) as gif:
        assert gif.n_frames == 250
    if benchmark.stats is None:  # --benchmark-disable: the code ran once, untimed; the goal is checked by `make bench`
        return
    benchmark.extra_info["gif_bytes"] = len(data)
    assert benchmark.stats.stats.min <= GOAL_SECONDS
