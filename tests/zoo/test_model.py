"""StickFigureTransformer: numerically the original, plus the fixes it documents."""

import math

import pytest
import torch
from torch.overrides import TorchFunctionMode

from stickeval.zoo.checkpoint import load_checkpoint, save_checkpoint
from stickeval.zoo.model import ModelConfig, StickFigureTransformer, count_parameters

PUBLISHED = {
    "small": (ModelConfig(d_model=256, nhead=8, num_layers=6), 7_248_894),
    "medium": (ModelConfig(d_model=384, nhead=12, num_layers=8), 20_595_646),
    "large": (ModelConfig(d_model=512, nhead=16, num_layers=10), 44_619_646),
}


def golden_model(golden: dict) -> StickFigureTransformer:
    model = StickFigureTransformer(ModelConfig(**golden["config"]))
    model.load_state_dict(golden["state_dict"], strict=True)
    return model.eval()


def tiny(**overrides) -> StickFigureTransformer:
    torch.manual_seed(0)
    return StickFigureTransformer(ModelConfig(d_model=32, nhead=2, num_layers=2, **overrides)).eval()


def test_forward_reproduces_the_original_code_on_the_golden_file(golden_v1):
    model, inputs = golden_model(golden_v1), golden_v1["inputs"]
    with torch.no_grad():
        out = model(inputs["motion"], inputs["text_embedding"], return_all_outputs=True, action_sequence=inputs["action_sequence"])
        pose_only = model(inputs["motion"], inputs["text_embedding"])
    assert set(out) == set(golden_v1["outputs"])
    for key, expected in golden_v1["outputs"].items():
        assert out[key].shape == expected.shape
        assert (out[key] - expected).abs().max() < 1e-5, key
    assert (pose_only - golden_v1["pose_only"]).abs().max() < 1e-5


def test_plain_loop_rollout_reproduces_the_original_generation(golden_v1):
    """Frame 0 zeros; for t = 1..T-1 run on frames [0, t) and write the last output into frame t."""
    model, inputs = golden_model(golden_v1), golden_v1["inputs"]
    expected = golden_v1["rollout"]
    n_prompts, frames, dim = expected.shape
    rollout = torch.zeros_like(expected)
    with torch.no_grad():
        for b in range(n_prompts):
            motion = torch.zeros(frames, 1, dim)
            for t in range(1, frames):
                pose = model(motion[:t], inputs["text_embedding"][b : b + 1], action_sequence=inputs["action_sequence"][:t, b : b + 1])
                motion[t] = pose[-1]
            rollout[b] = motion[:, 0]
    assert (rollout - expected).abs().max() < 1e-5


@pytest.mark.parametrize("name", PUBLISHED)
def test_published_sizes_have_the_published_parameter_counts(name):
    config, expected = PUBLISHED[name]
    with torch.device("meta"):
        model = StickFigureTransformer(config)
    assert sum(p.numel() for p in model.parameters()) == expected
    assert count_parameters(config) == expected


def test_parameter_count_formula_follows_schema_and_action_count():
    for config in (ModelConfig(input_dim=48, output_dim=48), ModelConfig(num_actions=46), tiny().config):
        with torch.device("meta"):
            model = StickFigureTransformer(config)
        assert count_parameters(config) == sum(p.numel() for p in model.parameters())


def test_state_dict_has_the_original_key_names(golden_v1):
    model = StickFigureTransformer(ModelConfig(**golden_v1["config"]))
    assert list(model.state_dict()) == list(golden_v1["state_dict"])


def test_schema_v3_model_builds_runs_saves_and_reloads_identically(tmp_path):
    model = tiny(input_dim=48, output_dim=48)
    motion, text = torch.randn(7, 2, 48), torch.randn(2, 1024)
    with torch.no_grad():
        before = model(motion, text)
    save_checkpoint(model, tmp_path)
    loaded, config = load_checkpoint(tmp_path)
    with torch.no_grad():
        after = loaded(motion, text)
    assert before.shape == (7, 2, 48)
    assert config == model.config
    assert torch.equal(before, after)


def test_rope_tables_follow_the_module_dtype():
    model = tiny()
    motion, text = torch.randn(6, 2, 20), torch.randn(2, 1024)
    with torch.no_grad():
        out32 = model(motion, text)
        out64 = model.double()(motion.double(), text.double())
    assert out64.dtype == torch.float64
    assert torch.allclose(out32.double(), out64, atol=1e-4)


def reference_forward_float64(state_dict: dict, config: ModelConfig, motion, text, actions) -> torch.Tensor:
    """The original's pose output written out with float64 tensor arithmetic from a state_dict, sequence-first throughout."""
    w = {k: v.double() for k, v in state_dict.items()}
    D, H = config.d_model, config.nhead
    hd = D // H

    def linear(x, name, bias=True):
        return x @ w[f"{name}.weight"].T + (w[f"{name}.bias"] if bias else 0.0)

    def layer_norm(x, name):
        centred = x - x.mean(-1, keepdim=True)
        return centred / torch.sqrt(centred.pow(2).mean(-1, keepdim=True) + 1e-5) * w[f"{name}.weight"] + w[f"{name}.bias"]

    def rms_norm(x, name):
        return x / torch.sqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6) * w[f"{name}.weight"]

    def gelu(x):
        return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))

    def rope(x, inv_freq):  # x: (S, B, H, hd)
        angles = torch.arange(x.shape[0], dtype=torch.float64)[:, None] * inv_freq[None, :]
        cos, sin = torch.cat((angles, angles), -1).cos()[:, None, None], torch.cat((angles, angles), -1).sin()[:, None, None]
        x1, x2 = x[..., : hd // 2], x[..., hd // 2 :]
        return x * cos + torch.cat((-x2, x1), -1) * sin

    m = layer_norm(linear(gelu(linear(motion, "motion_embedding.0")), "motion_embedding.2"), "motion_embedding.3")
    m = m + layer_norm(linear(w["action_embedding.weight"][actions], "action_projection.0"), "action_projection.1")
    t = layer_norm(linear(gelu(linear(text, "text_projection.0")), "text_projection.3"), "text_projection.4")
    x = torch.cat([t[None], m])  # (S + 1, B, D): the text token at position 0
    S, B = x.shape[:2]
    for i in range(config.num_layers):
        p = f"transformer_encoder.layers.{i}"
        h = rms_norm(x, f"{p}.norm1")
        inv_freq = w[f"{p}.self_attn.rope.inv_freq"]
        q = rope(linear(h, f"{p}.self_attn.q_proj").view(S, B, H, hd), inv_freq)
        k = rope(linear(h, f"{p}.self_attn.k_proj").view(S, B, H, hd), inv_freq)
        v = linear(h, f"{p}.self_attn.v_proj").view(S, B, H, hd)
        scores = torch.einsum("sbhd,tbhd->bhst", q, k) / math.sqrt(hd)
        attended = torch.einsum("bhst,tbhd->sbhd", scores.softmax(-1), v).reshape(S, B, D)
        x = x + linear(attended, f"{p}.self_attn.out_proj")
        h = rms_norm(x, f"{p}.norm2")
        gate, value = linear(h, f"{p}.ffn.gate_proj", bias=False), linear(h, f"{p}.ffn.value_proj", bias=False)
        x = x + linear(gate * torch.sigmoid(gate) * value, f"{p}.ffn.output_proj", bias=False)
    return linear(gelu(linear(x[1:], "pose_decoder.0")), "pose_decoder.3")


class FloatingDtypes(TorchFunctionMode):
    """Records the dtype of every floating-point tensor that a torch function returns."""

    def __init__(self):
        super().__init__()
        self.seen: set[torch.dtype] = set()

    def __torch_function__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for value in out if isinstance(out, tuple | list) else (out,):
            if isinstance(value, torch.Tensor) and value.is_floating_point():
                self.seen.add(value.dtype)
        return out


def test_a_float64_model_computes_in_float64_throughout_and_matches_a_float64_reference_to_1e_12():
    model = tiny().double()
    torch.manual_seed(3)
    motion, text, actions = (
        torch.randn(10, 2, 20, dtype=torch.float64),
        torch.randn(2, 1024, dtype=torch.float64),
        torch.randint(0, 64, (10, 2)),
    )
    with torch.no_grad(), FloatingDtypes() as dtypes:
        pose = model(motion, text, action_sequence=actions)
    expected = reference_forward_float64(model.state_dict(), model.config, motion, text, actions)
    assert dtypes.seen == {torch.float64}
    assert (pose - expected).abs().max() < 1e-12


@pytest.mark.gpu
def test_rope_tables_follow_the_module_after_moving_to_cuda():
    model = tiny()
    motion, text = torch.randn(6, 2, 20), torch.randn(2, 1024)
    with torch.no_grad():
        cpu = model(motion, text)  # the original cached tables on the first device here
        gpu = model.cuda()(motion.cuda(), text.cuda())
    assert torch.allclose(cpu, gpu.cpu(), atol=1e-4)


def test_bidirectional_model_lets_early_frames_see_later_ones():
    model = tiny()
    motion, text = torch.randn(8, 1, 20), torch.randn(1, 1024)
    changed = motion.clone()
    changed[-1] += 1.0
    with torch.no_grad():
        assert not torch.allclose(model(motion, text)[0], model(changed, text)[0])


def test_causal_model_keeps_early_frames_independent_of_later_ones():
    model = tiny(causal=True)
    motion, text = torch.randn(8, 1, 20), torch.randn(1, 1024)
    changed = motion.clone()
    changed[-1] += 1.0
    with torch.no_grad():
        a, b = model(motion, text), model(changed, text)
    assert torch.allclose(a[:-1], b[:-1], atol=1e-6)
    assert not torch.allclose(a[-1], b[-1])


@pytest.mark.parametrize("causal", [False, True])
def test_last_only_encoding_equals_the_last_row_of_the_full_encoding(causal):
    model = tiny(causal=causal)
    tokens = torch.randn(3, 9, 32)
    with torch.no_grad():
        full = model.encode(tokens)[:, -1:]
        last = model.encode(tokens, last_only=True)
    assert torch.allclose(full, last, atol=1e-6)


def test_key_padding_mask_makes_padded_frames_invisible():
    model = tiny()
    tokens = torch.randn(2, 6, 32)
    padded = torch.cat([tokens, torch.randn(2, 3, 32)], dim=1)
    mask = torch.zeros(2, 9, dtype=torch.bool)
    mask[:, 6:] = True
    with torch.no_grad():
        expected = model.encode(tokens)
        got = model.encode(padded, key_padding_mask=mask)[:, :6]
    assert torch.allclose(expected, got, atol=1e-5)
