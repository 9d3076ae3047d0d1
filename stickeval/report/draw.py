"""Stick-figure frames: motion arrays [T, D] (schema v1 or v3) drawn with Pillow, one image per frame.

Why Pillow: it draws lines, circles and text into palette images in microseconds a call, with no
figure machinery (a matplotlib figure costs tens of milliseconds a frame), and palette images go
to the GIF encoder without colour quantisation, so a 250-frame clip renders in well under a second
and the same motion always gives the same bytes. Text uses Pillow's bundled font
(`ImageFont.load_default(size)`), so the pictures do not depend on the fonts a machine has.

A sheet is a list of rows (one clip each: its prompt as a title of up to three lines, a frame
counter, and side-by-side panels such as generated | reference). Each panel has a follow camera, so
every figure fills its panel however far it travels:

- scale: one per row, so its panels compare like for like. A body's reach is the 95th percentile
  over frames of how far the figure extends from its root joint in x or y, head included; the
  largest reach of the row fills the panel's drawing area less an 8% margin, but at most twice the
  reference panel's reach, so the real body always fills at least half its panel (a generated body
  that grows or falls apart beyond that is cut at the border);
- position: each frame, the panel's own root joint (v1 hip, v3 pelvis centre) sits at the centre
  of the drawing area; a frame whose root is not finite keeps the last finite position.

Travel and drift show against the world instead: the ground line (which moves as the root rises
or falls) carries a tick every round world distance near the body's size, and the ticks scroll as
the figure moves. Whatever leaves the panel (a limb flung beyond the 95th percentile) is cut at
its border. A segment with a NaN or infinite coordinate is not drawn; a frame with no drawable
segment is shaded and labelled "no data": a visible gap.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from stickeval.data.schema import FPS, ROOT_JOINT, joints, schema_for_dim
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
MARGIN = 0.08  # of the drawing area, around the body
BODY_PERCENTILE = 95  # the body size the scale fits: rarer, wilder frames are cut at the panel's border
REFERENCE_ZOOM = 2.0  # a row's scale fits at most this many times its reference body's reach
TITLE_LINES = 3  # a longer title is cut with "..."
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
    """Sizes in pixels: each panel is `panel` x `panel`; above a row's panels, a title strip of
    `title` pixels for one line, `line_height` more for each further line."""

    panel: int = 256
    title: int = 32
    font_size: int = 13

    @property
    def line_width(self) -> int:
        return max(1, round(self.panel / 90))

    @property
    def line_height(self) -> int:
        return self.font_size + 3

    @property
    def caption_height(self) -> int:
        """The strip at the top of a panel that holds its caption, above the drawing area."""
        return self.font_size + 8


DEFAULT_LAYOUT = Layout()


def _font(size: int):
    image_font = require("PIL.ImageFont", "Pillow", "Drawing stick figures")
    return image_font.load_default(size=size)


def _fit(text: str, font, width: float) -> str:
    """`text`, cut with "..." so that it fits in `width` pixels.

    A binary search over prefixes of at most `width` characters (every glyph is at least a pixel
    wide), so a text of any length costs a few measurements of one line.
    """
    if len(text) <= width and font.getlength(text) <= width:
        return text
    lo, hi = 0, min(len(text), int(width))
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if font.getlength(text[:mid] + "...") <= width:
            lo = mid
        else:
            hi = mid - 1
    return text[:lo].rstrip() + "..."


def _wrap(text: str, font, widths: Sequence[float]) -> list[str]:
    """`text` broken at spaces into at most `len(widths)` lines, line i at most `widths[i]` pixels wide.

    The last line holds what is left, cut with "..." when it does not fit; a word wider than its
    line is cut the same way. Each measured string is at most about a line long, so the cost grows
    with the number of lines shown, not with the length of the text.
    """
    words = text.split()
    lines: list[str] = []
    i = 0
    while i < len(words) and len(lines) < len(widths):
        width = widths[len(lines)]
        if len(lines) == len(widths) - 1:  # the last line: everything left
            rest = " ".join(words[i : i + int(width)])  # each word takes at least a pixel and a space
            lines.append(_fit(rest + (" ..." if i + int(width) < len(words) else ""), font, width))
            break
        line = _fit(words[i], font, width)
        i += 1
        while i < len(words) and font.getlength(f"{line} {words[i]}") <= width:
            line = f"{line} {words[i]}"
            i += 1
        lines.append(line)
    return lines or [""]


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


def _root_track(motion: np.ndarray) -> np.ndarray:
    """The root joint of every frame [T, 2]; a frame without a finite root keeps the last finite one
    (the first finite one before it; the origin when no frame has one)."""
    root = joints(motion)[ROOT_JOINT[schema_for_dim(motion.shape[-1]).name]]
    finite = np.isfinite(root).all(-1)
    if not finite.any():
        return np.zeros_like(root)
    last = np.maximum.accumulate(np.where(finite, np.arange(len(root)), -1))
    return root[np.where(last < 0, np.flatnonzero(finite)[0], last)]


def _reach(motion: np.ndarray, root: np.ndarray) -> float | None:
    """How far the figure reaches from its root in x or y: the `BODY_PERCENTILE`th percentile over
    frames of the largest |dx| or |dy| of a segment end or the head circle (None: no finite frame)."""
    seg = motion.reshape(len(motion), -1, 4)
    centre, radius = _head(motion)
    xs = np.concatenate([seg[..., 0], seg[..., 2], (centre[:, 0] - radius)[:, None], (centre[:, 0] + radius)[:, None]], -1)
    ys = np.concatenate([seg[..., 1], seg[..., 3], (centre[:, 1] + radius)[:, None]], -1)
    with np.errstate(over="ignore", invalid="ignore"):
        distance = np.concatenate([np.abs(xs - root[:, :1]), np.abs(ys - root[:, 1:])], -1)
    per_frame = np.where(np.isfinite(distance), distance, -1.0).max(-1)  # -1: nothing finite in the frame
    per_frame = per_frame[per_frame >= 0]
    return float(np.percentile(per_frame, BODY_PERCENTILE)) if per_frame.size else None


def _tick_spacing(reach: float) -> float:
    """The largest 1, 2 or 5 x 10^k not above `reach`: ground ticks a body's size apart, at round world distances."""
    power = 10.0 ** np.floor(np.log10(reach))
    return float(max((m * power for m in (1, 2, 5) if m * power <= reach), default=power))


class _Tile:
    """One panel of one row, drawn frame by frame on its own image, so nothing spills into its
    neighbours when the sheet pastes it in place. Pixel coordinates are the tile's own."""

    def __init__(self, panel: Panel, root: np.ndarray, scale: float, reach: float, ground: float | None, first: bool, sheet: _Sheet):
        self.panel, self.root, self.scale, self.sheet = panel, root, scale, sheet
        layout = sheet.layout
        self.half_x = layout.panel / 2
        self.mid_y = layout.caption_height + (layout.panel - layout.caption_height) / 2
        self.background = sheet.new_image((layout.panel, layout.panel))
        canvas = sheet.draw.Draw(self.background)
        canvas.text((6, 4), _fit(panel.caption, sheet.font, layout.panel - 12), fill=_INDEX["muted"], font=sheet.font)
        if not first:
            canvas.line([(0, 0), (0, layout.panel - 1)], fill=_INDEX["gap"], width=1)
        motion = np.asarray(panel.motion, dtype=np.float64)
        seg = motion.reshape(len(motion), -1, 4)
        self.segments = np.stack([self._x(seg[..., 0]), self._y(seg[..., 1]), self._x(seg[..., 2]), self._y(seg[..., 3])], -1)
        self.segments[~np.isfinite(seg).all(-1)] = np.nan
        centre, radius = _head(motion)
        with np.errstate(over="ignore", invalid="ignore"):
            size = np.clip(radius * scale, 0, PIXEL_LIMIT)
        self.head = np.stack([self._x(centre[:, :1])[:, 0], self._y(centre[:, 1:])[:, 0], size], -1)
        self.head[~np.isfinite(np.column_stack([centre, radius])).all(-1)] = np.nan
        self.ground_y = None if ground is None else self._y(np.full((len(motion), 1), ground))[:, 0]  # [T] pixels
        self.spacing = _tick_spacing(reach)

    def _x(self, x: np.ndarray) -> np.ndarray:
        """World x [T, K] -> tile pixels, the frame's root at the centre."""
        with np.errstate(over="ignore", invalid="ignore"):
            return np.clip((x - self.root[:, :1]) * self.scale + self.half_x, -PIXEL_LIMIT, PIXEL_LIMIT)

    def _y(self, y: np.ndarray) -> np.ndarray:
        """World y [T, K] -> tile pixels (y up), the frame's root at the centre of the drawing area."""
        with np.errstate(over="ignore", invalid="ignore"):
            return np.clip(self.mid_y - (y - self.root[:, 1:]) * self.scale, -PIXEL_LIMIT, PIXEL_LIMIT)

    def frame(self, t: int):
        """The tile at frame `t` (a panel shorter than the sheet holds its last frame)."""
        t = min(t, len(self.segments) - 1)
        layout, font = self.sheet.layout, self.sheet.font
        image = self.background.copy()
        canvas = self.sheet.draw.Draw(image)
        if self.ground_y is not None and layout.caption_height <= self.ground_y[t] < layout.panel:
            self._ground(canvas, t)
        segments, head = self.segments[t], self.head[t]
        drawable = np.isfinite(segments).all(-1)
        if not drawable.any():
            canvas.rectangle([1, layout.caption_height + 2, layout.panel - 2, layout.panel - 2], fill=_INDEX["gap"])
            canvas.text((self.half_x, self.mid_y), "no data (NaN)", fill=_INDEX["warning"], font=font, anchor="mm")
            return image
        colour, width = _INDEX[self.panel.colour], layout.line_width
        for x1, y1, x2, y2 in segments[drawable]:
            canvas.line([(x1, y1), (x2, y2)], fill=colour, width=width)
        if np.isfinite(head).all() and head[2] >= 1:
            cx, cy, r = head
            canvas.ellipse([cx - r, cy - r, cx + r, cy + r], outline=colour, width=width)
        if not drawable.all():
            canvas.text((layout.panel - 6, 4), "NaN", fill=_INDEX["warning"], font=font, anchor="ra")
        return image

    def _ground(self, canvas, t: int) -> None:
        """The ground line at frame `t`, with a tick under every multiple of the tick spacing (world x)."""
        layout, y = self.sheet.layout, float(self.ground_y[t])
        canvas.line([(0, y), (layout.panel - 1, y)], fill=_INDEX["ground"], width=layout.line_width)
        left = float(self.root[t, 0]) - self.half_x / self.scale  # the world x at the tile's left edge
        first = np.ceil(left / self.spacing)
        for k in range(int(layout.panel / (self.spacing * self.scale)) + 2):
            x = ((first + k) * self.spacing - left) * self.scale
            if 0 <= x < layout.panel:
                canvas.line([(x, y), (x, y + 2 * layout.line_width + 2)], fill=_INDEX["ground"], width=layout.line_width)


class _Sheet:
    """What every tile of a sheet shares: the layout, the font and Pillow's Image and ImageDraw modules."""

    def __init__(self, layout: Layout):
        self.layout = layout
        self.image = require("PIL.Image", "Pillow", "Drawing stick figures")
        self.draw = require("PIL.ImageDraw", "Pillow", "Drawing stick figures")
        self.font = _font(layout.font_size)

    def new_image(self, size: tuple[int, int]):
        """A blank palette image of `size` in the sheet's colours."""
        image = self.image.new("P", size, _INDEX["background"])
        image.putpalette(_PALETTE)
        return image


def _row_tiles(row: Row, sheet: _Sheet) -> list[_Tile]:
    """The row's tiles: one scale for all its panels, each panel's camera on its own root, and the
    row's ground (None: the lowest foot of its panels).

    The scale fits the largest reach of the row, but at most `REFERENCE_ZOOM` times the reference
    panel's reach when the row has one: the real body fills at least that share of its panel, and a
    generated body that grows or falls apart beyond it is cut at the border.
    """
    layout = sheet.layout
    motions = [np.asarray(panel.motion, dtype=np.float64) for panel in row.panels]
    roots = [_root_track(motion) for motion in motions]
    reaches = {c: _reach(motion, root) for c, (motion, root) in enumerate(zip(motions, roots))}
    reaches = {c: r for c, r in reaches.items() if r is not None and r > 0}
    reach = max(reaches.values(), default=1.0)
    real = [r for c, r in reaches.items() if row.panels[c].colour == "reference"]
    if real:
        reach = min(reach, REFERENCE_ZOOM * max(real))
    scale = (1 - 2 * MARGIN) * min(layout.panel, layout.panel - layout.caption_height) / 2 / reach
    ground = row.ground
    if ground is None:
        lows = [v for v in (_feet_min(motion) for motion in motions) if v is not None]
        ground = min(lows) if lows else None
    return [_Tile(panel, root, scale, reach, ground, c == 0, sheet) for c, (panel, root) in enumerate(zip(row.panels, roots))]


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
        list of `PIL.Image.Image` in mode "P", all of one size (a row is taller when its title
        takes more lines).

    Raises:
        MissingDependencyError: Pillow is not installed.
        SchemaMismatchError: a panel is not [T, 20] or [T, 48].
    """
    n_frames = _check(rows)
    sheet = _Sheet(layout)
    font = sheet.font
    width = layout.panel * max(len(row.panels) for row in rows)
    counter_width = font.getlength(f"{n_frames}/{n_frames}  {(n_frames - 1) / FPS:5.2f} s")
    line_widths = [width - 18 - counter_width] + [width - 12] * (TITLE_LINES - 1)
    titles = [_wrap(row.title, font, line_widths) for row in rows]
    tops = np.cumsum([0] + [layout.title + (len(lines) - 1) * layout.line_height + layout.panel for lines in titles]).tolist()
    base = sheet.new_image((width, tops[-1]))
    canvas = sheet.draw.Draw(base)
    placed = []  # (tile, (left, top)) of every panel
    for row, lines, top, bottom in zip(rows, titles, tops, tops[1:]):
        for k, line in enumerate(lines):
            canvas.text((6, top + 8 + k * layout.line_height), line, fill=_INDEX["ink"], font=font)
        placed += [(tile, (c * layout.panel, bottom - layout.panel)) for c, tile in enumerate(_row_tiles(row, sheet))]
    frames = []
    for t in range(0, n_frames, step):
        image = base.copy()
        canvas = sheet.draw.Draw(image)
        for top in tops[:-1]:
            canvas.text((width - 6, top + 8), f"{t + 1}/{n_frames}  {t / FPS:5.2f} s", fill=_INDEX["muted"], font=font, anchor="ra")
        for tile, position in placed:
            image.paste(tile.frame(t), position)
        frames.append(image)
    return frames
