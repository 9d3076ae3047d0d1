"""Stick-figure frames: both schemas, a ground line, NaN frames as visible gaps, refused shapes."""

import numpy as np
import pytest

from stickeval.data import load_suite
from stickeval.errors import SchemaMismatchError
from stickeval.report.draw import COLOURS, Layout, Panel, Row, draw_frames

LAYOUT = Layout(panel=96, title=24, font_size=10)
INDEX = {name: i for i, name in enumerate(COLOURS)}


@pytest.fixture(scope="module")
def clip() -> np.ndarray:
    return np.asarray(load_suite("quick", limit=1).motion[0, :40])


def panel_pixels(frame, column: int) -> np.ndarray:
    """Palette indices of one panel (below the title strip)."""
    a = np.asarray(frame)
    return a[LAYOUT.title :, column * LAYOUT.panel : (column + 1) * LAYOUT.panel]


def test_v1_frames_draw_figure_ground_and_one_image_per_frame(clip):
    frames = draw_frames([Row("a prompt", (Panel(clip, "generated"), Panel(clip, "reference", "reference")), ground=0.0)], LAYOUT)
    assert len(frames) == 40 and frames[0].size == (2 * LAYOUT.panel, LAYOUT.title + LAYOUT.panel)
    left, right = panel_pixels(frames[0], 0), panel_pixels(frames[0], 1)
    assert (left == INDEX["generated"]).sum() > 50 and (right == INDEX["reference"]).sum() > 50
    assert (left == INDEX["ground"]).sum(axis=1).max() >= 0.9 * LAYOUT.panel  # a ground line across the panel


def test_v3_motion_is_drawn_with_its_twelve_segments():
    rng = np.random.default_rng(0)
    motion = np.cumsum(rng.normal(0, 0.01, (10, 48)), axis=0) + rng.normal(0, 1, 48)
    frames = draw_frames([Row("v3", (Panel(motion, "generated"),))], LAYOUT)
    assert len(frames) == 10 and (panel_pixels(frames[0], 0) == INDEX["generated"]).sum() > 20


def test_a_nan_frame_is_a_shaded_gap_and_the_next_frame_is_drawn_again(clip):
    motion = clip.copy()
    motion[5] = np.nan
    motion[6, :4] = np.nan  # one segment missing
    frames = draw_frames([Row("gap", (Panel(motion, "generated"),))], LAYOUT)
    gap, partial, whole = (panel_pixels(frames[t], 0) for t in (5, 6, 7))
    assert (gap == INDEX["generated"]).sum() == 0 and (gap == INDEX["gap"]).sum() > LAYOUT.panel**2 / 2
    assert (gap == INDEX["warning"]).any()  # "no data (NaN)"
    assert 0 < (partial == INDEX["generated"]).sum() < (whole == INDEX["generated"]).sum()


def test_an_all_nan_clip_still_draws_without_error():
    frames = draw_frames([Row("nothing", (Panel(np.full((3, 20), np.nan), "generated"),))], LAYOUT)
    assert len(frames) == 3


def test_motion_of_no_schema_width_is_refused_with_the_shapes_named():
    with pytest.raises(SchemaMismatchError, match=r"\[frames, 20\]"):
        draw_frames([Row("bad", (Panel(np.zeros((5, 7)), "generated"),))], LAYOUT)


def test_step_keeps_every_nth_frame(clip):
    assert len(draw_frames([Row("t", (Panel(clip, "g"),))], LAYOUT, step=4)) == 10
