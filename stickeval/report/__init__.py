"""Seeing results: stick-figure animations (GIF/MP4), the run report (HTML/Markdown), the leaderboard.

`draw` turns motion arrays into frames (Pillow), `render` encodes them and reads clips from run
directories, datasets or a prompt, `report` writes one run's report, `compare` ranks runs. Pillow,
matplotlib and imageio-ffmpeg are optional (`pip install 'stickeval[report]'`) and imported only when
a function needs them, so the rest of stickeval runs without them.
"""
