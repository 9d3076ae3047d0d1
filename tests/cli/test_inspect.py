"""`stickeval inspect`: a table or JSON for good files, one line and exit 1 for bad ones."""

import json

import pytest
import torch

from stickeval.version import __version__
from stickeval.zoo.checkpoint import save_checkpoint
from stickeval.zoo.model import ModelConfig, StickFigureTransformer


@pytest.fixture
def checkpoint_dir(tmp_path):
    save_checkpoint(StickFigureTransformer(ModelConfig(d_model=32, nhead=2, num_layers=1, input_dim=48, output_dim=48)), tmp_path)
    return tmp_path


def test_version_prints_the_package_version(run_cli):
    result = run_cli("--version")
    assert result.exit_code == 0 and result.stdout.strip() == f"stickeval {__version__}"


def test_inspect_json_reports_format_config_schema_and_parameters(run_cli, checkpoint_dir):
    result = run_cli("inspect", checkpoint_dir / "pytorch_model.bin", "--json")
    assert result.exit_code == 0
    info = json.loads(result.stdout)
    assert info["format"] == "state_dict"
    assert info["schema"] == "v3"
    assert info["config"]["d_model"] == 32 and info["config"]["nhead"] == 2
    model = StickFigureTransformer(ModelConfig(**info["config"]))
    assert info["n_params"] == sum(p.numel() for p in model.parameters())


def test_inspect_table_names_the_schema(run_cli, checkpoint_dir):
    result = run_cli("inspect", checkpoint_dir)
    assert result.exit_code == 0
    assert "safetensors" in result.stdout and "v3 (48-dim)" in result.stdout


def test_inspect_reports_lora_and_image_conditioning_keys(run_cli, tmp_path):
    state_dict = StickFigureTransformer(ModelConfig(d_model=32, nhead=2, num_layers=1)).state_dict()
    state_dict["pose_decoder.3.base_layer.weight"] = state_dict.pop("pose_decoder.3.weight")
    state_dict["pose_decoder.3.lora_A"] = torch.zeros(4, 16)
    state_dict["pose_decoder.3.lora_B"] = torch.zeros(20, 4)
    state_dict["image_encoder.conv.weight"] = torch.zeros(8, 3, 3, 3)
    torch.save(state_dict, tmp_path / "wrapped.pt")
    info = json.loads(run_cli("inspect", tmp_path / "wrapped.pt", "--json").stdout)
    assert info["lora_keys"] == 2 and info["lora_params"] == 4 * 16 + 20 * 4
    assert info["image_conditioning_keys"] == 1


@pytest.mark.parametrize(
    "content, message",
    [
        (b"not a checkpoint", "is not a readable PyTorch checkpoint"),
        (b"PK\x03\x04truncated", "is not a readable PyTorch checkpoint"),
    ],
)
def test_inspect_of_a_bad_file_prints_one_line_and_exits_1(run_cli, tmp_path, content, message):
    path = tmp_path / "bad.bin"
    path.write_bytes(content)
    result = run_cli("inspect", path)
    assert result.exit_code == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert result.stderr.splitlines()[0].startswith("Error:")


def test_inspect_of_a_missing_path_exits_1(run_cli, tmp_path):
    result = run_cli("inspect", tmp_path / "nope.bin")
    assert result.exit_code == 1 and "does not exist" in result.stderr


def test_inspect_of_a_shape_mismatch_names_the_keys(run_cli, tmp_path):
    torch.save({"fc.weight": torch.zeros(1)}, tmp_path / "x.pt")
    result = run_cli("inspect", tmp_path / "x.pt")
    assert result.exit_code == 1 and "motion_embedding.2.weight" in result.stderr
