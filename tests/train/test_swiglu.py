"""`stickeval.train.swiglu`: the SwiGLU's dropout(silu(gate) * value) as one operation, its mask a function of a seed."""

import math

import pytest
import torch
import torch.nn.functional as F

from stickeval.train.swiglu import FusedSwiGLU, drop_threshold, fusable, fuse_swiglu, swiglu_dropout
from stickeval.zoo.model import ModelConfig, StickFigureTransformer, SwiGLU


def seed(value: int, device: str = "cpu") -> torch.Tensor:
    return torch.tensor([value], device=device)


def within_binomial(kept: torch.Tensor, p: float) -> bool:
    """The kept share is 1 - p within 5 standard deviations of a binomial count."""
    n = kept.numel()
    return abs(kept.float().sum().item() - n * (1 - p)) < 5 * math.sqrt(n * p * (1 - p))


def reference(gv: torch.Tensor, keep: torch.Tensor, p: float) -> torch.Tensor:
    """dropout(silu(gate) * value) in fp32 with a given keep mask, as the unfused SwiGLU computes it."""
    gate, value = gv.float().split(gv.shape[-1] // 2, dim=-1)
    return torch.where(keep, F.silu(gate) * value / (1 - p), 0.0)


def test_the_threshold_is_p_in_units_of_two_to_the_minus_32():
    assert drop_threshold(0.1) == 429_496_730
    assert drop_threshold(0.0) == 0
    assert drop_threshold(1 - 2**-40) == 2**32 - 1


def test_it_keeps_each_element_with_probability_one_minus_p_scaled_by_one_over_one_minus_p():
    torch.manual_seed(0)
    gv = torch.randn(500, 2 * 400)
    h = swiglu_dropout(gv, 0.1, seed(3))
    keep = h != 0
    assert within_binomial(keep, 0.1)
    assert torch.allclose(h, reference(gv, keep, 0.1), atol=1e-6)


def test_the_same_seed_gives_the_same_mask_and_another_seed_another():
    gv = torch.randn(100, 2 * 1000)
    first, again, other = (swiglu_dropout(gv, 0.1, seed(s)) != 0 for s in (1, 1, 2))
    assert torch.equal(first, again)
    assert 0.80 < (first == other).float().mean().item() < 0.84  # independent masks agree on 0.9² + 0.1²


def test_its_gradient_is_the_unfused_gradient_with_the_same_mask():
    gv = torch.randn(6, 2 * 10, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: swiglu_dropout(t, 0.3, seed(7)), (gv,))


def test_it_is_used_on_cuda_only():
    assert not fusable(torch.device("cpu"))


def test_fusing_a_model_changes_no_weight_no_key_and_no_output_off_cuda():
    torch.manual_seed(0)
    model = StickFigureTransformer(ModelConfig(d_model=32, nhead=2, num_layers=2, embedding_dim=32)).eval()
    frames, text = torch.randn(5, 2, 20), torch.randn(2, 32)  # sequence-first, as the original
    before, state = model(frames, text, return_all_outputs=True), model.state_dict()
    assert fuse_swiglu(model) == 2
    assert all(type(layer.ffn) is FusedSwiGLU for layer in model.transformer_encoder.layers)
    assert not any(type(m) is SwiGLU for m in model.modules())
    assert model.state_dict().keys() == state.keys()
    for name, value in model(frames, text, return_all_outputs=True).items():
        assert torch.equal(value, before[name]), name
    model.train()
    torch.manual_seed(1)
    trained = model(frames, text)
    torch.manual_seed(1)
    for layer in model.transformer_encoder.layers:
        layer.ffn.__class__ = SwiGLU
    assert torch.equal(trained, model(frames, text))  # off CUDA, in training too: SwiGLU's own forward


@pytest.mark.gpu
@pytest.mark.parametrize("compiled", [False, True])
def test_on_cuda_it_matches_the_unfused_computation_with_its_own_mask(compiled):
    torch.manual_seed(0)
    gv = torch.randn(128, 250, 2 * 2048, device="cuda", dtype=torch.bfloat16, requires_grad=True)
    s = torch.tensor([5], device="cuda")
    op = torch.compile(swiglu_dropout) if compiled else swiglu_dropout
    h = op(gv, 0.1, s)
    # the mask depends on the seed and the shape alone; on inputs of ones no kept element is 0
    # (on gv's own values a gate that randn made exactly 0 would read as dropped)
    keep = swiglu_dropout(torch.ones_like(gv), 0.1, s) != 0
    assert within_binomial(keep, 0.1)
    assert not h[~keep].any()
    grad = torch.randn_like(h)
    h.backward(grad)
    expected = gv.detach().clone().requires_grad_(True)
    ref = reference(expected, keep, 0.1)
    torch.testing.assert_close(h.float(), ref, rtol=1e-2, atol=1e-2)
    ref.backward(grad.float())
    torch.testing.assert_close(gv.grad.float(), expected.grad.float(), rtol=2e-2, atol=2e-2)


@pytest.mark.gpu
def test_on_cuda_a_fused_model_trains_as_the_unfused_one():
    """Compiled bf16 steps of a fused and an unfused model from the same weights: their losses agree
    (up to the dropout draws, which differ)."""
    from stickeval.train.objective import compute_loss, make_batch

    losses = {}
    for fused in (False, True):
        torch.manual_seed(0)
        model = StickFigureTransformer(ModelConfig(d_model=128, nhead=4, num_layers=2, embedding_dim=32)).cuda().train()
        if fused:
            fuse_swiglu(model)
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
        g = torch.Generator().manual_seed(0)
        data = {
            "motion": torch.randn(64, 32, 20, generator=g),
            "embedding": torch.randn(64, 32, generator=g),
            "actions": torch.randint(0, 64, (64, 32), generator=g),
            "physics": torch.randn(64, 32, 6, generator=g),
            "gravity_scale": torch.ones(64),
        }
        data = {k: v.cuda() for k, v in data.items()}
        loss_fn = torch.compile(compute_loss)
        weights = {"temporal": 0.1, "action": 0.2, "physics": 0.25, "diff_physics": 0.1}
        curve = []
        for step in range(30):
            batch = make_batch(data, torch.arange(32, device="cuda") + 32 * (step % 2), torch.device("cuda"))
            with torch.autocast("cuda", dtype=torch.bfloat16):
                total = loss_fn(model, batch, weights)["total"]
            optimizer.zero_grad()
            total.backward()
            optimizer.step()
            curve.append(total.item())
        losses[fused] = curve
    assert losses[True][0] == pytest.approx(losses[False][0], rel=0.05)
    assert losses[True][-1] == pytest.approx(losses[False][-1], rel=0.15)
    assert losses[True][-1] < 0.7 * losses[True][0]
