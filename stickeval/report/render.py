"""Animations on disk: drawn frames encoded as GIF (Pillow) or MP4 (imageio-ffmpeg), written atomically.

Why these encoders: Pillow's GIF writer takes the palette frames of `draw` as they are (no
quantisation, so the same frames give the same bytes) and needs nothing outside the wheel; MP4
needs an H.264 encoder, and imageio-ffmpeg pipes frames into the ffmpeg binary its wheel ships (or
the one `IMAGEIO_FFMPEG_EXE` names), so no system package is required. Both are optional
(`pip install 'stickeval[report]'`); a missing one is a one-line error naming the install command.
"""

from __future__ import annotations

import io
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from stickeval._io import atomic_path, check_writable
from stickeval.data.schema import FPS
from stickeval.errors import GenerationInputError, OutputPathError
from stickeval.report._deps import require
from stickeval.report.clips import ClipInfo
from stickeval.report.draw import DEFAULT_LAYOUT, Layout, Row, draw_frames

ANIMATION_SUFFIXES = (".gif", ".mp4")
MACRO_BLOCK = 16  # H.264 frame sizes are padded to a multiple of this
MAX_STEP = 250  # `step` keeps every N-th frame: at most one frame per 10 s (a GIF frame lasts at most 655 s)


def check_output(path: str | Path, suffixes: Sequence[str]) -> Path:
    """`path` if it can be written as one of `suffixes`, checked before any work.

    Missing directories above `path` are fine: they are created when the file is written, as for
    every stickeval output (`data make -o`, `bench -o`, `run -o`), and not before, so a refused
    command leaves nothing behind.

    Raises:
        OutputPathError: an unknown suffix, a directory where the file should be, an ancestor that
            is a file, or an unwritable place.
    """
    path = Path(path)
    if path.suffix.lower() not in suffixes:
        raise OutputPathError(f"Cannot write {path}: the name must end in {' or '.join(suffixes)}. Pass another -o/--out.", path=str(path))
    check_writable(path)
    return path


def gif_bytes(frames: Sequence, *, fps: float = FPS) -> bytes:
    """Pillow palette frames as the bytes of a looping GIF (frame time rounded to the format's 10 ms)."""
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=list(frames[1:]), duration=round(1000 / fps), loop=0)
    return buffer.getvalue()


def save_animation(frames: Sequence, path: str | Path, *, fps: float = FPS) -> Path:
    """Encode Pillow frames as a looping GIF or an H.264 MP4, chosen by the suffix of `path`, atomically.

    Raises:
        OutputPathError: as `check_output`.
        MissingDependencyError: Pillow (GIF) or imageio-ffmpeg (MP4) is not installed.
    """
    path = check_output(path, ANIMATION_SUFFIXES)
    if path.suffix.lower() == ".gif":
        data = gif_bytes(frames, fps=fps)
        with atomic_path(path) as tmp:
            tmp.write_bytes(data)
        return path
    ffmpeg = require("imageio_ffmpeg", "imageio-ffmpeg", "Writing MP4")
    width, height = frames[0].size
    padded = (-(-width // MACRO_BLOCK) * MACRO_BLOCK, -(-height // MACRO_BLOCK) * MACRO_BLOCK)
    with atomic_path(path) as tmp:
        writer = ffmpeg.write_frames(
            str(tmp),
            padded,
            fps=fps,
            codec="libx264",
            macro_block_size=1,
            ffmpeg_log_level="error",
            output_params=["-f", "mp4", "-threads", "1", "-fflags", "+bitexact", "-flags:v", "+bitexact"],
        )
        writer.send(None)
        canvas = np.full((padded[1], padded[0], 3), 255, dtype=np.uint8)
        for frame in frames:
            canvas[:height, :width] = np.asarray(frame.convert("RGB"))
            writer.send(canvas.tobytes())
        writer.close()
    return path


@dataclass(frozen=True)
class Rendered:
    """What `render` wrote: the file, its clips, frames, frame rate, size in bytes and the seconds it took."""

    path: str
    clips: list[ClipInfo]
    frames: int
    fps: float
    bytes: int
    seconds: float

    def to_dict(self) -> dict:
        return asdict(self)


def render(rows: Sequence[Row], clips: list[ClipInfo], path: str | Path, *, layout: Layout = DEFAULT_LAYOUT, step: int = 1) -> Rendered:
    """Draw the rows (one clip each) and write them as one animation to `path` (.gif or .mp4).

    Args:
        rows, clips: from `clips.run_rows`, `clips.dataset_rows` or `clips.prompt_rows`.
        path: output file (missing directories are created).
        layout: pixel sizes.
        step: keep every step-th frame, 1 to `MAX_STEP` (the frame rate drops to match, so the clip
            keeps its duration).

    Raises:
        GenerationInputError: `step` is out of range.
        OutputPathError, MissingDependencyError: as `save_animation`.
    """
    if not 1 <= step <= MAX_STEP:
        raise GenerationInputError(f"step must be 1 to {MAX_STEP} (keep every N-th frame), got {step}.")
    path = check_output(path, ANIMATION_SUFFIXES)
    start = time.perf_counter()
    frames = draw_frames(rows, layout, step=step)
    save_animation(frames, path, fps=FPS / step)
    return Rendered(str(path), clips, len(frames), FPS / step, path.stat().st_size, time.perf_counter() - start)
