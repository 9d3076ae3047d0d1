"""peft's LoRA on StickFigureTransformer: adapters train through every projection, merge exactly, and load in the zoo without peft."""

import copy
import sys

import pytest
import torch
from peft import LoraConfig, get_peft_model
from peft.tuners.lora import LoraLayer

from stickeval import zoo
from stickeval.errors import CheckpointError
from stickeval.evaluation.run import RunSettings, evaluate
from stickeval.zoo.model import ModelConfig, StickFigureTransformer
from tests.fixtures.checkpoints import LAYER_PROJECTIONS

PROJECTIONS = ["q_proj", "k_proj", "v_proj", "out_proj", "gate_proj", "value_proj", "output_proj"]
PER_LAYER = LAYER_PROJECTIONS


def tiny() -> StickFigureTransformer:
    torch.manual_seed(0)
    return StickFigureTransformer(ModelConfig(d_model=32, nhead=2, num_layers=2, embedding_dim=16, dropout=0.0))


def batch(config: ModelConfig) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    torch.manual_seed(1)
    return torch.randn(12, 3, config.input_dim), torch.randn(3, config.embedding_dim), torch.randint(0, config.num_actions, (12, 3))


def poses(model, config: ModelConfig, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    motion, text, actions = batch(config)
    with torch.no_grad():
        return copy.deepcopy(model).to(dtype)(motion.to(dtype), text.to(dtype), action_sequence=actions)


def train(model, config: ModelConfig, steps: int):
    """A few AdamW steps on a toy loss; returns the model (its last step's gradients kept)."""
    motion, text, actions = batch(config)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    model.train()
    for _ in range(steps):
        optimizer.zero_grad()
        out = model(motion, text, return_all_outputs=True, action_sequence=actions)
        (out["pose"].square().mean() + out["action_logits"].square().mean()).backward()
        optimizer.step()
    return model.eval()


def lora(model: StickFigureTransformer, **overrides):
    return get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules=PROJECTIONS, **overrides))


def test_peft_lora_wraps_the_attention_and_feed_forward_projections_of_every_layer():
    adapted = lora(tiny())
    wrapped = {name.removeprefix("base_model.model.") for name, m in adapted.named_modules() if isinstance(m, LoraLayer)}
    assert wrapped == {f"transformer_encoder.layers.{i}.{p}" for i in range(2) for p in PER_LAYER}


def test_peft_lora_training_gives_every_adapter_a_gradient_and_changes_the_outputs():
    model = tiny()
    before = poses(model, model.config)
    adapted = train(lora(model), model.config, steps=2)  # B starts at zero, so A's gradient is zero until one step moved B
    grads = {name: p.grad for name, p in adapted.named_parameters() if "lora_" in name}
    assert len(grads) == 2 * 7 * 2
    for name, grad in grads.items():
        assert grad is not None and grad.abs().sum() > 0, name
    assert not torch.allclose(poses(adapted, model.config), before, atol=1e-4)


def test_merge_and_unload_gives_the_adapted_outputs():
    model = tiny()
    adapted = train(lora(model), model.config, steps=3)
    expected = poses(adapted, model.config)
    merged = adapted.merge_and_unload()
    assert isinstance(merged, StickFigureTransformer) and not any(isinstance(m, LoraLayer) for m in merged.modules())
    assert (poses(merged, model.config) - expected).abs().max() < 1e-6


@pytest.fixture(scope="module")
def nano():
    return zoo.load("nano")


@pytest.mark.parametrize("rslora", [False, True], ids=["lora", "rslora"])
def test_a_peft_saved_adapter_loads_in_the_zoo_without_peft_as_the_merged_model(nano, tmp_path, monkeypatch, rslora):
    base = zoo.load("nano").model  # zoo.load names it, and peft records the name as the adapters' base
    adapted = train(lora(base, use_rslora=rslora), nano.config, steps=3)
    adapted.save_pretrained(tmp_path, save_embedding_layers=False)  # "auto" asks the Hub about the base's vocabulary
    merged = adapted.merge_and_unload()
    monkeypatch.setitem(sys.modules, "peft", None)  # any import of peft from here on fails
    loaded = zoo.load(str(tmp_path))
    assert loaded.provenance.base.variant == "nano" and loaded.encoder == "hash" and loaded.config == nano.config
    # both merges round W + (alpha / r) B A to float32; compared in float64 the rest is exact
    expected = poses(merged, nano.config, torch.float64)
    assert (poses(loaded.model, nano.config, torch.float64) - expected).abs().max() < 1e-6
    assert not torch.allclose(poses(nano.model, nano.config, torch.float64), expected, atol=1e-4)


def test_a_run_evaluates_a_peft_adapter_directory_with_its_base_recorded(nano, tmp_path):
    adapted = train(lora(zoo.load("nano").model), nano.config, steps=2)
    adapted.save_pretrained(tmp_path / "adapters", save_embedding_layers=False)
    results = evaluate(zoo.load(str(tmp_path / "adapters")), RunSettings(limit=4, noise=False), tmp_path / "run")
    assert results["model"]["base"]["variant"] == "nano"
    assert results["suite"]["n"] == 4 and results["metrics"]["pose_mse"]["mean"] is not None


def test_adapters_saved_without_a_base_name_ask_for_one(tmp_path):
    lora(tiny()).save_pretrained(tmp_path)  # built directly, not by zoo.load: peft records no base model
    with pytest.raises(CheckpointError, match=r"names no base model \(base_model_name_or_path is null\)"):
        zoo.load(str(tmp_path))


def test_peft_options_a_weight_merge_cannot_express_are_refused_in_one_line(nano, tmp_path):
    lora(zoo.load("nano").model, use_dora=True).save_pretrained(tmp_path, save_embedding_layers=False)
    with pytest.raises(CheckpointError, match="sets use_dora, which a LoRA weight merge cannot express") as e:
        zoo.load(str(tmp_path))
    assert "\n" not in str(e.value)


def test_a_peft_adapter_repo_on_the_hub_loads_through_a_zoo_entry_naming_its_weights_file(tiny_zoo, tmp_path):
    base = zoo.load("tiny", zoo=tiny_zoo.zoo)
    adapted = train(lora(zoo.load("tiny", zoo=tiny_zoo.zoo).model), base.config, steps=2)
    adapted.save_pretrained(tmp_path / "adapters", save_embedding_layers=False)
    expected = poses(adapted.merge_and_unload(), base.config, torch.float64)
    tiny_zoo.hub.store.import_directory("me/stick-gen-tiny-peft", tmp_path / "adapters", summary="peft adapters")
    entry = '\n[tiny-peft]\nrepo_id = "me/stick-gen-tiny-peft"\nweight_files = ["adapter_model.safetensors"]\n'
    (tmp_path / "zoo.toml").write_text(tiny_zoo.zoo.read_text() + entry)
    loaded = zoo.load("tiny-peft", zoo=tmp_path / "zoo.toml")
    assert loaded.provenance.repo_id == "me/stick-gen-tiny-peft" and loaded.provenance.base.repo_id == tiny_zoo.repo_id
    assert (poses(loaded.model, base.config, torch.float64) - expected).abs().max() < 1e-6
