"""Stick-figure frames: motion arrays [T, D] (schema v1 or v3) drawn with Pillow, one image per frame.

Why Pillow: it draws lines, circles and text into palette images in microseconds a call, with no
figure machinery (a matplotlib figure costs tens of milliseconds a frame), and palette images go
to the GIF encoder without colour quantisation, so a 250-frame clip renders in well under a second
and the same motion always gives the same bytes. Text uses Pillow's bundled font
(`ImageFont.load_default(size)`), so the pictures do not depend on the fonts a machine has.

A sheet is a list of rows (one clip each: its prompt as title, a frame counter, and side-by-side
panels such as generated | reference). Each row has one fixed camera over all its panels and
frames, so drift shows as drift, and a ground line. A segment with a NaN or infinite coordinate
is not drawn; a frame with no drawable segment is shaded and labelled "no data": a visible gap.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from stickeval.data.schema import FPS, joints, schema_for_dim
from stickeval.errors import SchemaMismatchError
from stickeval.report._deps import require

# Palette index -> RGB. Frames are palette ("P") images, so these are the only colours.
COLOURS = {
    "background": (255, 255, 255),
    "ink": (25, 25, 25),
    "muted": (120, 120, 120),
    "ground": (176, 150, 110),
    "generated": (31, 119, 180),
    "reference": (70, 70, 70),
    "noisy": (214, 95, 0),
    "gap": (232, 232, 232),
    "warning": (200, 30, 30),
}
_INDEX = {name: i for i, name in enumerate(COLOURS)}
_PALETTE = [c for rgb in COLOURS.values() for c in rgb]
MARGIN = 0.08  # of the panel, around the row's motion
PIXEL_LIMIT = 1e5  # pixel coordinates are clipped here: an exploding rollout stays drawable


@dataclass(frozen=True)
class Panel:
    """One figure in a row: motion float [T, D] (D = 20 or 48), a caption, a colour name of `COLOURS`."""

    motion: np.ndarray
    caption: str
    colour: str = "generated"


@dataclass(frozen=True)
class Row:
    """One clip: its title (the prompt), its panels side by side, and the ground height (None: the
    lowest foot of its panels)."""

    title: str
    panels: tuple[Panel, ...]
    ground: float | None = None


@dataclass(frozen=True)
class Layout:
    """Sizes in pixels: each panel is `panel` x `panel`, each row has a `title` strip above its panels."""

    panel: int = 256
    title: int = 32
    font_size: int = 13

    @property
    def line_width(self) -> int:
        return max(1, round(self.panel / 90))


DEFAULT_LAYOUT = Layout()


def _font(size: int):
    image_font = require("PIL.ImageFont", "Pillow", "Drawing stick figures")
    return image_font.load_default(size=size)


def _fit(text: str, font, width: float) -> str:
    """`text`, cut with "..." so that it fits in `width` pixels."""
    if font.getlength(text) <= width:
        return text
    while text and font.getlength(text + "...") > width:
        text = text[:-1]
    return text + "..."


def _head(motion: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Head circle of every frame: centres [T, 2] and radii [T] (NaN where the joints are not finite).

    v1 has no head segment: the head sits on the neck, in the hip-to-neck direction, with a radius
    of 0.25 torso lengths. v3 has one (neck -> head_center): the circle is centred on head_center.
    """
    schema = schema_for_dim(motion.shape[-1])
    j = joints(motion, schema)
    with np.errstate(invalid="ignore", divide="ignore"):
        if schema.name == "v1":
            up = j["neck"] - j["hip"]
            torso = np.hypot(up[:, 0], up[:, 1])
            radius = 0.25 * torso
            centre = j["neck"] + up / torso[:, None] * radius[:, None]
        else:
            centre = j["head_center"]
            radius = 0.5 * np.hypot(*(j["head_center"] - j["neck"]).T)
    return centre, radius


def _feet_min(motion: np.ndarray) -> float | None:
    """The lowest finite y of any segment end of `motion` (the ground when no reference says otherwise)."""
    y = motion.reshape(len(motion), -1, 4)[..., [1, 3]]
    finite = y[np.isfinite(y)]
    return float(finite.min()) if finite.size else None


class _Camera:
    """Coordinates -> pixels for one row: equal scale in x and y, y up, every finite point in view."""

    def __init__(self, row: Row, layout: Layout):
        xs, ys = [], []
        for panel in row.panels:
            seg = panel.motion.reshape(len(panel.motion), -1, 4)
            centre, radius = _head(np.asarray(panel.motion, dtype=np.float64))
            xs += [seg[..., [0, 2]].ravel(), centre[:, 0] - radius, centre[:, 0] + radius]
            ys += [seg[..., [1, 3]].ravel(), centre[:, 1] + radius]
        x, y = np.concatenate(xs), np.concatenate(ys)
        x, y = x[np.isfinite(x)], y[np.isfinite(y)]
        if row.ground is not None:
            y = np.append(y, row.ground)
        if x.size == 0 or y.size == 0:
            x, y = np.array([-1.0, 1.0]), np.array([-1.0, 1.0])
        self.pad = layout.font_size + 8  # the caption strip at the top of the panel stays clear
        width, height = layout.panel * (1 - 2 * MARGIN), (layout.panel - self.pad) * (1 - 2 * MARGIN)
        self.scale = min(width / max(float(x.max() - x.min()), 1e-6), height / max(float(y.max() - y.min()), 1e-6))
        self.cx, self.cy = float(x.max() + x.min()) / 2, float(y.max() + y.min()) / 2
        self.half_x, self.mid_y = layout.panel / 2, self.pad + (layout.panel - self.pad) / 2

    def x(self, x: np.ndarray) -> np.ndarray:
        return np.clip((x - self.cx) * self.scale + self.half_x, -PIXEL_LIMIT, PIXEL_LIMIT)

    def y(self, y: np.ndarray) -> np.ndarray:
        return np.clip(self.mid_y - (y - self.cy) * self.scale, -PIXEL_LIMIT, PIXEL_LIMIT)


def _check(rows: Sequence[Row]) -> int:
    """The number of frames of the sheet (the longest panel); refuses widths that are no schema."""
    if not rows or not all(row.panels for row in rows):
        raise ValueError("a sheet needs at least one row, and every row at least one panel")
    for row in rows:
        for panel in row.panels:
            if panel.motion.ndim != 2 or panel.motion.shape[-1] not in (20, 48):
                raise SchemaMismatchError(
                    f"Cannot draw motion of shape {tuple(panel.motion.shape)}: expected [frames, 20] (v1) or [frames, 48] (v3)."
                )
    return max(len(panel.motion) for row in rows for panel in row.panels)


def draw_frames(rows: Sequence[Row], layout: Layout = DEFAULT_LAYOUT, *, step: int = 1) -> list:
    """Every `step`-th frame of the sheet as a Pillow palette image (rows stacked, panels side by side).

    Args:
        rows: the clips, one per row; all panels are drawn at the same frame index (a shorter
            panel holds its last frame).
        layout: pixel sizes.
        step: draw frames 0, step, 2*step, ... (thumbnails at a lower frame rate).

    Returns:
        list of `PIL.Image.Image` in mode "P", all of one size.

    Raises:
        MissingDependencyError: Pillow is not installed.
        SchemaMismatchError: a panel is not [T, 20] or [T, 48].
    """
    image_mod = require("PIL.Image", "Pillow", "Drawing stick figures")
    draw_mod = require("PIL.ImageDraw", "Pillow", "Drawing stick figures")
    n_frames = _check(rows)
    font = _font(layout.font_size)
    row_height = layout.title + layout.panel
    width = layout.panel * max(len(row.panels) for row in rows)
    base = image_mod.new("P", (width, row_height * len(rows)), _INDEX["background"])
    base.putpalette(_PALETTE)
    canvas = draw_mod.Draw(base)
    prepared = []
    for r, row in enumerate(rows):
        top = r * row_height
        canvas.text((6, top + 8), _fit(row.title, font, width - 110), fill=_INDEX["ink"], font=font)
        camera = _Camera(row, layout)
        ground = row.ground
        if ground is None:
            lows = [v for v in (_feet_min(p.motion) for p in row.panels) if v is not None]
            ground = min(lows) if lows else None
        for c, panel in enumerate(row.panels):
            left = c * layout.panel
            if ground is not None:
                gy = top + layout.title + float(camera.y(np.array(ground)))
                canvas.line([(left, gy), (left + layout.panel - 1, gy)], fill=_INDEX["ground"], width=layout.line_width)
            canvas.text((left + 6, top + layout.title + 4), _fit(panel.caption, font, layout.panel - 12), fill=_INDEX["muted"], font=font)
            if c:
                canvas.line([(left, top + layout.title), (left, top + row_height - 1)], fill=_INDEX["gap"], width=1)
            prepared.append((top, left, panel, *_pixels(panel.motion, camera, top + layout.title, left)))
    frames = []
    for t in range(0, n_frames, step):
        image = base.copy()
        canvas = draw_mod.Draw(image)
        for r in range(len(rows)):
            counter = f"{t + 1}/{n_frames}  {t / FPS:5.2f} s"
            canvas.text((width - 6, r * row_height + 8), counter, fill=_INDEX["muted"], font=font, anchor="ra")
        for top, left, panel, segments, head in prepared:
            _draw_figure(canvas, font, layout, top, left, panel, segments[min(t, len(segments) - 1)], head[min(t, len(head) - 1)])
        frames.append(image)
    return frames


def _pixels(motion: np.ndarray, camera: _Camera, top: float, left: float) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinates of every frame: segments [T, S, 4] and head circles [T, 3] (cx, cy, r)."""
    motion = np.asarray(motion, dtype=np.float64)
    seg = motion.reshape(len(motion), -1, 4)
    px = np.stack(
        [camera.x(seg[..., 0]) + left, camera.y(seg[..., 1]) + top, camera.x(seg[..., 2]) + left, camera.y(seg[..., 3]) + top], -1
    )
    px[~np.isfinite(seg).all(-1)] = np.nan
    centre, radius = _head(motion)
    head = np.stack([camera.x(centre[:, 0]) + left, camera.y(centre[:, 1]) + top, np.clip(radius * camera.scale, 0, PIXEL_LIMIT)], -1)
    head[~np.isfinite(np.column_stack([centre, radius])).all(-1)] = np.nan
    return px, head


def _draw_figure(canvas, font, layout: Layout, top: int, left: int, panel: Panel, segments: np.ndarray, head: np.ndarray) -> None:
    """One panel's figure at one frame; a frame without a drawable segment is shaded and says so."""
    drawable = np.isfinite(segments).all(-1)
    inside = top + layout.title
    if not drawable.any():
        canvas.rectangle([left + 1, inside + 22, left + layout.panel - 2, top + layout.title + layout.panel - 2], fill=_INDEX["gap"])
        canvas.text((left + layout.panel / 2, inside + layout.panel / 2), "no data (NaN)", fill=_INDEX["warning"], font=font, anchor="mm")
        return
    colour, width = _INDEX[panel.colour], layout.line_width
    for x1, y1, x2, y2 in segments[drawable]:
        canvas.line([(x1, y1), (x2, y2)], fill=colour, width=width)
    if np.isfinite(head).all() and head[2] >= 1:
        cx, cy, r = head
        canvas.ellipse([cx - r, cy - r, cx + r, cy + r], outline=colour, width=width)
    if not drawable.all():
        canvas.text((left + layout.panel - 6, inside + 4), "NaN", fill=_INDEX["warning"], font=font, anchor="ra")
