"""The evaluator's networks: an order-aware motion encoder, a text head, and the action classifier.

Modelled on the T2M evaluator (Guo et al. 2022, which later text-to-motion work reuses), scaled to 2D
stick figures: the motion side is a stack of temporal convolutions over the per-frame tracks of
`inputs` (so the order of frames matters: a reversed or shuffled clip is a different input), with a
second stack for the pose's velocity and acceleration where the config asks for one, pooled over the
scored frames; the text side is a small MLP over a fixed sentence embedding (`text.HashEncoder`, built in, so
the evaluator does not depend on the encoder a model under test was trained with). Both map into one
co-embedding space, L2-normalised. The action classifier is the same motion encoder with one logit per
action of its domain.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class EvaluatorConfig:
    """Architecture of one evaluator (stored in its manifest; the weights' shapes follow from it).

    Attributes:
        in_channels: channels per frame (`inputs.n_channels`: 12 for schema v1, 32 with `derivatives`).
        derivatives: whether the inputs carry the pose's velocity and acceleration (`inputs.motion_tracks`).
        text_dim: dimension of the hash sentence embedding the text head reads.
        width: channels of the temporal convolutions and hidden units of the text head.
        dynamics_width: with `derivatives`, the width of a second convolution stack that reads only the
            velocity and acceleration channels, beside the main stack that then reads only the pose and
            root velocity (0: one stack reads every channel).
        embed_dim: dimension of the co-embedding space (FID and diversity are computed in it).
        classes: action names of the classifier, in logit order.
    """

    in_channels: int = 12
    derivatives: bool = False
    text_dim: int = 512
    width: int = 64
    dynamics_width: int = 0
    embed_dim: int = 32
    classes: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return {**asdict(self), "classes": list(self.classes)}

    @classmethod
    def from_dict(cls, data: dict) -> EvaluatorConfig:
        return cls(**{**data, "classes": tuple(data.get("classes", ()))})

    @property
    def dynamics_channels(self) -> int:
        """How many input channels the dynamics stack reads (the velocity and acceleration ones); 0 without it."""
        return 2 * (self.in_channels - 2) // 3 if self.derivatives and self.dynamics_width else 0


def _conv_stack(in_channels: int, width: int) -> nn.ModuleList:
    # Kernel 5 throughout; the last three layers have stride 2.
    return nn.ModuleList(
        [nn.Conv1d(in_channels, width, 5, padding=2)] + [nn.Conv1d(width, width, 5, stride=2, padding=2) for _ in range(3)]
    )


def _pooled(convs: nn.ModuleList, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """A conv stack over (B, C, T) inputs, then the mean and the max of its top layer over the scored frames: (B, 2 width)."""
    for conv in convs:
        x = nn.functional.gelu(conv(x))
        if conv.stride[0] == 2:
            mask = mask[:, ::2]  # kernel 5, padding 2, stride 2: output t is centred on input 2t
    m = mask[:, None, :].to(x.dtype)  # (B, 1, T')
    mean = (x * m).sum(-1) / m.sum(-1).clamp(min=1.0)
    peak = x.masked_fill(m == 0, float("-inf")).amax(-1)
    return torch.cat([mean, peak], dim=1)


class MotionEncoder(nn.Module):
    """Temporal convolutions over [B, T, C] tracks, masked mean + max pooling, then a linear map.

    Four conv layers of kernel 5; the last three have stride 2, so the top layer sees ~61 frames
    (2.4 s at 25 fps) and runs at 1/8 of the frame rate. Inputs are standardised by per-channel
    statistics of the training frames, stored as buffers so they travel with the weights.

    With `dynamics_channels`, the pose's velocity and acceleration channels (the middle ones of
    `inputs.motion_tracks`) go to a second stack of `dynamics_width` channels and the rest (pose and
    root velocity) to the main one, so that what a clip shows (its pose sequence) and how smoothly it
    moves are learnt apart and meet only in the final linear map.
    """

    def __init__(self, in_channels: int, width: int, out_dim: int, *, dynamics_channels: int = 0, dynamics_width: int = 0):
        super().__init__()
        self.register_buffer("input_mean", torch.zeros(in_channels))
        self.register_buffer("input_std", torch.ones(in_channels))
        self.n_pose = (in_channels - 2 - dynamics_channels) if dynamics_channels else in_channels
        self.convs = _conv_stack(in_channels - dynamics_channels, width)
        self.dynamics = _conv_stack(dynamics_channels, dynamics_width) if dynamics_channels else None
        self.out = nn.Linear(2 * (width + (dynamics_width if dynamics_channels else 0)), out_dim)

    def forward(self, tracks: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """tracks [B, T, C] float, mask [B, T] bool -> [B, out_dim]."""
        x = ((tracks - self.input_mean) / self.input_std * mask[..., None]).transpose(1, 2)  # (B, C, T)
        if self.dynamics is None:
            return self.out(_pooled(self.convs, x, mask))
        pose, dynamics = x[:, : self.n_pose], x[:, self.n_pose : -2]
        main = torch.cat([pose, x[:, -2:]], dim=1)  # pose and root velocity
        return self.out(torch.cat([_pooled(self.convs, main, mask), _pooled(self.dynamics, dynamics, mask)], dim=1))


class TextMotionEvaluator(nn.Module):
    """Motion encoder and text head into one L2-normalised co-embedding space."""

    def __init__(self, config: EvaluatorConfig):
        super().__init__()
        self.motion = MotionEncoder(
            config.in_channels,
            config.width,
            config.embed_dim,
            dynamics_channels=config.dynamics_channels,
            dynamics_width=config.dynamics_width,
        )
        self.text = nn.Sequential(nn.Linear(config.text_dim, config.width), nn.GELU(), nn.Linear(config.width, config.embed_dim))

    def embed_motion(self, tracks: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """[B, T, C], [B, T] -> unit vectors [B, embed_dim]."""
        return nn.functional.normalize(self.motion(tracks, mask), dim=-1)

    def embed_text(self, text_embedding: torch.Tensor) -> torch.Tensor:
        """[B, text_dim] -> unit vectors [B, embed_dim]."""
        return nn.functional.normalize(self.text(text_embedding), dim=-1)


class ActionNet(nn.Module):
    """The time-aware action classifier: the motion encoder with one logit per action."""

    def __init__(self, config: EvaluatorConfig):
        super().__init__()
        self.motion = MotionEncoder(
            config.in_channels,
            config.width,
            len(config.classes),
            dynamics_channels=config.dynamics_channels,
            dynamics_width=config.dynamics_width,
        )

    def forward(self, tracks: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """[B, T, C], [B, T] -> logits [B, n_classes]."""
        return self.motion(tracks, mask)
