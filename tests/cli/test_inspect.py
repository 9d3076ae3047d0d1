"""`stickeval inspect`: a table or JSON for good files, one line and exit 1 for bad ones."""

import json

import pytest
import torch

from stickeval.version import __version__
from stickeval.zoo.checkpoint import save_checkpoint
from stickeval.zoo.model import ModelConfig, StickFigureTransformer
from tests.fixtures.checkpoints import build_broken_checkpoint, build_tiny_checkpoint


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


def test_inspect_of_the_shipped_nano_sft_shows_its_adapters_base_and_recorded_architecture(run_cli):
    from stickeval.zoo import get_variant

    result = run_cli("inspect", get_variant("nano-sft").builtin_dir)
    assert result.exit_code == 0, result.stderr
    lines = [" ".join(line.split()) for line in result.stdout.splitlines()]
    assert "LoRA rank 8, alpha 16; 28 tensors, 47,104 params" in lines
    assert "LoRA base nano (merged into it at load)" in lines
    assert "architecture as config.json records it (the file holds LoRA adapters alone)" in lines
    assert "d_model 128" in lines and "dropout 0.0" in lines  # config.json's values, not ModelConfig's defaults


def test_inspect_of_a_peft_adapter_directory_shows_rank_alpha_targets_and_base(run_cli, tmp_path):
    from peft import LoraConfig, get_peft_model

    from stickeval import zoo

    adapted = get_peft_model(zoo.load("nano").model, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"]))
    adapted.save_pretrained(tmp_path, save_embedding_layers=False)
    info = json.loads(run_cli("inspect", tmp_path, "--json").stdout)
    assert info["format"] == "peft" and info["config"] is None and info["n_params"] is None
    assert info["adapters"] == {"rank": 4, "alpha": 8.0, "modules": 4, "targets": ["self_attn.q_proj", "self_attn.v_proj"], "base": "nano"}
    table = run_cli("inspect", tmp_path).stdout
    assert "not in the file (LoRA adapters alone" in table and "nano (merged into it at load)" in table


def test_inspect_shows_config_jsons_dropout_and_causal(run_cli, tmp_path):
    build_tiny_checkpoint(tmp_path, dropout=0.0, causal=True)
    info = json.loads(run_cli("inspect", tmp_path, "--json").stdout)
    assert info["config"]["dropout"] == 0.0 and info["config"]["causal"] is True


def test_inspect_flags_nan_and_inf_weights_naming_them_and_exits_1(run_cli, tmp_path):
    nan = {"action_embedding.weight": torch.full((64, 64), float("nan")), "pose_decoder.3.bias": torch.full((20,), float("inf"))}
    directory = build_broken_checkpoint(tmp_path, nan)
    result = run_cli("inspect", directory)
    assert "NaN/inf" in result.stdout  # the table is shown, with the row that explains the error
    line = result.error_line()
    assert line.startswith(f"{directory / 'model.safetensors'} holds NaN or inf in 2 of ")
    assert "(action_embedding.weight, pose_decoder.3.bias)" in line and "lower optimizer.lr" in line
    assert json.loads(run_cli("inspect", directory, "--json").stdout)["non_finite"] == list(nan)


def test_a_wrong_shaped_width_tensor_is_named_with_its_expected_shape_by_inspect_and_run(run_cli, tmp_path):
    directory = build_broken_checkpoint(tmp_path / "ckpt", {"motion_embedding.2.weight": torch.zeros(5, 16)})
    for command in (("inspect", directory), ("run", directory, "--limit", "2", "--no-noise", "-o", tmp_path / "run")):
        line = run_cli(*command).error_line()
        assert "motion_embedding.2.weight: checkpoint [5, 16], expected [32, 16]" in line, command


def test_widths_that_make_nhead_zero_are_refused_not_shown(run_cli, tmp_path):
    fives = {
        "motion_embedding.2.weight": torch.zeros(5, 16),
        "motion_embedding.3.weight": torch.zeros(5),
        "text_projection.3.weight": torch.zeros(5, 64),
    }
    line = run_cli("inspect", build_broken_checkpoint(tmp_path, fives)).error_line()
    assert "impossible model: d_model 5 (from motion_embedding.2.weight [5, 16]) is not a multiple of the head size 16" in line
