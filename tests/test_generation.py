"""Batched generation computes exactly what the original per-prompt loop computes."""

import numpy as np
import pytest
import torch

from stickeval.errors import GenerationInputError, NonFiniteOutputError
from stickeval.generation import generate, resolve_batch_size, teacher_forced
from stickeval.zoo.model import ModelConfig, StickFigureTransformer

FRAMES = 12


def plain_loop(model, text, actions, first, frames):
    """The original generator, one prompt at a time, full sequence-first forward on the growing prefix."""
    motion = torch.zeros(frames, 1, model.config.input_dim)
    motion[0, 0] = torch.as_tensor(first)
    with torch.no_grad():
        for t in range(1, frames):
            motion[t] = model(motion[:t], torch.as_tensor(text)[None], action_sequence=torch.as_tensor(actions)[:t, None])[-1]
    return motion[:, 0].numpy()


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return StickFigureTransformer(ModelConfig(d_model=32, nhead=2, num_layers=2, num_actions=46)).eval()


@pytest.fixture(scope="module")
def inputs():
    rng = np.random.default_rng(0)
    n = 7
    texts = rng.standard_normal((n, 1024)).astype(np.float32)
    return (
        texts / np.linalg.norm(texts, axis=1, keepdims=True),
        rng.integers(0, 46, (n, FRAMES)),
        rng.standard_normal((n, 20)).astype(np.float32),
    )


def test_batched_generation_reproduces_the_golden_rollout(golden_v1):
    model = StickFigureTransformer(ModelConfig(**golden_v1["config"]))
    model.load_state_dict(golden_v1["state_dict"])
    inputs, expected = golden_v1["inputs"], golden_v1["rollout"].numpy()
    for batch_size in (1, 3, 64):
        rollout = generate(
            model,
            inputs["text_embedding"],
            inputs["action_sequence"].T,
            frames=expected.shape[1],
            prime="zeros",
            batch_size=batch_size,
            device="cpu",
        )
        assert np.abs(rollout.motion - expected).max() < 1e-5, batch_size


@pytest.mark.parametrize("prime", ["reference", "zeros"])
@pytest.mark.parametrize("batch_size", [1, 3, 64])
def test_batched_generation_equals_the_plain_loop(model, inputs, prime, batch_size):
    texts, actions, first = inputs
    rollout = generate(model, texts, actions, frames=FRAMES, prime=prime, first_frames=first, batch_size=batch_size, device="cpu")
    for i in range(len(texts)):
        start = first[i] if prime == "reference" else np.zeros(20, np.float32)
        np.testing.assert_allclose(rollout.motion[i], plain_loop(model, texts[i], actions[i], start, FRAMES), atol=1e-5)
    assert rollout.motion.shape == (len(texts), FRAMES, 20)


def test_a_prompts_rollout_does_not_depend_on_its_batch_companions(model, inputs):
    texts, actions, first = inputs
    alone = generate(model, texts[4:5], actions[4:5], frames=FRAMES, first_frames=first[4:5], device="cpu").motion[0]
    reordered = [6, 4, 0]
    grouped = generate(
        model, texts[reordered], actions[reordered], frames=FRAMES, first_frames=first[reordered], batch_size=3, device="cpu"
    ).motion[1]
    np.testing.assert_allclose(alone, grouped, atol=1e-5)


def test_kv_cached_causal_generation_equals_uncached_causal_generation(inputs):
    torch.manual_seed(1)
    causal = StickFigureTransformer(ModelConfig(d_model=32, nhead=2, num_layers=2, num_actions=46, causal=True)).eval()
    texts, actions, first = inputs
    cached = generate(causal, texts, actions, frames=FRAMES, first_frames=first, device="cpu").motion
    for i in range(len(texts)):
        # fp32 rounding of two summation orders, fed back through 11 steps: values up to ~2 differ by ~1e-5
        np.testing.assert_allclose(cached[i], plain_loop(causal, texts[i], actions[i], first[i], FRAMES), rtol=1e-5, atol=1e-5)


def test_action_logits_row_t_is_the_head_output_of_step_t(model, inputs):
    texts, actions, first = inputs
    rollout = generate(model, texts[:1], actions[:1], frames=FRAMES, first_frames=first[:1], device="cpu", return_action_logits=True)
    t = 5
    motion = torch.as_tensor(rollout.motion[0, :t])[:, None]
    with torch.no_grad():
        out = model(motion, torch.as_tensor(texts[:1]), return_all_outputs=True, action_sequence=torch.as_tensor(actions[0, :t])[:, None])
    np.testing.assert_allclose(rollout.action_logits[0, t], out["action_logits"][-1, 0].numpy(), atol=1e-5)
    assert not rollout.action_logits[0, 0].any()


def test_the_callers_model_is_left_untouched(model, inputs):
    texts, actions, first = inputs
    before = {k: v.clone() for k, v in model.state_dict().items()}
    in64 = generate(model, texts[:2], actions[:2], frames=4, first_frames=first[:2], device="cpu", dtype="float64")
    in32 = generate(model, texts[:2], actions[:2], frames=4, first_frames=first[:2], device="cpu", dtype="float32")
    np.testing.assert_allclose(in64.motion, in32.motion, atol=1e-5)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert next(model.parameters()).dtype == torch.float32


def test_a_model_in_training_mode_is_not_switched_to_eval(inputs):
    torch.manual_seed(0)
    training = StickFigureTransformer(ModelConfig(d_model=32, nhead=2, num_layers=1, num_actions=46)).train()
    texts, actions, first = inputs
    generate(training, texts[:1], actions[:1], frames=3, first_frames=first[:1], device="cpu")
    assert training.training


def test_teacher_forced_outputs_are_the_forward_on_all_but_the_last_frame(model, inputs):
    texts, actions, _ = inputs
    motion = np.random.default_rng(3).standard_normal((2, FRAMES, 20)).astype(np.float32)
    got = teacher_forced(model, texts[:2], motion, actions[:2], device="cpu")
    with torch.no_grad():
        expected = model(
            torch.as_tensor(motion[:, :-1]).transpose(0, 1),
            torch.as_tensor(texts[:2]),
            action_sequence=torch.as_tensor(actions[:2, : FRAMES - 1]).T,
        ).transpose(0, 1)
    np.testing.assert_allclose(got, expected.numpy(), atol=1e-6)


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda t, a, f: (t[:3], a, f), "3 prompts but action tracks"),
        (lambda t, a, f: (t[:, :512], a, f), r"text embeddings must be \[N, 1024\]"),
        (lambda t, a, f: (t, np.where(a == a[0, 0], 46, a), f), r"action ids must be in \[0, 46\)"),
        (lambda t, a, f: (np.where(np.arange(1024) == 5, np.nan, t).astype(np.float32), a, f), "contain NaN"),
        (lambda t, a, f: (t, a, f[:, :10]), r"first_frames must be \[7, 20\]"),
        (lambda t, a, f: (t, a[:, :3], f), "needs at least 11"),
    ],
)
def test_bad_inputs_are_refused_before_any_compute(model, inputs, change, message):
    texts, actions, first = change(*inputs)
    with pytest.raises(GenerationInputError, match=message):
        generate(model, texts, actions, frames=FRAMES, first_frames=first, device="cpu")


def test_frames_below_two_and_unknown_prime_are_refused(model, inputs):
    texts, actions, first = inputs
    with pytest.raises(GenerationInputError, match="frames must be an integer >= 2"):
        generate(model, texts, actions, frames=1, first_frames=first, device="cpu")
    with pytest.raises(GenerationInputError, match="Unknown prime 'noise'"):
        generate(model, texts, actions, frames=FRAMES, prime="noise", device="cpu")
    with pytest.raises(GenerationInputError, match="needs first_frames"):
        generate(model, texts, actions, frames=FRAMES, device="cpu")


def test_non_finite_outputs_name_the_offending_prompts(model, inputs):
    texts, actions, first = inputs
    texts = texts.copy()
    texts[[2, 5]] = 3e38  # finite input that overflows inside the model for these prompts only
    with pytest.raises(NonFiniteOutputError, match=r"2 prompt\(s\) \(indices 2, 5\)") as e:
        generate(model, texts, actions, frames=FRAMES, first_frames=first, device="cpu")
    assert e.value.indices == [2, 5]


@pytest.mark.gpu
def test_bf16_on_cuda_stays_within_the_documented_tolerance_of_fp32(model, inputs):
    texts, actions, first = inputs
    fp32 = generate(model, texts, actions, frames=FRAMES, first_frames=first, device="cuda", dtype="float32").motion
    bf16 = generate(model, texts, actions, frames=FRAMES, first_frames=first, device="cuda", dtype="bfloat16").motion
    assert np.linalg.norm(bf16 - fp32) / np.linalg.norm(fp32) < 0.05  # docs/benchmarks.md: ~1-2% relative L2


@pytest.mark.gpu
def test_bf16_generation_on_cuda_is_repeatable_at_a_fixed_batch_size(model, inputs):
    texts, actions, first = inputs
    runs = [
        generate(model, texts, actions, frames=FRAMES, first_frames=first, device="cuda", dtype="bfloat16", batch_size=4).motion
        for _ in range(2)
    ]
    assert np.array_equal(runs[0], runs[1])


@pytest.mark.parametrize("n, expected", [(64, 64), (127, 64), (130, 44), (5, 5)])
def test_auto_batch_size_spreads_rows_evenly_over_the_batches_it_needs(model, n, expected):
    # on CPU "auto" caps at 64: 130 rows need 3 batches, so 44 + 44 + 42 rather than 64 + 64 + 2
    assert resolve_batch_size(model, "auto", n, FRAMES) == expected


@pytest.mark.gpu
def test_a_padded_last_batch_on_cuda_equals_the_unpadded_rows(model, inputs):
    # 7 rows at batch 3: the last batch (1 row) is padded to 3 rows on CUDA; fp32 keeps it exact
    texts, actions, first = inputs
    kw = dict(frames=FRAMES, first_frames=first, device="cuda", dtype="float32")
    padded = generate(model, texts, actions, batch_size=3, **kw).motion
    whole = generate(model, texts, actions, batch_size=7, **kw).motion
    assert padded.shape == whole.shape
    np.testing.assert_allclose(padded, whole, atol=1e-5)


@pytest.mark.slow
def test_the_compiled_step_computes_the_eager_rollout_with_one_graph_per_layer_kind(inputs):
    # three layers, compiled per layer: one graph for the full-prefix layers, one for the last
    # layer's last-position variant, whatever the number of layers and prefix lengths; the first
    # call, a dummy one that tunes the kernels at the mean prefix (7 tokens: the batch's size here),
    # adds none
    from torch._dynamo.utils import counters

    torch.manual_seed(0)
    deep = StickFigureTransformer(ModelConfig(d_model=32, nhead=2, num_layers=3, num_actions=46)).eval()
    texts, actions, first = inputs
    kw = dict(frames=FRAMES, first_frames=first, device="cpu", batch_size=7)
    torch._dynamo.reset()
    counters.clear()
    compiled = generate(deep, texts, actions, compile=True, **kw).motion
    np.testing.assert_allclose(compiled, generate(deep, texts, actions, **kw).motion, atol=1e-5)
    assert counters["stats"]["unique_graphs"] == 2
