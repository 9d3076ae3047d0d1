"""The training objective: the original Stick-Gen loss, term for term, and a corrected variant.

`original` is `multi_task_loss` of the original `src/train/train.py` (commit 49d1d34) expression for
expression, checked against the golden training step (tests/golden/stickgen_train_golden_v1.pt). Its defects
stay on purpose, so that a run with it reproduces the published models:

- the temporal term is the mean squared frame-to-frame change of the *prediction*: it penalises any
  motion instead of matching the target's velocity;
- the physics targets are those of the *input* frames 0..T-2, one frame behind the predicted poses;
- gravity is always -9.8: the DataLoader hands the environment types over as a tuple, the original's
  `isinstance(..., list)` test fails, and the scale lookup falls back to 1.0;
- `diff_physics` (`DifferentiablePhysicsLoss`) is a stub that returns 0, so its weight never matters.

`corrected` changes exactly those: temporal = MSE(Δpred, Δtarget), physics targets of the target
frames (1..T-1), gravity scaled per sample by its environment type.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import nn

LOSSES = ("original", "corrected")
GRAVITY = -9.8  # m/s², the original's constant
FRAME_SECONDS = 0.04  # 1 / 25 fps: the consistency term's time step
# Gravity scale per `environment_type` (the `corrected` loss only); unknown types are 1.0, as the original's fallback.
ENVIRONMENT_GRAVITY = {"earth_normal": 1.0, "moon": 0.16, "mars": 0.38, "jupiter": 2.53, "space": 0.0, "underwater": 1.0}


def make_batch(data: Mapping[str, torch.Tensor], index: torch.Tensor | None = None, device: torch.device | str = "cpu") -> dict:
    """A batch in the golden file's layout from full clips, batch-first.

    Args:
        data: `motion` [N, T, I], `embedding` [N, E], `actions` int64 [N, T], `physics` [N, T, 6],
            and either `gravity_scale` [N] (`gravity_scales` of the samples' environments) or,
            optionally, `environment_types` (list of N str).
        index: the rows to take (all when None). With `data` and `index` on the device and
            `gravity_scale` given, nothing is copied from or to the host.
        device: where the tensors go.

    Returns:
        `data` [B, T-1, I] = motion[:-1], `target` [B, T-1, I] = motion[1:], `embedding` [B, E],
        `actions` int64 [B, T-1] = actions[:-1], `physics` [B, T-1, 6] = physics[:-1] (the input frames',
        as the original), `physics_next` [B, T-1, 6] = physics[1:] (the target frames', for `corrected`),
        and `gravity_scale` [B] when `data` has it, else `environment_types` list of B str
        ("earth_normal" where none is given).
    """
    rows = slice(None) if index is None else index
    motion, physics = data["motion"][rows], data["physics"][rows]
    batch = {
        "data": motion[:, :-1],
        "target": motion[:, 1:],
        "embedding": data["embedding"][rows],
        "actions": data["actions"][rows][:, :-1],
        "physics": physics[:, :-1],
        "physics_next": physics[:, 1:],
    }
    if "gravity_scale" in data:
        batch["gravity_scale"] = data["gravity_scale"][rows]
    batch = {k: v.to(device) for k, v in batch.items()}
    if "gravity_scale" not in batch:
        envs = data.get("environment_types") or ["earth_normal"] * len(data["motion"])
        batch["environment_types"] = [envs[i] for i in (range(len(envs)) if index is None else index.tolist())]
    return batch


def gravity_scales(environment_types: list[str]) -> torch.Tensor:
    """float32 [N]: each sample's gravity relative to Earth's (`ENVIRONMENT_GRAVITY`, 1.0 when unknown), for `corrected`."""
    return torch.tensor([ENVIRONMENT_GRAVITY.get(env, 1.0) for env in environment_types], dtype=torch.float32)


def physics_terms(pred: torch.Tensor, target: torch.Tensor, gravity: torch.Tensor | float) -> dict[str, torch.Tensor]:
    """The original `physics_loss` and its parts, on sequence-first (S, B, 6) = (vx, vy, ax, ay, mx, my).

    physics = mse + 0.1 gravity + 0.1 momentum + 0.2 consistency, where gravity = mean (a_y - g)²,
    momentum = mean over S-1 steps of Δm_x² + Δm_y² (a sum of the two squares, not their mean), and
    consistency = mean of (v[t+1] - v[t] - 0.04 a[t])² summed over x and y.
    `gravity` is a scalar or a (B,) tensor of per-sample constants.
    """
    mse = F.mse_loss(pred, target)
    gravity_term = torch.mean((pred[..., 3] - gravity) ** 2)
    dm = pred[1:, :, 4:6] - pred[:-1, :, 4:6]
    momentum = torch.mean(dm[..., 0] ** 2 + dm[..., 1] ** 2)
    dv = pred[1:, :, 0:2] - pred[:-1, :, 0:2] - FRAME_SECONDS * pred[:-1, :, 2:4]
    consistency = torch.mean(dv[..., 0] ** 2 + dv[..., 1] ** 2)
    total = mse + 0.1 * gravity_term + 0.1 * momentum + 0.2 * consistency
    return {"physics": total, "physics_mse": mse, "gravity": gravity_term, "momentum": momentum, "consistency": consistency}


def self_fed_inputs(model: nn.Module, batch: Mapping, probability: float) -> torch.Tensor:
    """The batch's input frames with some replaced by the model's own one-step predictions.

    Parallel scheduled sampling (Duckworth et al., 2019): one teacher-forced pass without gradient
    predicts every frame; each input frame after the first is then swapped for its prediction with
    `probability`, so the model learns to continue from its own errors (the drift of a long rollout)
    while training stays one parallel pass. The mask is drawn from torch's global RNG (saved in a checkpoint).
    """
    data = batch["data"]
    with torch.no_grad():
        outputs = model(data.transpose(0, 1), batch["embedding"], return_all_outputs=True, action_sequence=batch["actions"].transpose(0, 1))
    own = outputs["pose"].transpose(0, 1)[:, :-1].to(data.dtype)  # predictions of input frames 1..S-1
    swap = torch.rand(data.shape[0], data.shape[1] - 1, 1, device=data.device) < probability
    return torch.cat([data[:, :1], torch.where(swap, own, data[:, 1:])], dim=1)


def compute_loss(
    model: nn.Module, batch: Mapping, weights: Mapping[str, float], *, loss: str = "original", scheduled_sampling: float = 0.0
) -> dict[str, torch.Tensor]:
    """Every loss term of one batch, and their weighted total.

    total = pose + w_temporal·temporal + w_action·action + w_physics·(physics + w_diff_physics·0).
    Does not change the model's train/eval mode; the model's own `causal` setting decides its attention.
    With `scheduled_sampling` > 0 the inputs are first partly replaced by the model's own predictions
    (`self_fed_inputs`); the targets stay the real frames.

    Args:
        model: a StickFigureTransformer (or a DistributedDataParallel wrapping one).
        batch: as `make_batch` returns (the golden file's `batch` works too for `original`).
        weights: `temporal`, `action`, `physics`, `diff_physics`.
        loss: "original" (the published objective, defects included) or "corrected".
        scheduled_sampling: the probability of feeding an input frame from the model's own prediction.

    Returns:
        Scalar tensors `pose`, `temporal`, `action`, `physics` (with `physics_mse`, `gravity`,
        `momentum`, `consistency`) and `total`.
    """
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}, not {loss!r}")
    actions = batch["actions"]
    data = self_fed_inputs(model, batch, scheduled_sampling) if scheduled_sampling else batch["data"]
    outputs = model(
        data.transpose(0, 1),  # (S, B, I): the model is sequence-first
        batch["embedding"],
        return_all_outputs=True,
        action_sequence=actions.transpose(0, 1),
    )
    pred = outputs["pose"].float()  # (S, B, O)
    target = batch["target"].transpose(0, 1)
    pose = F.mse_loss(pred, target)
    if loss == "original":
        temporal = torch.mean((pred[1:] - pred[:-1]) ** 2)
        physics_target, gravity = batch["physics"], GRAVITY
    else:
        temporal = F.mse_loss(pred[1:] - pred[:-1], target[1:] - target[:-1])
        physics_target = batch["physics_next"]
        scale = batch["gravity_scale"] if "gravity_scale" in batch else gravity_scales(batch["environment_types"]).to(pred.device)
        gravity = GRAVITY * scale  # (B,), broadcast over S
    action = F.cross_entropy(outputs["action_logits"].float().permute(1, 2, 0), actions)  # [B, A, S] vs [B, S]
    phys = physics_terms(outputs["physics"].float(), physics_target.transpose(0, 1), gravity)
    diff_physics = 0.0  # the original's DifferentiablePhysicsLoss always returns 0
    total = (
        pose
        + weights["temporal"] * temporal
        + weights["action"] * action
        + weights["physics"] * (phys["physics"] + weights["diff_physics"] * diff_physics)
    )
    return {"pose": pose, "temporal": temporal, "action": action, **phys, "total": total}
