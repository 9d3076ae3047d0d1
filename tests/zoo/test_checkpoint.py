"""Checkpoint formats: every shape of Stick-Gen weights loads, and every bad file fails clearly."""

import json
import os

import pytest
import torch
from safetensors.torch import save_file

from stickeval.errors import CheckpointError, StateDictMismatchError
from stickeval.zoo.checkpoint import (
    describe_checkpoint,
    infer_config,
    load_checkpoint,
    merge_lora,
    non_finite_keys,
    read_checkpoint,
    read_config_json,
    save_checkpoint,
)
from stickeval.zoo.model import ModelConfig, StickFigureTransformer
from tests.fixtures.checkpoints import build_broken_checkpoint, build_tiny_checkpoint

CONFIG = ModelConfig(d_model=32, nhead=2, num_layers=2, num_actions=46)


@pytest.fixture
def model() -> StickFigureTransformer:
    torch.manual_seed(1)
    return StickFigureTransformer(CONFIG).eval()


def outputs(model: StickFigureTransformer) -> torch.Tensor:
    torch.manual_seed(2)
    motion, text = torch.randn(5, 2, 20), torch.randn(2, 1024)
    actions = torch.randint(0, model.config.num_actions, (5, 2))
    with torch.no_grad():
        return model(motion, text, action_sequence=actions)


def wrap_with_lora(state_dict: dict, targets: list[str], rank: int) -> dict:
    """Rename `x.weight` to `x.base_layer.weight` and add random adapters, as the original's LoRALinear does."""
    out = dict(state_dict)
    for name in targets:
        w = out.pop(f"{name}.weight")
        out[f"{name}.base_layer.weight"] = w
        if f"{name}.bias" in out:
            out[f"{name}.base_layer.bias"] = out.pop(f"{name}.bias")
        out[f"{name}.lora_A"] = torch.randn(rank, w.shape[1])
        out[f"{name}.lora_B"] = torch.randn(w.shape[0], rank)
    return out


def test_saved_directory_holds_safetensors_config_and_a_bare_state_dict(model, tmp_path):
    save_checkpoint(model, tmp_path, metadata={"text_encoder": "hash"})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json", "model.safetensors", "pytorch_model.bin"]
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["schema"] == "v1" and config["text_encoder"] == "hash" and config["d_model"] == 32


@pytest.mark.parametrize("file", ["model.safetensors", "pytorch_model.bin", "."])
def test_save_then_load_gives_identical_outputs_and_config(model, tmp_path, file):
    save_checkpoint(model, tmp_path)
    loaded, config = load_checkpoint(tmp_path / file)
    assert config == CONFIG
    assert not loaded.training
    assert torch.equal(outputs(loaded), outputs(model))


def test_training_dict_loads_and_ignores_optimizer_state(model, tmp_path):
    path = tmp_path / "checkpoint.pth"
    torch.save({"model_state_dict": model.state_dict(), "optimizer_state_dict": {}, "epoch": 3}, path)
    loaded, config = load_checkpoint(path)
    assert config == CONFIG
    assert torch.equal(outputs(loaded), outputs(model))
    assert describe_checkpoint(path)["training_dict_keys"] == ["epoch", "optimizer_state_dict"]


def test_compile_and_ddp_prefixes_are_stripped(model, tmp_path):
    path = tmp_path / "compiled.pt"
    torch.save({f"_orig_mod.module.{k}": v for k, v in model.state_dict().items()}, path)
    assert torch.equal(outputs(load_checkpoint(path)[0]), outputs(model))


def test_lora_wrapped_training_dict_merges_to_w_plus_scaled_ba(model, tmp_path):
    targets = ["transformer_encoder.layers.0.self_attn.q_proj", "pose_decoder.3"]
    torch.manual_seed(3)
    wrapped = wrap_with_lora(model.state_dict(), targets, rank=4)
    path = tmp_path / "lora.pth"
    torch.save({"model_state_dict": wrapped, "lora_config": {"rank": 4, "alpha": 8}}, path)
    loaded, config = load_checkpoint(path)
    assert config == CONFIG
    for name in targets:
        expected = model.state_dict()[f"{name}.weight"] + 2.0 * wrapped[f"{name}.lora_B"] @ wrapped[f"{name}.lora_A"]
        assert torch.allclose(loaded.state_dict()[f"{name}.weight"], expected, atol=1e-6)
    assert torch.equal(loaded.state_dict()["pose_decoder.3.bias"], model.state_dict()["pose_decoder.3.bias"])


def test_lora_with_zero_b_is_the_base_model(model, tmp_path):
    wrapped = wrap_with_lora(model.state_dict(), ["pose_decoder.0"], rank=2)
    wrapped["pose_decoder.0.lora_B"].zero_()  # LoRA's initial state: B = 0
    path = tmp_path / "lora.pt"
    torch.save(wrapped, path)
    assert torch.equal(outputs(load_checkpoint(path, lora_alpha=16)[0]), outputs(model))


def test_adapter_only_file_applies_to_a_base_checkpoint(model, tmp_path):
    save_checkpoint(model, tmp_path / "base")
    adapters = {"pose_decoder.3.lora_A": torch.ones(1, 16), "pose_decoder.3.lora_B": torch.ones(20, 1)}
    torch.save({"model_state_dict": adapters, "lora_config": {"r": 1, "lora_alpha": 0.5}}, tmp_path / "adapters.pt")
    loaded, _ = load_checkpoint(tmp_path / "adapters.pt", base=tmp_path / "base")
    expected = model.state_dict()["pose_decoder.3.weight"] + 0.5
    assert torch.allclose(loaded.state_dict()["pose_decoder.3.weight"], expected)


def test_lora_keys_without_alpha_are_refused_naming_where_to_give_it(model, tmp_path):
    path = tmp_path / "lora.pt"
    torch.save(wrap_with_lora(model.state_dict(), ["pose_decoder.3"], rank=2), path)
    with pytest.raises(CheckpointError, match="no lora_config with alpha.*lora_alpha = .* in a --zoo entry"):
        load_checkpoint(path)


def test_a_lora_layer_with_only_one_matrix_says_the_adapters_are_incomplete():
    sd = {"x.weight": torch.zeros(3, 3), "x.lora_A": torch.zeros(2, 3)}
    with pytest.raises(CheckpointError) as e:
        merge_lora(sd, alpha=1.0)
    assert str(e.value) == (
        "LoRA layer x has lora_A but no lora_B: the adapter file is incomplete. "
        "Re-export the adapters with both matrices for every adapted layer."
    )


def test_adapters_without_a_base_weight_say_to_pass_the_base_checkpoint():
    sd = {"x.lora_A": torch.zeros(2, 3), "x.lora_B": torch.zeros(3, 2)}
    with pytest.raises(CheckpointError) as e:
        merge_lora(sd, alpha=1.0)
    message = str(e.value)
    assert message.startswith("LoRA adapters for x have no base weight (x.weight) to merge into.")
    assert "base = " in message and "--zoo" in message and "load_checkpoint(path, base=...)" in message


def test_lora_rank_that_contradicts_the_shapes_is_refused():
    sd = {"x.weight": torch.zeros(3, 3), "x.lora_A": torch.zeros(2, 3), "x.lora_B": torch.zeros(3, 2)}
    with pytest.raises(CheckpointError, match="rank 4 was given but x.lora_A has rank 2"):
        merge_lora(sd, alpha=1.0, rank=4)


def test_config_is_inferred_from_shapes_for_each_published_size():
    for config in (
        ModelConfig(d_model=256, nhead=8, num_layers=6),
        ModelConfig(d_model=512, nhead=16, num_layers=10),
        ModelConfig(input_dim=48, output_dim=48, num_actions=46),
    ):
        with torch.device("meta"):
            state_dict = StickFigureTransformer(config).state_dict()
        assert infer_config(state_dict) == config


def test_causal_flag_comes_from_config_json(tmp_path):
    save_checkpoint(StickFigureTransformer(ModelConfig(d_model=32, nhead=2, num_layers=1, causal=True)), tmp_path)
    assert load_checkpoint(tmp_path)[1].causal is True


def test_a_file_that_is_not_a_checkpoint_is_refused(tmp_path):
    path = tmp_path / "notes.bin"
    path.write_text("these are not weights\n")
    with pytest.raises(CheckpointError, match="not a readable PyTorch checkpoint"):
        load_checkpoint(path)


def test_a_truncated_checkpoint_is_refused(model, tmp_path):
    save_checkpoint(model, tmp_path)
    for name in ("pytorch_model.bin", "model.safetensors"):
        data = (tmp_path / name).read_bytes()
        cut = tmp_path / f"cut_{name}"
        cut.write_bytes(data[: len(data) // 2])
        with pytest.raises(CheckpointError, match="truncated|not a readable"):
            load_checkpoint(cut)


class _RunsCode:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.makedirs, (self.marker,))


def test_a_pickle_that_would_execute_code_is_refused_not_run(tmp_path):
    marker = tmp_path / "executed"
    path = tmp_path / "evil.pt"
    torch.save({"model_state_dict": _RunsCode(str(marker))}, path)
    with pytest.raises(CheckpointError, match="refused.*never runs code"):
        load_checkpoint(path)
    assert not marker.exists()


def test_missing_keys_are_named(model, tmp_path):
    state_dict = model.state_dict()
    del state_dict["physics_decoder.3.bias"]
    torch.save(state_dict, tmp_path / "m.pt")
    with pytest.raises(StateDictMismatchError, match=r"1 missing key\(s\) \(physics_decoder.3.bias\)") as e:
        load_checkpoint(tmp_path / "m.pt")
    assert e.value.missing_keys == ["physics_decoder.3.bias"]


def test_unexpected_keys_are_named(model, tmp_path):
    state_dict = {**model.state_dict(), "extra_head.weight": torch.zeros(2)}
    torch.save(state_dict, tmp_path / "m.pt")
    with pytest.raises(StateDictMismatchError, match=r"unexpected key\(s\) \(extra_head.weight\)"):
        load_checkpoint(tmp_path / "m.pt")


def test_shape_mismatch_names_the_key_and_both_shapes(model, tmp_path):
    state_dict = model.state_dict()
    state_dict["physics_decoder.3.weight"] = torch.zeros(7, 16)
    save_file(state_dict, str(tmp_path / "model.safetensors"))
    with pytest.raises(StateDictMismatchError, match=r"physics_decoder.3.weight: checkpoint \[7, 16\], expected \[6, 16\]"):
        load_checkpoint(tmp_path)


def test_one_wrong_shaped_width_tensor_is_named_instead_of_redefining_the_model(tmp_path):
    directory = build_broken_checkpoint(tmp_path, {"motion_embedding.2.weight": torch.zeros(5, 16)})  # d_model 32
    expected = r"\(d_model 32, nhead 2, .*motion_embedding.2.weight: checkpoint \[5, 16\], expected \[32, 16\]"
    for call in (load_checkpoint, describe_checkpoint):  # the one check both rely on
        with pytest.raises(StateDictMismatchError, match=expected) as e:
            call(directory)
        assert e.value.shape_mismatches == [("motion_embedding.2.weight", (5, 16), (32, 16))]


def test_widths_that_give_no_possible_model_are_refused_naming_the_tensors(tmp_path):
    # most tensors that carry d_model now say 5, with a head size of 16: nhead would be 0
    fives = {
        "motion_embedding.2.weight": torch.zeros(5, 16),
        "motion_embedding.3.weight": torch.zeros(5),
        "text_projection.3.weight": torch.zeros(5, 64),
    }
    directory = build_broken_checkpoint(tmp_path, fives)
    for call in (load_checkpoint, describe_checkpoint):
        with pytest.raises(StateDictMismatchError) as e:
            call(directory)
        assert "impossible model: d_model 5 (from motion_embedding.2.weight [5, 16]) is not a multiple of the head size 16" in str(e.value)


def test_an_empty_head_frequency_table_is_an_impossible_model_not_a_division_by_zero(tmp_path):
    directory = build_broken_checkpoint(tmp_path, {"transformer_encoder.layers.0.self_attn.rope.inv_freq": torch.zeros(0)})
    with pytest.raises(StateDictMismatchError, match="is not a multiple of the head size 0"):
        load_checkpoint(directory)


def test_dropout_and_causal_come_from_config_json(tmp_path):
    build_tiny_checkpoint(tmp_path, dropout=0.0, causal=True)
    config = load_checkpoint(tmp_path)[1]
    assert (config.dropout, config.causal) == (0.0, True)
    assert describe_checkpoint(tmp_path)["config"]["dropout"] == 0.0


def test_non_finite_keys_names_the_tensors_holding_nan_or_inf():
    state_dict = {"a": torch.zeros(3), "b": torch.tensor([1.0, float("nan")]), "c": torch.tensor([float("-inf")]), "d": torch.arange(3)}
    assert non_finite_keys(state_dict) == ["b", "c"]
    assert non_finite_keys({"steps": torch.arange(2)}) == []


@pytest.mark.parametrize("content", [[1, 2, 3], {}, {"model_state_dict": {"weight": 3}}])
def test_a_file_without_a_state_dict_says_what_to_save_instead(tmp_path, content):
    path = tmp_path / "odd.pt"
    torch.save(content, path)
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(path)
    assert str(e.value) == (
        f"{path} holds no state_dict (expected a dict of tensors, or a training dict with `model_state_dict`). "
        "Save the weights with save_checkpoint, or torch.save(model.state_dict(), path)."
    )
    assert e.value.path == str(path)


@pytest.mark.parametrize(
    ("text", "problem"),
    [('{"causal": true,', "is not valid JSON (Expecting"), ("[1, 2]", "holds a JSON list, not an object")],
)
def test_a_malformed_config_json_beside_the_weights_is_a_checkpoint_error(model, tmp_path, text, problem):
    save_checkpoint(model, tmp_path)
    config = tmp_path / "config.json"
    config.write_text(text)
    for call in (load_checkpoint, describe_checkpoint, read_checkpoint):
        with pytest.raises(CheckpointError) as e:
            call(tmp_path / "model.safetensors")
        message = str(e.value)
        assert message.startswith(f"{config} {problem}") and "\n" not in message
        assert message.endswith("Re-save the checkpoint with save_checkpoint or fix the file.")
        assert e.value.path == str(config)


def test_read_config_json_of_a_directory_without_one_is_none(tmp_path):
    assert read_config_json(tmp_path) is None


def test_a_model_of_another_width_saves_with_a_null_schema_and_loads_back(tmp_path):
    config = ModelConfig(input_dim=8, output_dim=8, d_model=32, nhead=2, num_layers=1)
    save_checkpoint(StickFigureTransformer(config), tmp_path)
    assert json.loads((tmp_path / "config.json").read_text())["schema"] is None
    assert load_checkpoint(tmp_path)[1] == config
    assert describe_checkpoint(tmp_path)["schema"] is None


def test_a_state_dict_of_another_model_says_why_the_architecture_is_unknown(tmp_path):
    torch.save({"fc.weight": torch.zeros(2, 2)}, tmp_path / "other.pt")
    with pytest.raises(StateDictMismatchError, match="Not a Stick-Gen state_dict"):
        load_checkpoint(tmp_path / "other.pt")


def test_a_directory_without_weights_says_what_it_looked_for(tmp_path):
    with pytest.raises(CheckpointError, match="model.safetensors, pytorch_model.bin"):
        load_checkpoint(tmp_path)


def test_saving_leaves_no_temporary_files(model, tmp_path):
    save_checkpoint(model, tmp_path)
    save_checkpoint(model, tmp_path)  # overwrite in place
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
