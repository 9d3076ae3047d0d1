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


def figure_box(frame, column: int, colour: str = "generated") -> tuple[int, int]:
    """Width and height in pixels of the figure drawn in one panel."""
    ys, xs = np.nonzero(panel_pixels(frame, column) == INDEX[colour])
    return int(np.ptp(xs)) + 1, int(np.ptp(ys)) + 1


def test_a_figure_that_drifts_far_still_fills_its_panel_in_every_frame(clip):
    drifted = clip.copy()
    drifted[:, 0::2] += np.linspace(0, 200, len(clip))[:, None]  # 200 units to the right: ~100 body heights
    frames = draw_frames([Row("drift", (Panel(drifted, "generated"), Panel(clip, "reference", "reference")))], LAYOUT)
    for t in (0, 20, 39):
        _, generated_height = figure_box(frames[t], 0)
        _, reference_height = figure_box(frames[t], 1, "reference")
        assert generated_height == reference_height >= 0.4 * (LAYOUT.panel - LAYOUT.caption_height)


def test_travel_shows_as_ground_ticks_scrolling_past_a_figure_held_in_the_middle(clip):
    walked = clip.copy()
    walked[:, 0::2] += np.linspace(0, 2.5, len(clip))[:, None]  # 2.5 units: not a whole number of tick spacings
    frames = draw_frames([Row("walk", (Panel(walked, "generated"),), ground=float(clip[:, 1::2].min()))], LAYOUT)

    def ground_ticks(frame) -> list[int]:
        below = panel_pixels(frame, 0) == INDEX["ground"]
        rows = np.flatnonzero(below.sum(axis=1) >= 0.9 * LAYOUT.panel)  # the ground line
        return np.flatnonzero(below[rows.max() + 2]).tolist()  # the ticks hanging under it

    assert ground_ticks(frames[0]) and ground_ticks(frames[0]) != ground_ticks(frames[39])
    centre = [np.nonzero(panel_pixels(frames[t], 0) == INDEX["generated"])[1].mean() for t in (0, 39)]
    assert abs(centre[0] - centre[1]) < LAYOUT.panel / 8  # the camera followed the figure


def test_a_limb_flung_beyond_the_panel_is_cut_at_its_border_not_drawn_into_the_next():
    rng = np.random.default_rng(0)
    still = np.asarray(load_suite("quick", limit=1).motion[0, :1]).repeat(20, 0)
    wild = still.copy()
    wild[10, 18:20] = [50.0, 50.0]  # one hand thrown 50 units away in one frame
    noise = still + rng.normal(0, 1e-3, still.shape)
    frames = draw_frames([Row("wild", (Panel(wild, "generated"), Panel(noise, "reference", "reference")))], LAYOUT)
    assert (panel_pixels(frames[10], 1) == INDEX["generated"]).sum() == 0
    assert (panel_pixels(frames[10], 0) == INDEX["generated"]).sum() > (panel_pixels(frames[9], 0) == INDEX["generated"]).sum()


def test_a_long_title_wraps_over_three_lines_and_the_rest_is_cut():
    words = " ".join(f"word{i}" for i in range(400))
    sheet = draw_frames([Row(words, (Panel(np.zeros((2, 20)), "generated"),))], LAYOUT)
    short = draw_frames([Row("short", (Panel(np.zeros((2, 20)), "generated"),))], LAYOUT)
    assert sheet[0].size[1] == short[0].size[1] + 2 * LAYOUT.line_height


def test_prompt_length_does_not_slow_drawing_down():
    import time

    panel = (Panel(np.zeros((2, 20)), "generated"),)
    start = time.perf_counter()
    draw_frames([Row("a person walks forward slowly and waves " * 460, panel)], LAYOUT)  # 18,400 characters
    assert time.perf_counter() - start < 2.0  # was 200 s: the title was cut one character at a time
