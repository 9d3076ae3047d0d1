"""Drawing libraries are optional: importing the CLI and the report modules loads none, and a missing one is a clear error."""

import subprocess
import sys

import pytest

from stickeval.errors import MissingDependencyError
from stickeval.report._deps import require


def test_a_missing_library_names_the_extra_that_installs_it():
    with pytest.raises(
        MissingDependencyError, match=r"Writing MP4 needs no-such-pkg, which is not installed: pip install 'stickeval\[report\]'"
    ):
        require("no_such_module_for_stickeval", "no-such-pkg", "Writing MP4")


def test_importing_the_verbs_and_the_report_package_loads_no_drawing_library():
    code = (
        "import sys, stickeval.cli.render, stickeval.cli.report, stickeval.cli.compare, stickeval.report.report, "
        "stickeval.report.render, stickeval.report.compare\n"
        "print(sorted(m for m in ('PIL', 'matplotlib', 'imageio_ffmpeg') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
