"""StickFigureTransformer keeps the nn.Module protocol: hooks on any Linear fire, wrappers that replace one take effect."""

import math

import pytest
import torch
from torch import nn

from stickeval.zoo.model import ModelConfig, StickFigureTransformer
from tests.fixtures.checkpoints import LAYER_PROJECTIONS

PROJECTIONS = LAYER_PROJECTIONS


def tiny() -> StickFigureTransformer:
    torch.manual_seed(0)
    return StickFigureTransformer(ModelConfig(d_model=32, nhead=2, num_layers=2, embedding_dim=16)).eval()


def every_input() -> dict[str, torch.Tensor]:
    """Inputs that reach every Linear: actions, camera and partner tracks, and every head."""
    torch.manual_seed(1)
    S, B = 7, 2
    return {
        "motion": torch.randn(S, B, 20),
        "text_embedding": torch.randn(B, 16),
        "return_all_outputs": True,
        "action_sequence": torch.randint(0, 64, (S, B)),
        "camera_data": torch.randn(S, B, 3),
        "partner_motion": torch.randn(S, B, 20),
    }


def linears(model: nn.Module) -> dict[str, nn.Linear]:
    return {name: m for name, m in model.named_modules() if isinstance(m, nn.Linear)}


def outputs(model: nn.Module) -> dict[str, torch.Tensor]:
    with torch.no_grad():
        return model(**every_input())


def test_a_forward_hook_on_every_linear_fires_once_per_forward():
    model = tiny()
    calls = dict.fromkeys(linears(model), 0)
    for name, layer in linears(model).items():
        layer.register_forward_hook(lambda module, args, out, name=name: calls.__setitem__(name, calls[name] + 1))
    outputs(model)
    assert len(calls) == 7 * 2 + 21  # 7 projections in each of 2 layers; 21 in the embeddings and heads
    assert calls == dict.fromkeys(calls, 1)


def test_a_global_module_hook_sees_every_linear_once_per_forward():
    model = tiny()
    seen = []
    handle = torch.nn.modules.module.register_module_forward_hook(
        lambda module, args, out: seen.append(module) if isinstance(module, nn.Linear) else None
    )
    try:
        outputs(model)
    finally:
        handle.remove()
    assert sorted(id(m) for m in seen) == sorted(id(m) for m in linears(model).values())


def test_hooks_see_each_projection_once_when_only_the_last_position_is_computed():
    model = tiny()
    layer = model.transformer_encoder.layers[1]
    calls = []
    for name in PROJECTIONS:
        layer.get_submodule(name).register_forward_pre_hook(lambda module, args, name=name: calls.append((name, args[0].shape[1])))
    with torch.no_grad():
        model.encode(torch.randn(2, 9, 32), last_only=True)
    # q and everything after attention run on the last position only; k and v on the whole prefix
    assert sorted(calls) == sorted([(n, 9 if n in ("self_attn.k_proj", "self_attn.v_proj") else 1) for n in PROJECTIONS])


def test_observing_the_projections_leaves_the_outputs_unchanged():
    model = tiny()
    plain = outputs(model)
    for layer in linears(model).values():
        layer.register_forward_hook(lambda module, args, out: None)
    observed = outputs(model)
    for key, value in plain.items():
        torch.testing.assert_close(observed[key], value, atol=1e-6, rtol=1e-6)


def test_a_forward_hook_that_replaces_a_projection_output_changes_the_model_output():
    model = tiny()
    plain = outputs(model)
    model.transformer_encoder.layers[0].self_attn.v_proj.register_forward_hook(lambda module, args, out: torch.zeros_like(out))
    silenced = outputs(model)
    assert not torch.allclose(silenced["pose"], plain["pose"], atol=1e-3)


class LoRALinear(nn.Module):
    """The original repository's LoRA wrapper: keeps the base Linear and adds (alpha / r) B A x; no `weight` or `out_features`."""

    def __init__(self, base: nn.Linear, rank: int, alpha: float):
        super().__init__()
        self.base_layer = base
        self.lora_A = nn.Parameter(torch.empty(rank, base.in_features))
        self.lora_B = nn.Parameter(torch.empty(base.out_features, rank))
        nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))
        nn.init.normal_(self.lora_B, std=0.05)  # a trained adapter: zero B would leave the output unchanged
        self.scale = alpha / rank

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base_layer(x) + self.scale * (x @ self.lora_A.T @ self.lora_B.T)


@pytest.mark.parametrize("targets", [PROJECTIONS, ("self_attn.k_proj",), ("ffn.value_proj",)], ids=["all", "k", "value"])
def test_a_wrapper_in_place_of_a_projection_computes_what_its_merged_weights_compute(targets):
    model, merged = tiny(), tiny()
    torch.manual_seed(2)
    for i, layer in enumerate(model.transformer_encoder.layers):
        for name in targets:
            parent, attr = name.split(".")
            wrapper = LoRALinear(layer.get_submodule(name), rank=4, alpha=8.0)
            setattr(layer.get_submodule(parent), attr, wrapper)
            with torch.no_grad():
                merged.transformer_encoder.layers[i].get_submodule(name).weight += wrapper.scale * wrapper.lora_B @ wrapper.lora_A
    adapted, expected, base = outputs(model), outputs(merged), outputs(tiny())
    assert not torch.allclose(adapted["pose"], base["pose"], atol=1e-3)
    for key, value in expected.items():
        torch.testing.assert_close(adapted[key], value, atol=1e-5, rtol=1e-5)


def test_the_model_compiles_as_one_graph_and_hooks_registered_before_compiling_fire():
    model = tiny()
    calls = []
    model.transformer_encoder.layers[0].self_attn.k_proj.register_forward_hook(lambda module, args, out: calls.append(out.shape))
    expected = outputs(model)
    calls.clear()
    torch._dynamo.reset()
    compiled = torch.compile(model, fullgraph=True, backend="eager")
    with torch.no_grad():
        got = compiled(**every_input())
    assert len(calls) == 1
    for key, value in expected.items():
        torch.testing.assert_close(got[key], value, atol=1e-6, rtol=1e-6)


def test_the_model_exports_with_a_dynamic_sequence_length():
    model = tiny()
    torch.manual_seed(4)
    frames = torch.export.Dim("frames", min=2, max=300)
    motion, text, actions = torch.randn(9, 2, 20), torch.randn(2, 16), torch.randint(0, 64, (9, 2))
    program = torch.export.export(
        model,
        (motion, text),
        {"action_sequence": actions},
        dynamic_shapes={"motion": {0: frames}, "text_embedding": None, "action_sequence": {0: frames}},
    )
    longer, longer_actions = torch.randn(31, 2, 20), torch.randint(0, 64, (31, 2))
    with torch.no_grad():
        expected = model(longer, text, action_sequence=longer_actions)
    torch.testing.assert_close(program.module()(longer, text, action_sequence=longer_actions), expected, atol=1e-6, rtol=1e-6)
