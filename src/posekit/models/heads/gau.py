"""Gated Attention Unit as RTMPose uses it (mmpose `RTMCCBlock`, self-attention, no position
encoding, no relative bias), with ScaleNorm and Scale. Attribute names mirror mmpose's."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class ScaleNorm(nn.Module):
    """x / (||x|| / sqrt(dim)) * g, with one learned scalar g."""

    def __init__(self, dim: int, eps: float = 1e-5):
        super().__init__()
        self.scale = dim ** -0.5
        self.eps = eps
        self.g = nn.Parameter(torch.ones(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(..., dim) -> (..., dim), normalised over the last axis; the norm is clamped at eps."""
        norm = torch.linalg.vector_norm(x, dim=-1, keepdim=True) * self.scale
        return x / norm.clamp(min=self.eps) * self.g


class Scale(nn.Module):
    """Element-wise learned scale of the residual branch."""

    def __init__(self, dim: int):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(..., dim) -> (..., dim), each feature multiplied by its own learned factor."""
        return x * self.scale


class GatedAttentionUnit(nn.Module):
    """One GAU over N tokens of `dims` features: u, v (e = dims*expansion) and a shared base z (s)
    from one linear; q, k = per-dimension affine maps of z; attention kernel relu(qk/sqrt(s))^2;
    out = o(u * (kernel @ v)), added to a scaled shortcut."""

    def __init__(self, dims: int, s: int = 128, expansion: int = 2, dropout: float = 0.0,
                 act: str = "silu", eps: float = 1e-5):
        super().__init__()
        self.s = s
        self.e = int(dims * expansion)
        self.uv = nn.Linear(dims, 2 * self.e + s, bias=False)
        self.gamma = nn.Parameter(torch.rand(2, s))
        self.beta = nn.Parameter(torch.rand(2, s))
        self.o = nn.Linear(self.e, dims, bias=False)
        self.ln = ScaleNorm(dims, eps=eps)
        self.res_scale = Scale(dims)
        if act not in ("silu", "relu"):
            raise ValueError(f"GAU activation '{act}' is not one of silu, relu")
        self.act_fn = nn.SiLU() if act == "silu" else nn.ReLU()
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        nn.init.xavier_uniform_(self.uv.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, N, dims) tokens -> (B, N, dims); every token attends to all N (no mask)."""
        uv = self.act_fn(self.uv(self.ln(x)))
        u, v, base = torch.split(uv, [self.e, self.e, self.s], dim=-1)
        qk = base.unsqueeze(2) * self.gamma + self.beta          # (B, N, 2, s)
        q, k = qk.unbind(dim=2)
        kernel = F.relu(torch.bmm(q, k.transpose(1, 2)) / math.sqrt(self.s)) ** 2
        attended = u * torch.bmm(self.dropout(kernel), v)
        return self.res_scale(x) + self.o(attended)
