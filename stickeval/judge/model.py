"""The evaluator's networks: an order-aware motion encoder, a text head, and the action classifier.

Modelled on the T2M evaluator (Guo et al. 2022, which later text-to-motion work reuses), scaled to 2D
stick figures:
the motion side is a stack of temporal convolutions over the per-frame tracks of `inputs` (so the
order of frames matters: a reversed or shuffled clip is a different input), pooled over the scored
frames; the text side is a small MLP over a fixed sentence embedding (`text.HashEncoder`, built in, so
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
        embed_dim: dimension of the co-embedding space (FID and diversity are computed in it).
        classes: action names of the classifier, in logit order.
    """

    in_channels: int = 12
    derivatives: bool = False
    text_dim: int = 512
    width: int = 64
    embed_dim: int = 32
    classes: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return {**asdict(self), "classes": list(self.classes)}

    @classmethod
    def from_dict(cls, data: dict) -> EvaluatorConfig:
        return cls(**{**data, "classes": tuple(data.get("classes", ()))})


class MotionEncoder(nn.Module):
    """Temporal convolutions over [B, T, C] tracks, masked mean + max pooling, then a linear map.

    Four conv layers of kernel 5; the last three have stride 2, so the top layer sees ~61 frames
    (2.4 s at 25 fps) and runs at 1/8 of the frame rate. Inputs are standardised by per-channel
    statistics of the training frames, stored as buffers so they travel with the weights.
    """

    def __init__(self, in_channels: int, width: int, out_dim: int):
        super().__init__()
        self.register_buffer("input_mean", torch.zeros(in_channels))
        self.register_buffer("input_std", torch.ones(in_channels))
        self.convs = nn.ModuleList(
            [nn.Conv1d(in_channels, width, 5, padding=2)] + [nn.Conv1d(width, width, 5, stride=2, padding=2) for _ in range(3)]
        )
        self.out = nn.Linear(2 * width, out_dim)

    def forward(self, tracks: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """tracks [B, T, C] float, mask [B, T] bool -> [B, out_dim]."""
        x = ((tracks - self.input_mean) / self.input_std * mask[..., None]).transpose(1, 2)  # (B, C, T)
        for conv in self.convs:
            x = nn.functional.gelu(conv(x))
            if conv.stride[0] == 2:
                mask = mask[:, ::2]  # kernel 5, padding 2, stride 2: output t is centred on input 2t
        m = mask[:, None, :].to(x.dtype)  # (B, 1, T')
        mean = (x * m).sum(-1) / m.sum(-1).clamp(min=1.0)
        peak = x.masked_fill(m == 0, float("-inf")).amax(-1)
        return self.out(torch.cat([mean, peak], dim=1))


class TextMotionEvaluator(nn.Module):
    """Motion encoder and text head into one L2-normalised co-embedding space."""

    def __init__(self, config: EvaluatorConfig):
        super().__init__()
        self.motion = MotionEncoder(config.in_channels, config.width, config.embed_dim)
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
        self.motion = MotionEncoder(config.in_channels, config.width, len(config.classes))

    def forward(self, tracks: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """[B, T, C], [B, T] -> logits [B, n_classes]."""
        return self.motion(tracks, mask)
