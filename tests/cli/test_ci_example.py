"""The CI example (examples/card-metrics.yml) end to end: its `stickeval` steps, run as written, guard the nano card.

The steps' shell variables come from the workflow's own `env` (VARIANT is the built-in nano), except
RUN_ARGS (the whole quick suite, as the card needs, with few noisy prompts to keep the test fast). The loop: the card starts at TBD (check red), `card --write`
fills it, the workflow is green, then a changed model makes it red with a readable diff.
"""

import os
import shlex
from pathlib import Path

import pytest
import yaml

from tests.fixtures.checkpoints import build_tiny_checkpoint

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / "examples" / "card-metrics.yml"
FAST_RUN_ARGS = "--suite quick --noise-prompts 2"


def stickeval_steps() -> tuple[dict[str, str], list[str]]:
    """The workflow's env and the `run:` lines of its steps that call stickeval, in order."""
    workflow = yaml.safe_load(WORKFLOW.read_text())
    steps = [step["run"].strip() for step in workflow["jobs"]["card"]["steps"] if step.get("run", "").startswith("stickeval ")]
    return {k: str(v) for k, v in workflow["env"].items()}, steps


def run_steps(run_cli, steps: list[str], env: dict[str, str], monkeypatch) -> list:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    results = []
    for line in steps:
        argv = shlex.split(os.path.expandvars(line))
        assert argv[0] == "stickeval"
        results.append(run_cli(*argv[1:]))
        if results[-1].exit_code != 0:
            break
    return results


@pytest.mark.slow  # three runs of the whole quick suite (a card takes no --limit subset): about 30 s on 2 cores
def test_the_ci_example_keeps_the_nano_card_current_and_catches_a_changed_model(run_cli, tmp_path, monkeypatch):
    env, steps = stickeval_steps()
    assert [s.split()[1] for s in steps] == ["run", "card"] and "--check" in steps[-1]
    monkeypatch.chdir(tmp_path)
    (tmp_path / "cards").mkdir()
    card = tmp_path / env["CARD"]
    card.write_bytes((ROOT / "examples" / "nano.README.md").read_bytes())
    assert env["VARIANT"] == "nano"
    env.update(RUN_ARGS=FAST_RUN_ARGS)

    first = run_steps(run_cli, steps, env, monkeypatch)
    assert first[0].exit_code == 0, first[0].stderr
    assert first[1].exit_code == 1 and "mse on stickbench-quick (stickbench-v1): TBD -> " in first[1].stderr

    results = tmp_path / env["RUN_DIR"] / "results.json"
    assert run_cli("card", card, "--results", results, "--write").exit_code == 0
    assert "| Pose MSE | TBD |" not in card.read_text()  # the body table too
    green = run_steps(run_cli, steps, env, monkeypatch)
    assert [r.exit_code for r in green] == [0, 0], green[-1].stderr

    changed = build_tiny_checkpoint(tmp_path / "changed", seed=7, metadata={"encoder": "hash"})
    red = run_steps(run_cli, steps, {**env, "VARIANT": str(changed), "RUN_DIR": "runs/changed"}, monkeypatch)
    assert red[0].exit_code == 0 and red[1].exit_code == 1
    assert "--- a/README.md" in red[1].stdout and "-      value: " in red[1].stdout and "+      value: " in red[1].stdout
    assert "stale" in red[1].stderr
