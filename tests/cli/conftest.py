"""Run the real `stickeval` entry point in-process and capture what a user would see."""

from dataclasses import dataclass

import pytest

from stickeval.cli import main


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str

    def error_line(self) -> str:
        """The message of a refused command; asserts exit 1, exactly one `Error:` line and no traceback."""
        assert self.exit_code == 1, self.stderr
        assert "Traceback" not in self.stderr + self.stdout
        errors = [line for line in self.stderr.splitlines() if line.startswith("Error: ")]
        assert len(errors) == 1, self.stderr
        return errors[0][len("Error: ") :]


@pytest.fixture
def run_cli(capsys):
    def run(*args: str) -> CliResult:
        try:
            main(list(map(str, args)))
            code = 0
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 1
        out = capsys.readouterr()
        return CliResult(code, out.out, out.err)

    return run
