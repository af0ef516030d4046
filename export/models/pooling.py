"""Clip-level pooling over frame embeddings, shared by the teacher and the student.

Every pooler maps ``frames [..., time, dim]`` and a boolean ``mask [..., time]`` (True = a real
frame, False = padding) to one vector per clip: ``[..., out_dim]`` (any leading batch axes). Padding
never influences the result, so a batch of clips of different lengths gives the same answer as each
clip alone. Statistic and attention pooling
follow InfantCryNet: mean and standard deviation (then a linear layer), and multi-head attention with
one weight distribution over frames per head.
"""
from __future__ import annotations

import torch
from torch import nn

POOLINGS = ("mean", "max", "mean_max", "statistic", "attention")


def _masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    w = mask.unsqueeze(-1).to(x.dtype)
    return (x * w).sum(-2) / w.sum(-2).clamp_min(1.0)


class MeanPooling(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.out_dim = dim

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return _masked_mean(x, mask)


class MaxPooling(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.out_dim = dim

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        # Padding is pushed far down rather than to -inf, so an all-padding row stays finite.
        return x.masked_fill(~mask.unsqueeze(-1), -1e4).amax(-2)


class MeanMaxPooling(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.mean, self.max = MeanPooling(dim), MaxPooling(dim)
        self.out_dim = 2 * dim

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.mean(x, mask), self.max(x, mask)], dim=-1)


class StatisticPooling(nn.Module):
    """Mean and standard deviation over frames, then a linear projection (the paper's statistic pooling)."""

    def __init__(self, dim: int, out_dim: int | None = None) -> None:
        super().__init__()
        self.out_dim = out_dim or dim
        self.proj = nn.Linear(2 * dim, self.out_dim)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        mean = _masked_mean(x, mask)
        var = _masked_mean((x - mean.unsqueeze(-2)) ** 2, mask)
        std = torch.sqrt(var + 1e-5)
        return self.proj(torch.cat([mean, std], dim=-1))


class AttentionPooling(nn.Module):
    """Multi-head attention pooling: each head scores every frame, softmax over real frames only,
    and returns the weighted mean of its slice of the frame embedding; heads are concatenated.

    A clip's frames that hold crying get the weight, which matters when a cry fills only part of it.
    """

    def __init__(self, dim: int, heads: int = 4, hidden: int | None = None) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"dim {dim} must be divisible by heads {heads}")
        self.heads = heads
        hidden = hidden or max(dim // 4, heads)
        self.score = nn.Sequential(nn.Linear(dim, hidden), nn.Tanh(), nn.Linear(hidden, heads))
        self.value = nn.Linear(dim, dim)
        self.out_dim = dim

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        d = x.shape[-1]
        logits = self.score(x).masked_fill(~mask.unsqueeze(-1), -1e4)  # [..., t, heads]
        weights = torch.softmax(logits, dim=-2)
        values = self.value(x).unflatten(-1, (self.heads, d // self.heads))  # [..., t, heads, d / heads]
        return (weights.unsqueeze(-1) * values).sum(-3).flatten(-2)


def make_pooling(kind: str, dim: int, heads: int = 4) -> nn.Module:
    """Build a pooler by name (one of :data:`POOLINGS`); ``.out_dim`` gives its output size."""
    if kind == "mean":
        return MeanPooling(dim)
    if kind == "max":
        return MaxPooling(dim)
    if kind == "mean_max":
        return MeanMaxPooling(dim)
    if kind == "statistic":
        return StatisticPooling(dim)
    if kind == "attention":
        return AttentionPooling(dim, heads=heads)
    raise ValueError(f"unknown pooling {kind!r}; choose one of {POOLINGS}")
