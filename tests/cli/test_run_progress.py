"""`stickeval run` off a terminal: plain progress lines for CI logs, and Ctrl-C that says how to resume.

A real process, a real SIGINT: the run is started with stderr on a pipe (not a TTY), interrupted once
its first cache chunk is saved, and resumed with the exact command it printed.
"""

from __future__ import annotations

import re
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.checkpoints import build_tiny_checkpoint

# 127 clean + 16 other + 18 x 16 noisy = 431 rows; CPU auto batch 64 needs 7 batches, evened out to 62
# rows each; a chunk is the whole batches nearest above 256 rows: chunks of 310 and 121 rows.
ARGS = ("--noise-prompts", "16")
ROWS, FIRST_CHUNK = 431, 310
LINE = re.compile(r"generating: ([\d,]+)/([\d,]+) rollouts \(\d+%\)")


def _ctrl_c_as_from_a_shell() -> None:
    """In the child: SIGINT at its default, as an interactive shell starts a command (a pytest-xdist
    worker ignores SIGINT, and a process that starts with it ignored keeps ignoring it)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.slow
def test_off_a_terminal_progress_is_plain_lines_and_ctrl_c_says_how_to_resume(tmp_path, run_cli):
    ckpt = build_tiny_checkpoint(tmp_path / "ckpt", metadata={"encoder": "hash"})
    out = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "-m", "stickeval", "run", str(ckpt), *ARGS, "-o", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).parents[2],
        preexec_fn=_ctrl_c_as_from_a_shell,
    )
    lines = []
    for line in proc.stderr:  # progress lines arrive while it runs
        lines.append(line)
        match = LINE.search(line)
        if match and int(match[1].replace(",", "")) > FIRST_CHUNK:  # the first chunk is saved
            proc.send_signal(signal.SIGINT)
            break
    _, rest = proc.communicate(timeout=120)
    stderr = "".join(lines) + rest
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    progress = [LINE.search(line) for line in lines if LINE.search(line)]
    assert len(progress) >= 2 and all(int(m[2].replace(",", "")) == ROWS for m in progress)
    interrupted = re.search(r"Interrupted: ([\d,]+) of ([\d,]+) rollouts are cached in (\S+)\. Resume with: (.+)", stderr)
    assert interrupted, stderr
    assert int(interrupted[1]) == FIRST_CHUNK and int(interrupted[2].replace(",", "")) == ROWS
    command = shlex.split(interrupted[4])
    assert command[:3] == ["stickeval", "run", str(ckpt)] and command[-3:] == ["-o", str(out), "--resume"]
    assert "--noise-prompts" in command

    resumed = run_cli(*command[1:], "--json")
    assert resumed.exit_code == 0, resumed.stderr
    assert f'"rows_generated_now": {ROWS - FIRST_CHUNK}' in resumed.stdout


def test_run_refuses_an_output_below_a_file_before_loading_the_model(tmp_path, run_cli):
    (tmp_path / "somefile").write_text("")
    result = run_cli("run", "no-such-variant-is-loaded", "-o", tmp_path / "somefile" / "out")
    assert "somefile is a file" in result.error_line()
    assert result.stdout == ""
