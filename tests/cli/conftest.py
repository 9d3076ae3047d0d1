"""Run the real `stickeval` entry point in-process and capture what a user would see."""

from dataclasses import dataclass

import pytest

from stickeval.cli import main


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str


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
