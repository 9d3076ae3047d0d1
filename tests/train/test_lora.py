"""LoRA: every targeted matrix trains (fused q/k/v and SwiGLU included), merged equals adapted, the zoo loads the adapters."""

import torch

from stickeval.train.lora import adapter_state_dict, adapters, add_adapters, merge_adapters
from stickeval.train.recipe import LoraSection
from stickeval.zoo.checkpoint import merge_lora
from stickeval.zoo.model import ModelConfig, StickFigureTransformer

TARGETS = LoraSection().target_modules


def tiny_model() -> StickFigureTransformer:
    torch.manual_seed(0)
    return StickFigureTransformer(ModelConfig(d_model=32, nhead=2, num_layers=2, embedding_dim=16, dropout=0.0))


def forward(model):
    torch.manual_seed(1)
    motion, text = torch.randn(12, 3, 20), torch.randn(3, 16)
    return model(motion, text, return_all_outputs=True, action_sequence=torch.randint(0, 64, (12, 3)))


def test_default_targets_cover_attention_and_swiglu_of_every_layer():
    model = tiny_model()
    names = add_adapters(model, rank=4, alpha=8.0, dropout=0.0, target_modules=TARGETS)
    per_layer = {
        "self_attn.q_proj",
        "self_attn.k_proj",
        "self_attn.v_proj",
        "self_attn.out_proj",
        "ffn.gate_proj",
        "ffn.value_proj",
        "ffn.output_proj",
    }
    assert set(names) == {f"transformer_encoder.layers.{i}.{p}" for i in range(2) for p in per_layer}
    assert {n for n, p in model.named_parameters() if p.requires_grad} == {
        f"{n}.parametrizations.weight.0.lora_{m}" for n in names for m in "AB"
    }


def test_every_adapter_matrix_gets_a_nonzero_gradient_through_the_fused_projections():
    model = tiny_model()
    add_adapters(model, rank=4, alpha=8.0, dropout=0.0, target_modules=TARGETS)
    with torch.no_grad():  # B starts at zero, which makes A's gradient zero: move B first
        for adapter in adapters(model).values():
            adapter.lora_B.normal_(0, 0.02)
    out = forward(model)
    (out["pose"].square().mean() + out["action_logits"].square().mean()).backward()
    for name, adapter in adapters(model).items():
        assert adapter.lora_A.grad is not None and adapter.lora_A.grad.abs().sum() > 0, name
        assert adapter.lora_B.grad is not None and adapter.lora_B.grad.abs().sum() > 0, name


def test_merged_model_equals_adapted_model_and_the_zoo_merge_of_saved_keys():
    model = tiny_model()
    add_adapters(model, rank=4, alpha=8.0, dropout=0.1, target_modules=TARGETS)
    with torch.no_grad():
        for adapter in adapters(model).values():
            adapter.lora_B.normal_(0, 0.05)
    model.eval()
    adapted = forward(model)["pose"]
    saved = adapter_state_dict(model)
    assert any(k.endswith(".lora_A") for k in saved) and not any("parametrizations" in k for k in saved)
    merged = merge_adapters(model)
    assert not adapters(merged)
    torch.testing.assert_close(forward(merged)["pose"], adapted, atol=1e-5, rtol=1e-5)
    by_zoo = StickFigureTransformer(ModelConfig(d_model=32, nhead=2, num_layers=2, embedding_dim=16, dropout=0.0)).eval()
    by_zoo.load_state_dict(merge_lora(saved, alpha=8.0, rank=4))
    torch.testing.assert_close(forward(by_zoo)["pose"], adapted, atol=1e-5, rtol=1e-5)
