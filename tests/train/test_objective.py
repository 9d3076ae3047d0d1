"""The original objective and one trainer step against the golden file of the original train.py."""

import torch

from stickeval.train.objective import compute_loss, make_batch, self_fed_inputs
from stickeval.train.trainer import train_step
from stickeval.zoo.model import ModelConfig, StickFigureTransformer

TERMS = ("pose", "temporal", "action", "physics", "physics_mse", "gravity", "momentum", "consistency", "total")


def golden_model(golden: dict) -> StickFigureTransformer:
    model = StickFigureTransformer(ModelConfig(**golden["config"]))
    model.load_state_dict(golden["state_dict"])
    return model.eval()  # the golden step ran in eval mode (no dropout)


def test_original_loss_reproduces_every_golden_term_for_sft_and_pretrain_weights(golden_train):
    model = golden_model(golden_train)
    for name in ("sft", "pretrain"):
        losses = compute_loss(model, golden_train["batch"], golden_train["loss_weights"][name])
        for term in TERMS:
            expected = golden_train["losses"][name][term]
            assert abs(losses[term].item() - expected) <= 1e-5 * abs(expected), (name, term)


def test_compute_loss_leaves_train_and_eval_mode_as_it_was(golden_train):
    model = golden_model(golden_train)
    compute_loss(model, golden_train["batch"], golden_train["loss_weights"]["sft"])
    assert not model.training
    model.train()
    compute_loss(model, golden_train["batch"], golden_train["loss_weights"]["sft"])
    assert model.training


def test_one_trainer_step_reproduces_golden_grad_norm_grads_and_weights(golden_train):
    model = golden_model(golden_train)
    opt = golden_train["optimizer"]
    optimizer = torch.optim.AdamW(model.parameters(), lr=opt["lr"], weight_decay=opt["weight_decay"])
    grads = {}
    # Record the gradients before clipping via hooks on the accumulated .grad.
    for name, p in model.named_parameters():
        p.register_post_accumulate_grad_hook(lambda p, name=name: grads.__setitem__(name, p.grad.clone()))
    _, grad_norm = train_step(model, optimizer, [golden_train["batch"]], golden_train["loss_weights"]["sft"], max_grad_norm=1.0).read()
    assert abs(grad_norm - golden_train["grad_norm"]) <= 1e-5 * golden_train["grad_norm"]
    assert set(grads) == set(golden_train["grads_before_clip"])
    assert sorted(set(dict(model.named_parameters())) - set(grads)) == sorted(golden_train["params_without_grad"])
    for name, g in golden_train["grads_before_clip"].items():
        assert (grads[name] - g).abs().max() < 1e-5, name
    after = model.state_dict()
    clip, n_tiny = golden_train["clip_coef"], 0
    for name, expected in golden_train["state_dict_after_step"].items():
        diff = (after[name] - expected).abs()
        # tests/golden/README.md: elements whose clipped gradient is below 1e-8 move by ~lr·sign(noise): exempt them (18).
        g = golden_train["grads_before_clip"].get(name)
        tiny = ((g * clip).abs() < 1e-8) & (g != 0) if g is not None else torch.zeros_like(diff, dtype=torch.bool)
        assert float(torch.where(tiny, 0.0, diff).max()) < 1e-6, name
        assert float(torch.where(tiny, diff, 0.0).max()) <= 2 * opt["lr"] + 1e-6, name
        n_tiny += int(tiny.sum())
    assert n_tiny == 18


def test_corrected_loss_scales_gravity_by_environment_as_the_golden_moon_variant(golden_train):
    model = golden_model(golden_train)
    samples = golden_train["samples"]
    data = {k: torch.stack([s[k] for s in samples]) for k in ("motion", "embedding", "actions", "physics")}
    data["environment_types"] = ["moon"] * len(samples)
    batch = make_batch(data)
    corrected = compute_loss(model, batch, golden_train["loss_weights"]["sft"], loss="corrected")
    original = compute_loss(model, batch, golden_train["loss_weights"]["sft"], loss="original")
    moon = golden_train["env_variant"]["if_first_env_used"]  # g = -9.8 x 0.16 for every sample
    assert abs(float(corrected["gravity"]) - moon["gravity"]) <= 1e-5 * moon["gravity"]
    assert abs(float(original["gravity"]) - golden_train["losses"]["sft"]["gravity"]) <= 1e-5 * golden_train["losses"]["sft"]["gravity"]
    assert float(corrected["pose"]) == float(original["pose"])


def test_make_batch_matches_the_golden_collated_batch(golden_train):
    samples = golden_train["samples"]
    data = {k: torch.stack([s[k] for s in samples]) for k in ("motion", "embedding", "actions", "physics")}
    batch = make_batch(data)
    for key in ("data", "embedding", "target", "actions", "physics"):
        assert torch.equal(batch[key], golden_train["batch"][key]), key
    assert torch.equal(batch["physics_next"], data["physics"][:, 1:])


def test_corrected_temporal_term_is_zero_when_prediction_moves_like_the_target(golden_train):
    """A model whose poses are target + a constant has the target's velocity: corrected temporal ~0, original > 0."""

    class Shifted(torch.nn.Module):
        def forward(self, motion, text_embedding, return_all_outputs, action_sequence):
            S, B, _ = motion.shape
            return {"pose": target + 0.5, "action_logits": torch.zeros(S, B, 46), "physics": torch.zeros(S, B, 6)}

    samples = golden_train["samples"]
    data = {k: torch.stack([s[k] for s in samples]) for k in ("motion", "embedding", "actions", "physics")}
    batch = make_batch(data)
    target = batch["target"].transpose(0, 1)
    weights = golden_train["loss_weights"]["sft"]
    assert float(compute_loss(Shifted(), batch, weights, loss="corrected")["temporal"]) < 1e-10
    assert float(compute_loss(Shifted(), batch, weights, loss="original")["temporal"]) > 0.0


def test_scheduled_sampling_feeds_the_models_own_predictions_in_place_of_input_frames(golden_train):
    """Probability 1: every input frame but the first is the teacher-forced prediction of that frame;
    probability 0: the batch's own frames; in between, a mix whose loss differs from teacher forcing."""
    model = golden_model(golden_train)
    batch = golden_train["batch"]
    data = batch["data"]
    with torch.no_grad():
        predicted = model(
            data.transpose(0, 1), batch["embedding"], return_all_outputs=True, action_sequence=batch["actions"].transpose(0, 1)
        )["pose"].transpose(0, 1)
    fed = self_fed_inputs(model, batch, 1.0)
    assert torch.equal(fed[:, 0], data[:, 0]) and torch.equal(fed[:, 1:], predicted[:, :-1])
    assert torch.equal(self_fed_inputs(model, batch, 0.0), data)
    torch.manual_seed(0)
    mixed = self_fed_inputs(model, batch, 0.5)
    from_model = (mixed[:, 1:] == predicted[:, :-1]).all(dim=-1).float().mean()
    assert 0.2 < from_model < 0.8
    weights = golden_train["loss_weights"]["sft"]
    teacher = compute_loss(model, batch, weights)["pose"]
    assert compute_loss(model, batch, weights, scheduled_sampling=1.0)["pose"] != teacher
