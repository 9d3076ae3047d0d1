"""LoRA: every targeted matrix trains (fused q/k/v and SwiGLU included), merged equals adapted, the zoo loads the adapters,
and stickeval's adapters compute what peft's do on the same rank, alpha and targets."""

import torch
from peft import LoraConfig, get_peft_model

from stickeval.train.lora import adapter_state_dict, adapters, add_adapters, merge_adapters
from stickeval.train.recipe import LoraSection
from stickeval.zoo.checkpoint import merge_lora
from stickeval.zoo.model import ModelConfig, StickFigureTransformer
from tests.fixtures.checkpoints import LAYER_PROJECTIONS

TARGETS = LoraSection().target_modules


def tiny_model() -> StickFigureTransformer:
    torch.manual_seed(0)
    return StickFigureTransformer(ModelConfig(d_model=32, nhead=2, num_layers=2, embedding_dim=16, dropout=0.0))


def forward(model, dtype: torch.dtype = torch.float32):
    torch.manual_seed(1)
    motion, text = torch.randn(12, 3, 20, dtype=dtype), torch.randn(3, 16, dtype=dtype)
    return model(motion, text, return_all_outputs=True, action_sequence=torch.randint(0, 64, (12, 3)))


def test_default_targets_cover_attention_and_swiglu_of_every_layer():
    model = tiny_model()
    names = add_adapters(model, rank=4, alpha=8.0, dropout=0.0, target_modules=TARGETS)
    assert set(names) == {f"transformer_encoder.layers.{i}.{p}" for i in range(2) for p in LAYER_PROJECTIONS}
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


def test_stickeval_adapters_compute_what_peft_lora_computes_on_the_same_rank_alpha_and_targets():
    ours, theirs = tiny_model().double(), tiny_model().double()  # float64: W x + s B A x and (W + s B A) x then agree to 1e-12
    names = add_adapters(ours, rank=4, alpha=8.0, dropout=0.0, target_modules=TARGETS)
    as_one_pattern = ".*(?:" + "|".join(TARGETS) + ")"  # peft full-matches one regex; stickeval searches each
    peft_model = get_peft_model(theirs, LoraConfig(r=4, lora_alpha=8.0, lora_dropout=0.0, target_modules=as_one_pattern))
    with torch.no_grad():
        for name, adapter in adapters(ours).items():
            adapter.lora_B.normal_(0, 0.05)
            wrapped = peft_model.base_model.model.get_submodule(name)
            wrapped.lora_A["default"].weight.copy_(adapter.lora_A)
            wrapped.lora_B["default"].weight.copy_(adapter.lora_B)
    theirs_adapted = {n.removeprefix("base_model.model.").split(".lora_")[0] for n, p in peft_model.named_parameters() if p.requires_grad}
    assert theirs_adapted == set(names)
    out_ours, out_theirs = forward(ours, torch.float64), forward(peft_model, torch.float64)
    torch.testing.assert_close(out_ours["pose"], out_theirs["pose"], atol=1e-12, rtol=0)
    (out_ours["pose"].square().mean() + out_ours["action_logits"].square().mean()).backward()
    (out_theirs["pose"].square().mean() + out_theirs["action_logits"].square().mean()).backward()
    for name, adapter in adapters(ours).items():
        wrapped = peft_model.base_model.model.get_submodule(name)
        torch.testing.assert_close(adapter.lora_A.grad, wrapped.lora_A["default"].weight.grad, atol=1e-12, rtol=0)
        torch.testing.assert_close(adapter.lora_B.grad, wrapped.lora_B["default"].weight.grad, atol=1e-12, rtol=0)
