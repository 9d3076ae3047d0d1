"""What importing a part of stickeval loads: metrics and data score arrays without torch or the zoo.

Each check runs in a fresh interpreter, since this test session has imported everything already.
"""

import json
import subprocess
import sys

import pytest

HEAVY = ("torch", "huggingface_hub", "stickeval.zoo", "stickeval.generation", "stickeval.evaluation.run")


def loaded_after(code: str) -> dict:
    """Run `code` in a new interpreter; it leaves a JSON-serialisable `result`, which is returned."""
    script = f"import json, sys\n{code}\nprint(json.dumps(result))"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


@pytest.mark.parametrize("package", ["stickeval.metrics", "stickeval.data"])
def test_importing_metrics_or_data_loads_neither_torch_nor_the_zoo_nor_generation(package):
    result = loaded_after(f"import {package}\nresult = [m for m in {HEAVY!r} if m in sys.modules]")
    assert result == []


def test_the_package_api_names_are_the_functions_and_modules_of_the_design():
    code = (
        "from stickeval import RunSettings, Rollout, errors, evaluate, generate, score, zoo\n"
        "result = [type(x).__name__ for x in (generate, evaluate, score, zoo, errors)]"
        " + [RunSettings.__module__, Rollout.__module__, callable(zoo.load)]"
    )
    assert loaded_after(code) == [
        "function",
        "function",
        "function",
        "module",
        "module",
        "stickeval.evaluation.run",
        "stickeval.generation",
        True,
    ]


def test_generate_and_evaluate_stay_functions_after_their_modules_are_imported():
    code = (
        "import stickeval.evaluation.run\n"  # imports stickeval.generation too
        "import stickeval\n"
        "result = [type(stickeval.generate).__name__, type(stickeval.evaluate).__name__,"
        " stickeval.generation.generate is stickeval.generate]"
    )
    assert loaded_after(code) == ["function", "function", True]


def test_an_unknown_package_attribute_is_an_attribute_error():
    import stickeval

    with pytest.raises(AttributeError, match="no attribute 'generat'"):
        stickeval.generat  # noqa: B018
    assert set(stickeval.__all__) <= set(dir(stickeval))
