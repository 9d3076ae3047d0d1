"""The built-in nano and nano-sft: shipped weights load offline against their manifest, generate, and are
refused when damaged; the manifest's provenance matches the recipes and data; its reproducibility claim holds."""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from stickeval import generate, zoo
from stickeval.cli import main
from stickeval.data import load_suite
from stickeval.errors import CheckpointError, WeightsNotBuiltError
from stickeval.text import get_encoder
from stickeval.zoo.builtin_weights import MANIFEST, WEIGHTS, verify

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
from build_nano import _cpu_model  # noqa: E402  the machine fingerprint the manifest records

NANO, SFT = zoo.get_variant("nano"), zoo.get_variant("nano-sft")


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """As `make nano` trains: OMP_NUM_THREADS=1."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def manifest(variant) -> dict:
    return json.loads((variant.builtin_dir / MANIFEST).read_text())


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """No network and an empty HF cache: built-in weights must not need either."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "empty-hf-home"))


def copy_zoo(tmp_path: Path) -> tuple[Path, Path]:
    """Copies of both built-in directories and a --zoo file pointing nano and nano-sft at them."""
    root = tmp_path / "builtin"
    for variant in (NANO, SFT):
        shutil.copytree(variant.builtin_dir, root / variant.name)
    zoo_file = tmp_path / "zoo.toml"
    zoo_file.write_text(f'[nano]\npath = "{root / "nano"}"\n[nano-sft]\npath = "{root / "nano-sft"}"\n')
    return root, zoo_file


def flip_byte(path: Path, offset: int = -100) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("variant", [NANO, SFT], ids=["nano", "nano-sft"])
def test_shipped_files_match_the_sha256_in_their_manifest(variant):
    files = manifest(variant)["files"]
    assert set(files) == {WEIGHTS, "config.json"}
    assert {name: sha256(variant.builtin_dir / name) for name in files} == files
    assert verify(variant.builtin_dir)["files"] == files


def test_nano_loads_offline_with_its_zoo_architecture_and_generates_a_moving_clip(offline):
    loaded = zoo.load("nano")
    assert loaded.provenance.source == "builtin" and loaded.provenance.weights == NANO.builtin_dir / WEIGHTS
    assert loaded.config.causal and loaded.encoder == "hash" and loaded.n_params == NANO.n_params
    c = loaded.config
    assert (c.d_model, c.nhead, c.num_layers, c.embedding_dim) == (NANO.d_model, NANO.nhead, NANO.num_layers, NANO.embedding_dim)
    suite = load_suite("quick", limit=2)
    texts = get_encoder("hash", dim=loaded.config.embedding_dim).encode(list(suite.prompts))
    rollout = generate(loaded.model, texts, suite.actions, first_frames=suite.motion[:, 0], batch_size=2)
    assert rollout.motion.shape == (2, 250, 20) and np.isfinite(rollout.motion).all()
    assert rollout.motion[:, 1:].std(axis=1).mean() > 1e-3  # a trained model moves; it does not hold the prime


def test_nano_sft_ships_adapters_only_and_loads_merged_into_the_shipped_nano(offline):
    adapters = load_file(str(SFT.builtin_dir / WEIGHTS))
    assert adapters and all(".lora_A" in k or ".lora_B" in k for k in adapters)
    assert {v.dtype for v in adapters.values()} == {torch.float16}
    assert manifest(SFT)["base"]["sha256"] == sha256(NANO.builtin_dir / WEIGHTS)
    base, tuned = zoo.load("nano").model.state_dict(), zoo.load("nano-sft").model.state_dict()
    adapted = {k.rsplit(".lora_", 1)[0] + ".weight" for k in adapters}
    for key, value in base.items():
        if key in adapted:
            assert not torch.equal(tuned[key], value), key
        else:
            assert torch.equal(tuned[key], value), key


def test_manifest_records_the_commands_recipe_data_and_machine_that_made_the_weights():
    train_hash = load_suite("standard", split="train").hash
    for variant in (NANO, SFT):
        doc = manifest(variant)
        recipe_file = ROOT / doc["recipe"]["file"]
        assert doc["recipe"]["name"] == variant.recipe and doc["recipe"]["sha256"] == sha256(recipe_file), (
            f"{recipe_file} changed since {variant.name} was built: run `make nano`"
        )
        assert f"--recipe {variant.recipe}" in doc["commands"][0] and doc["commands"][0].startswith("OMP_NUM_THREADS=1 stickeval ")
        assert doc["data"]["sha256"] == train_hash and doc["data"]["split"] == "train"
        assert doc["environment"]["torch"] and doc["environment"]["machine"]["cpu"] and doc["training"]["seconds"] > 0
        assert doc["dtype"] == "float16" and "bit for bit" in doc["reproducibility"]
    assert "finetune nano" in manifest(SFT)["commands"][0]


def test_a_corrupted_shipped_file_is_refused_in_one_line_saying_how_to_repair(tmp_path, offline):
    root, zoo_file = copy_zoo(tmp_path)
    assert zoo.load("nano", zoo=zoo_file).provenance.path == root / "nano"  # the copy loads as it is
    flip_byte(root / "nano" / WEIGHTS)
    with pytest.raises(CheckpointError, match=r"model\.safetensors does not match its manifest \(sha256 [0-9a-f]{12}\.\.\.") as e:
        zoo.load("nano", zoo=zoo_file)
    assert "\n" not in str(e.value) and "reinstall" in str(e.value)
    with pytest.raises(CheckpointError, match=r"nano/model\.safetensors does not match"):
        zoo.load("nano-sft", zoo=zoo_file)  # its base is damaged


def test_a_damaged_installation_fails_the_cli_with_exit_1_and_no_traceback(tmp_path, offline, capsys):
    root, zoo_file = copy_zoo(tmp_path)
    flip_byte(root / "nano-sft" / "config.json", offset=5)
    with pytest.raises(SystemExit) as e:
        main(["run", "nano-sft", "--zoo", str(zoo_file), "--limit", "2", "--no-noise", "-o", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert e.value.code == 1 and err.startswith("Error: ") and "config.json does not match its manifest" in err.splitlines()[0]
    assert "Traceback" not in err
    assert not (tmp_path / "run" / "results.json").exists()


def test_a_missing_manifest_or_weights_file_is_named(tmp_path, offline):
    root, zoo_file = copy_zoo(tmp_path)
    (root / "nano" / MANIFEST).unlink()
    with pytest.raises(CheckpointError, match=r"manifest\.json is missing or unreadable"):
        zoo.load("nano", zoo=zoo_file)
    (root / "nano" / WEIGHTS).unlink()
    with pytest.raises(WeightsNotBuiltError, match="`make nano`"):
        zoo.load("nano", zoo=zoo_file)


@pytest.mark.slow
def test_the_first_steps_of_pretrain_nano_reproduce_the_manifest(tmp_path):
    """The manifest's claim: the recipe retrains the same model; its first logged steps agree to 1e-4
    relative on any CPU (bit for bit on the machine that built it)."""
    from stickeval.train import load_recipe, train

    doc = manifest(NANO)
    recorded = doc["training"]["first_steps"]
    with torch_threads(1):
        train(load_recipe(NANO.recipe), tmp_path / "nano", max_steps=recorded[-1]["step"], device="cpu")
    logged = [json.loads(line) for line in (tmp_path / "nano" / "train_log.jsonl").read_text().splitlines()]
    logged = [e for e in logged if "loss" in e]
    assert [e["step"] for e in logged] == [e["step"] for e in recorded]
    built_here = (doc["environment"]["torch"], doc["environment"]["machine"]["cpu"]) == (torch.__version__, _cpu_model())
    for ours, theirs in zip(logged, recorded):
        for term in ("loss", "pose", "action", "grad_norm"):
            if built_here:  # the claim on the machine that built it: bit for bit
                assert ours[term] == theirs[term], (ours["step"], term)
            assert ours[term] == pytest.approx(theirs[term], rel=1e-4), (ours["step"], term)


@pytest.mark.slow
def test_the_wheel_ships_the_builtin_weights_and_stays_under_10_mb(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-w", str(tmp_path), "-q"], check=True)
    (wheel,) = tmp_path.glob("stickeval-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for variant in (NANO, SFT):
        for name in (WEIGHTS, "config.json", MANIFEST):
            assert f"stickeval/zoo/builtin/{variant.name}/{name}" in names
    assert wheel.stat().st_size < 10 * 2**20
