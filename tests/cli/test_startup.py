"""The CLI starts without the heavy libraries: verbs import their API only when they run.

Speed itself is measured in benchmarks/cpu/test_cli_startup.py (`make bench`); these tests pin the cause.
"""

import json
import subprocess
import sys

HEAVY = ("torch", "numpy", "huggingface_hub", "sklearn", "safetensors", "scipy")


def _modules_loaded_by(code: str) -> list[str]:
    probe = f"import sys\n{code}\nimport json\nprint(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.splitlines()[-1])


def test_importing_the_cli_loads_no_torch_numpy_or_hub_client():
    assert _modules_loaded_by("import stickeval.cli") == []


def test_help_version_and_a_usage_error_load_no_heavy_library():
    for argv in (["--help"], ["--version"], ["run"], ["run", "--help"], ["data", "make", "--help"], ["zoo", "--help"]):
        code = f"from stickeval.cli import main\ntry:\n    main({argv!r})\nexcept SystemExit:\n    pass"
        assert _modules_loaded_by(code) == [], argv


def test_help_lists_every_verb(run_cli):
    result = run_cli("--help")
    assert result.exit_code == 0
    for verb in ("zoo", "pull", "push", "inspect", "data", "run", "score", "bench"):
        assert f"\n  {verb} " in result.stdout, verb
