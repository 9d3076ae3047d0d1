"""Bad input through the real `stickeval` entry point: one `Error:` line, the documented exit code, no traceback.

Exit codes (stickeval/cli/__init__.py, README "Commands"): 2 for a usage error (unknown verb or flag,
missing or malformed argument, a value outside a flag's choices), 1 for everything the library
refuses (a StickevalError: bad files, unknown variants, devices, unwritable outputs...). Each case
names the words the message must hold, and, where a path was to be written, checks that nothing was.
"""

from __future__ import annotations

import os
import pickle
import tempfile
from pathlib import Path

import pytest
import torch

from stickeval.data import save_dataset, suite_to_samples
from stickeval.data.stickbench import load_suite
from stickeval.text import HashEncoder
from tests.fixtures.checkpoints import build_tiny_checkpoint, zoo_toml

USAGE, ERROR = 2, 1


def _unwritable_dir(root: Path) -> Path | None:
    """A directory no one may create files in: chmod 555 for a normal user; /sys for root (a read-only mount)."""
    if os.geteuid() != 0:
        directory = root / "read-only"
        directory.mkdir()
        directory.chmod(0o555)
        return directory
    try:
        fd, probe = tempfile.mkstemp(dir="/sys")
    except OSError:
        return Path("/sys")
    os.close(fd)
    os.unlink(probe)
    return None


@pytest.fixture(scope="module")
def paths(tmp_path_factory) -> dict[str, Path | None]:
    """Every bad (and one good) input the cases refer to as {name}."""
    root = tmp_path_factory.mktemp("bad")
    ckpt = build_tiny_checkpoint(root / "ckpt", metadata={"encoder": "hash"})
    truncated = root / "truncated"
    truncated.mkdir()
    (truncated / "model.safetensors").write_bytes((ckpt / "model.safetensors").read_bytes()[:300])
    (root / "corrupt.bin").write_bytes(b"PK\x03\x04 not really a zip")
    (root / "empty.bin").write_bytes(b"")
    (root / "empty_dir").mkdir()
    (root / "plain.pkl").write_bytes(pickle.dumps(os.getcwd))  # a plain pickle: torch refuses its opcodes
    (root / "a_file").write_text("keep me")
    suite = load_suite("quick", split="test")
    save_dataset(suite_to_samples(suite, HashEncoder(512).encode(suite.prompts))[:4], root / "embed512.pt")
    torch.save([], root / "empty_list.pt")
    (root / "garbage.pt").write_bytes(b"this is not a torch file")
    nan = {"description": "broken", "motion": torch.full((40, 20), float("nan")), "actions": torch.zeros(40, dtype=torch.int64)}
    torch.save([nan, nan], root / "all_bad.pt")
    blank = {"description": "", "motion": torch.zeros(40, 20), "actions": torch.zeros(40, dtype=torch.int64)}
    torch.save([blank], root / "blank_prompt.pt")
    (root / "invalid.toml").write_text("[tiny\nrepo_id = ")
    # the built-in variants pointed at an empty directory: an installation without their weights
    (root / "unbuilt.toml").write_text(zoo_toml({"nano": {"path": str(root / "empty_dir")}, "nano-sft": {"path": str(root / "empty_dir")}}))
    (root / "unknown_key.toml").write_text(zoo_toml({"mine": {"repo": "me/mine"}}))
    (root / "wrong_type.toml").write_text(zoo_toml({"mine": {"repo_id": "me/mine", "n_params": "7M"}}))
    return {"root": root, "ckpt": ckpt, "truncated": truncated, "ro": _unwritable_dir(root)}


CASES = [
    # ---- usage errors: exit 2
    ("frobnicate", USAGE, "No such command 'frobnicate'"),
    ("--versio", USAGE, "No such option: --versio"),
    ("run", USAGE, "Missing argument 'VARIANT'"),
    ("run {ckpt} --frobnicate", USAGE, "No such option: --frobnicate"),
    ("run {ckpt} --batch-size 0", USAGE, "'--batch-size': expected a positive integer or 'auto', got '0'"),
    ("run {ckpt} --batch-size -3", USAGE, "--batch-size"),
    ("run {ckpt} --batch-size lots", USAGE, "got 'lots'"),
    ("run {ckpt} --limit abc", USAGE, "--limit"),
    ("run {ckpt} --seed x", USAGE, "--seed"),
    ("run {ckpt} --noise-prompts many", USAGE, "--noise-prompts"),
    ("run {ckpt} --compile=yes", USAGE, "--compile"),
    ("run {ckpt} extra", USAGE, "unexpected extra argument"),
    ("run {ckpt} --suite quick --data {root}/embed512.pt", USAGE, "either --suite or --data"),
    ("run {ckpt} --output {root}/out", USAGE, "No such option: --output"),
    ("bench {ckpt} --frames ten", USAGE, "--frames"),
    ("bench {ckpt} --batch-size 1.5", USAGE, "--batch-size"),
    ("pull", USAGE, "Missing argument 'VARIANT'"),
    ("push {ckpt}", USAGE, "Missing argument 'REPO_ID'"),
    ("inspect", USAGE, "Missing argument 'PATH'"),
    ("data make stickbench", USAGE, "Missing option '-o'"),
    ("data make cifar -o {root}/x.pt", USAGE, "'cifar' is not one of: stickbench"),
    ("data make stickbench --size huge -o {root}/x.pt", USAGE, "'huge' is not one of: quick, standard"),
    ("data make stickbench --split val -o {root}/x.pt", USAGE, "'val' is not one of: train, test"),
    ("data inspect", USAGE, "Missing argument 'FILE'"),
    ("data frobnicate", USAGE, "No such command 'frobnicate'"),
    ("zoo show", USAGE, "Missing argument 'NAME'"),
    ("zoo --frob", USAGE, "No such option: --frob"),
    ("score", USAGE, "Missing argument 'RUN_DIR'"),
    # ---- numbers out of their option's range: exit 2, before any work (stickeval/cli/options.py)
    ("run {ckpt} --seed -1", USAGE, "Invalid value for '--seed': Input should be greater than or equal to 0"),
    ("run {ckpt} --seed 4294967296", USAGE, "Invalid value for '--seed': Input should be less than or equal to 4294967295"),
    ("data make stickbench --seed -1 -o {root}/seed.pt", USAGE, "Invalid value for '--seed': Input should be greater than or equal to 0"),
    ("data make stickbench --embedding-dim 0 -o {root}/dim.pt", USAGE, "Invalid value for '--embedding-dim'"),
    ("data make stickbench --embedding-dim 100000 -o {root}/dim.pt", USAGE, "Input should be less than or equal to 65536"),
    ("data make stickbench --for nano --embedding-dim 64 -o {root}/for.pt", USAGE, "Invalid value for '--for': it takes the encoder"),
    ("data push stickbench me/sb --limit 0", USAGE, "Invalid value for '--limit'"),
    ("render {root} --step 100000 -o {root}/step.gif", USAGE, "Invalid value for '--step': Input should be less than or equal to 250"),
    ("render {root} --step 0 -o {root}/step.gif", USAGE, "Invalid value for '--step': Input should be greater than or equal to 1"),
    ("render {root} --worst 0 -o {root}/worst.gif", USAGE, "Invalid value for '--worst'"),
    ("render {root} --best -2 -o {root}/best.gif", USAGE, "Invalid value for '--best'"),
    ("render {ckpt} walk --seed -5 -o {root}/seed.gif", USAGE, "Invalid value for '--seed'"),
    # ---- unknown names: exit 1 with suggestions
    ("run larg-sft", ERROR, "Unknown variant 'larg-sft'. Did you mean large-sft"),
    ("pull larg-sft", ERROR, "Unknown variant 'larg-sft'"),
    ("bench smal", ERROR, "Unknown variant 'smal'. Did you mean small"),
    ("zoo show larg-sft", ERROR, "Unknown variant 'larg-sft'"),
    ("run {ckpt} --suite quik", ERROR, "Unknown suite 'quik'. Did you mean quick"),
    ("run {ckpt} --encoder nope", ERROR, "Unknown text encoder 'nope'"),
    ("data make stickbench --encoder nope -o {root}/enc.pt", ERROR, "Unknown text encoder 'nope'"),
    # ---- settings the library refuses: exit 1
    ("run {ckpt} --device tpu", ERROR, "tpu"),
    ("run {ckpt} --device cuda:7", ERROR, "cuda"),
    ("run {ckpt} --dtype float8", ERROR, "float8"),
    ("bench {ckpt} --device tpu", ERROR, "tpu"),
    ("bench {ckpt} --dtype int8", ERROR, "int8"),
    ("run {ckpt} --prime random", ERROR, "--prime must be one of"),
    ("run {ckpt} --on-bad ignore", ERROR, "--on-bad must be fail or skip"),
    ("run {ckpt} --limit 0", ERROR, "--limit must be at least"),
    ("run {ckpt} --limit -5", ERROR, "--limit must be at least"),
    ("run {ckpt} --noise-prompts 1", ERROR, "--noise-prompts must be at least 2"),
    # ---- data files: exit 1
    ("run {ckpt} --data {root}/missing.pt", ERROR, "missing.pt"),
    ("run {ckpt} --data {root}/embed512.pt --no-noise", ERROR, "512"),
    ("run {ckpt} --data {root}/empty_list.pt", ERROR, "empty_list.pt"),
    ("run {ckpt} --data {root}/garbage.pt", ERROR, "garbage.pt"),
    ("run {ckpt} --data {root}/all_bad.pt", ERROR, "all_bad.pt"),
    ("run {ckpt} --data {root}/blank_prompt.pt", ERROR, "blank_prompt.pt"),
    ("data inspect {root}/missing.pt", ERROR, "not found"),
    ("data inspect {root}/garbage.pt", ERROR, "garbage.pt"),
    ("data inspect {root}/all_bad.pt", ERROR, "None of the 2 samples"),
    # ---- outputs that cannot be written: exit 1, checked before the work, nothing left behind
    ("run {ckpt} --no-noise --limit 2 -o {root}/a_file", ERROR, "it is a file"),
    ("run {ckpt} --no-noise --limit 2 -o {root}/a_file/out", ERROR, "is a file, not a directory"),
    ("run {ckpt} --no-noise --limit 2 -o {ro}/out", ERROR, "not writable"),
    ("bench {ckpt} --frames 4 --prompts 2 -o {root}/a_file/b.json", ERROR, "is a file, not a directory"),
    ("bench {ckpt} --frames 4 --prompts 2 -o {ro}/b.json", ERROR, "not writable"),
    ("bench {ckpt} --frames 4 --prompts 2 -o {root}/empty_dir", ERROR, "it is a directory"),
    ("data make stickbench -o {root}/a_file/sb.pt", ERROR, "is a file, not a directory"),
    ("data make stickbench -o {ro}/sb.pt", ERROR, "not writable"),
    ("data make stickbench -o {root}/empty_dir", ERROR, "it is a directory"),
    ("train --recipe pretrain-nano -o {root}/a_file", ERROR, "it is a file"),
    ("train --recipe pretrain-nano --threads 0", USAGE, "Invalid value for '--threads'"),
    ("run nano --threads 0", USAGE, "Invalid value for '--threads'"),
    ("train --recipe pretrain-nano -o {root}/a_file/run", ERROR, "is a file, not a directory"),
    ("train --recipe pretrain-nano -o {ro}/run", ERROR, "not writable"),
    ("finetune {ckpt} --recipe pretrain-nano -o {ckpt}", ERROR, "model.safetensors, pytorch_model.bin) and holds no training run"),
    ("recipes cp sft-nano {root}/a_file/r.toml", ERROR, "a_file is a file, not a directory. Pass another FILE."),
    ("recipes cp sft-nano {ro}/r.toml", ERROR, "not writable"),
    ("recipes cp sft-nano {root}/empty_dir", ERROR, "it is a directory. Pass a file name to FILE."),
    # ---- training runs to resume: exit 1 (2 for contradicting flags)
    ("train --resume {root}/no_such_run", ERROR, "no_such_run does not exist: there is no run to resume there."),
    ("train --resume {root}/a_file", ERROR, "a_file is a file, not a run directory."),
    ("train --resume {root}/empty_dir", ERROR, "empty_dir has no train_state.pt to resume from."),
    ("train --resume {root}/empty_dir --force", USAGE, "--resume continues the run, --force replaces it; pass one of them."),
    # ---- revisions of variants that have none: exit 1
    ("pull nano --revision abc123", ERROR, "nano is built into stickeval and has no revisions; drop --revision."),
    ("pull {ckpt} --revision abc123", ERROR, "is a local checkpoint and has no revisions; drop --revision."),
    ("render nano walk --revision abc123 -o {root}/revision.gif", ERROR, "nano is built into stickeval and has no revisions"),
    ("card nano --results {root}/results.json --check --revision abc123", ERROR, "nano is built into stickeval and has no revisions"),
    # ---- checkpoints: exit 1
    ("inspect {root}/missing.bin", ERROR, "does not exist"),
    ("inspect {root}/corrupt.bin", ERROR, "is not a readable PyTorch checkpoint"),
    ("inspect {root}/empty.bin", ERROR, "empty.bin"),
    ("inspect {root}/empty_dir", ERROR, "holds no weights file"),
    ("inspect {root}/plain.pkl", ERROR, "or it is truncated (UnpicklingError: Unsupported operand"),
    ("inspect {truncated}", ERROR, "is not a readable safetensors file"),
    ("run {truncated}", ERROR, "is not a readable safetensors file"),
    ("pull {truncated}", ERROR, "is not a readable safetensors file"),
    ("bench {root}/corrupt.bin", ERROR, "corrupt.bin"),
    ("run nano --zoo {root}/unbuilt.toml", ERROR, "`make nano`"),
    ("pull nano-sft --zoo {root}/unbuilt.toml", ERROR, "`make nano`"),
    # ---- zoo files: exit 1
    ("zoo --zoo {root}/missing.toml", ERROR, "does not exist"),
    ("zoo --zoo {root}/invalid.toml", ERROR, "is not valid TOML"),
    ("zoo --zoo {root}/unknown_key.toml", ERROR, "unknown key 'repo'. Did you mean repo_id, recipe?"),
    ("zoo --zoo {root}/wrong_type.toml", ERROR, "n_params must be an integer"),
    ("run {ckpt} --zoo {root}/invalid.toml", ERROR, "is not valid TOML"),
    ("pull small --zoo {root}/unknown_key.toml", ERROR, "unknown key 'repo'"),
    # ---- run directories and pushes: exit 1
    ("score {root}/no_such_run", ERROR, "no_such_run"),
    ("score {root}/a_file", ERROR, "a_file"),
    ("push {root}/missing_dir me/x", ERROR, "is not a directory"),
    ("push {root}/empty_dir me/x", ERROR, "has no config.json"),
    ("push {ckpt} not-a-repo-id", ERROR, "is not a Hub repo id"),
]


def _written_path(args: list[str]) -> Path | None:
    return Path(args[args.index("-o") + 1]) if "-o" in args else None


@pytest.mark.parametrize(("command", "code", "words"), CASES, ids=[c[0].replace("{", "").replace("}", "") for c in CASES])
def test_bad_input_gives_one_line_and_the_documented_exit_code(run_cli, paths, command, code, words):
    if "{ro}" in command and paths["ro"] is None:
        pytest.skip("no read-only directory on this machine (root on a writable /sys)")
    args = command.format(**{k: str(v) for k, v in paths.items()}).split()
    out = _written_path(args)
    existed = out is not None and out.exists()
    result = run_cli(*args)
    assert result.exit_code == code, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1, result.stderr
    assert words in errors[0]
    assert result.stderr.splitlines()[-1] == errors[0] and "STICKEVAL_DEBUG" not in result.stderr  # the error is the last line
    assert not errors[0].endswith(("?.", "..")) or errors[0].endswith("..."), errors[0]
    if code == USAGE:
        assert errors[0].endswith("--help`."), errors[0]  # says where to read the usage
    if out is not None and not existed:
        assert not out.exists()  # refused before anything was written


def test_a_truncated_local_checkpoint_is_not_told_to_pull_again(run_cli, paths):
    line = run_cli("run", paths["truncated"]).error_line()
    assert "pull --force" not in line and "Re-download or re-save it" in line


def test_a_truncated_file_in_the_hub_cache_is_told_to_pull_with_force(run_cli, tiny_zoo):
    assert run_cli("pull", "tiny", "--zoo", tiny_zoo.zoo).exit_code == 0
    cached = Path(run_cli("pull", "tiny", "--zoo", tiny_zoo.zoo).stdout.strip()) / "model.safetensors"
    blob = cached.resolve()
    blob.write_bytes(blob.read_bytes()[:300])
    line = run_cli("run", "tiny", "--zoo", tiny_zoo.zoo, "--limit", "2", "--no-noise").error_line()
    assert "`stickeval pull tiny --force`" in line


def test_offline_with_a_cold_cache_is_one_line_naming_pull(run_cli, hub_env, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    line = run_cli("run", "small").error_line()
    assert line == "small is not in the cache and HF_HUB_OFFLINE=1 is set. Run `stickeval pull small` on a machine with network."


def test_data_inspect_says_how_wide_the_embeddings_are(run_cli, paths):
    result = run_cli("data", "inspect", paths["root"] / "embed512.pt")
    assert result.exit_code == 0
    assert "512-wide: usable only by models whose embedding_dim is 512" in result.stdout


@pytest.mark.parametrize("prompt", ["", "   ", "\t\n"])
def test_a_blank_prompt_is_a_usage_error_before_the_model_loads(run_cli, paths, prompt):
    out = paths["root"] / "blank.gif"
    result = run_cli("render", "no-such-variant", prompt, "-o", out)
    assert result.exit_code == USAGE
    assert result.stderr.strip() == (
        "Error: Invalid value for 'PROMPT': the prompt is blank; give the text to generate from, "
        'e.g. "a person waves". See `stickeval render --help`.'
    )
    assert not out.exists()


def test_a_refused_command_prints_its_error_on_one_line_and_nothing_else(run_cli):
    result = run_cli("run", "larg-sft")
    assert result.exit_code == ERROR and result.stdout == ""
    assert result.stderr.splitlines() == [
        "Error: Unknown variant 'larg-sft'. Did you mean large-sft, nano-sft, large? Run `stickeval zoo` to list "
        "variants, or pass an org/name repo id or a local directory."
    ]


def test_a_did_you_mean_hint_at_the_end_of_a_problem_list_gets_no_second_period(run_cli, tmp_path):
    line = run_cli("train", "--recipe", "pretrain-nano", "--set", "optimizer.lrr=1", "-o", tmp_path / "t").error_line()
    assert line.endswith("unknown key 'optimizer.lrr'. Did you mean lr? See docs/training.md for every key.")
    assert "?." not in line and ".." not in line.replace("...", "")


def test_composed_messages_keep_one_sentence_end_at_each_seam():
    from stickeval.errors import RecipeError, RunDirectoryError

    assert str(RecipeError("a: unknown key 'x'. Did you mean y?. See docs.")) == "a: unknown key 'x'. Did you mean y? See docs."
    assert str(RecipeError("unknown key 'x'.; unknown key 'z'.. See docs.")) == "unknown key 'x'; unknown key 'z'. See docs."
    assert str(RunDirectoryError("Known: a, b, ... (9 in all). Keep e.g. this... and 1.5.")) == (
        "Known: a, b, ... (9 in all). Keep e.g. this... and 1.5."
    )
