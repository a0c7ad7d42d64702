"""A GPT-style decoder-only transformer in one file, every choice in one dataclass.

The switches cover the GPT-2 recipe (learned positions, LayerNorm, GELU, tied embeddings)
and the modern one (rotary positions, RMSNorm, SwiGLU or ReLU², QK-norm, untied head,
zero-initialised output projections, logit soft-capping), so the book can change one thing at
a time and measure it.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

FAMILIES = ("gpt", "lstm", "mdlm")  # transformer, recurrent, masked diffusion
MLP_KINDS = ("gelu", "swiglu", "relu2")
NORM_KINDS = ("layernorm", "rmsnorm")
POSITION_KINDS = ("learned", "rotary")


@dataclass
class ModelConfig:
    """Shape and flavour of the transformer."""

    family: str = "gpt"
    vocab_size: int = 4096  # tokenizer vocabulary including the end-of-text token
    context: int = 256
    # 2 layers x 96 with 2 heads: the best shape at 60 s and 300 s on the 2-core machine
    # (benchmarks/results/sizes-*, depth-*); 5 narrow layers lost to 2 wide ones
    width: int = 96
    layers: int = 2
    heads: int = 2
    mlp: str = "gelu"
    mlp_ratio: float = 4.0  # hidden width / width (SwiGLU uses 2/3 of it, to keep params equal)
    norm: str = "layernorm"
    positions: str = "rotary"  # beat learned positions by ~10% at 90 s (benchmarks/README.md)
    tie_embeddings: bool = False
    qk_norm: bool = False
    dropout: float = 0.0
    logit_softcap: float = 0.0  # 0 turns it off
    zero_init_proj: bool = False

    def validate(self) -> None:
        """Raise ValueError naming the field and the fix; cheap, so call before any real work."""
        for name in ("vocab_size", "context", "width", "layers", "heads"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ValueError(f"{name} must be a positive integer, got {v!r}")
        if not 257 <= self.vocab_size <= 65536:
            raise ValueError(f"vocab_size must be between 257 and 65536, got {self.vocab_size}")
        if self.width % self.heads:
            raise ValueError(f"width {self.width} is not divisible by heads {self.heads}; "
                             f"pick heads that divide it (e.g. {_divisors(self.width)})")
        if self.positions == "rotary" and (self.width // self.heads) % 2:
            raise ValueError(f"rotary positions need an even head size, got "
                             f"{self.width // self.heads} (width {self.width} / heads {self.heads})")
        for name, kinds in (("family", FAMILIES), ("mlp", MLP_KINDS), ("norm", NORM_KINDS),
                            ("positions", POSITION_KINDS)):
            if getattr(self, name) not in kinds:
                raise ValueError(f"unknown {name} {getattr(self, name)!r}: use one of "
                                 f"{', '.join(kinds)}")
        if not (isinstance(self.mlp_ratio, (int, float)) and 0 < self.mlp_ratio <= 64):
            raise ValueError(f"mlp_ratio must be in (0, 64], got {self.mlp_ratio!r}")
        if not (isinstance(self.dropout, (int, float)) and 0 <= self.dropout < 1):
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout!r}")
        if not (isinstance(self.logit_softcap, (int, float)) and self.logit_softcap >= 0):
            raise ValueError(f"logit_softcap must be >= 0 (0 = off), got {self.logit_softcap!r}")

    def to_dict(self) -> dict:
        return asdict(self)


def _divisors(n: int) -> str:
    return ", ".join(str(d) for d in range(1, min(n, 16) + 1) if n % d == 0)


class RMSNorm(nn.RMSNorm):
    """nn.RMSNorm with its gain cast to the input's dtype: under bf16 autocast the stock module
    sees mixed dtypes and falls back to a slow unfused path."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.rms_norm(x, self.normalized_shape, self.weight.to(x.dtype), self.eps)


def make_norm(kind: str, width: int) -> nn.Module:
    return nn.LayerNorm(width, bias=False) if kind == "layernorm" else RMSNorm(width)


class Rotary(nn.Module):
    """Rotary position embedding (Su et al. 2021) applied to queries and keys."""

    def __init__(self, head_dim: int, context: int, base: float = 10000.0):
        super().__init__()
        freqs = 1.0 / base ** (torch.arange(0, head_dim, 2).float() / head_dim)
        angles = torch.outer(torch.arange(context).float(), freqs)
        self.register_buffer("cos", angles.cos()[None, None], persistent=False)
        self.register_buffer("sin", angles.sin()[None, None], persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: [B, heads, T, head_dim]
        t = x.shape[-2]
        cos, sin = self.cos[..., :t, :].to(x.dtype), self.sin[..., :t, :].to(x.dtype)
        x1, x2 = x.chunk(2, dim=-1)
        return torch.cat((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1)


class Attention(nn.Module):
    def __init__(self, cfg: ModelConfig, causal: bool = True):
        super().__init__()
        self.causal = causal
        self.heads, self.head_dim = cfg.heads, cfg.width // cfg.heads
        self.qkv = nn.Linear(cfg.width, 3 * cfg.width, bias=False)
        self.proj = nn.Linear(cfg.width, cfg.width, bias=False)
        self.rotary = Rotary(self.head_dim, cfg.context) if cfg.positions == "rotary" else None
        self.q_norm = RMSNorm(self.head_dim) if cfg.qk_norm else None
        self.k_norm = RMSNorm(self.head_dim) if cfg.qk_norm else None
        self.dropout = cfg.dropout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, c = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)
        if self.q_norm is not None:
            q, k = self.q_norm(q), self.k_norm(k)
        if self.rotary is not None:
            q, k = self.rotary(q), self.rotary(k)
        y = F.scaled_dot_product_attention(
            q, k, v, is_causal=self.causal, dropout_p=self.dropout if self.training else 0.0)
        return self.proj(y.transpose(1, 2).reshape(b, t, c))


class MLP(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.kind = cfg.mlp
        hidden = int(cfg.mlp_ratio * cfg.width)
        if self.kind == "swiglu":
            hidden = max(1, int(2 * hidden / 3))
            self.gate = nn.Linear(cfg.width, hidden, bias=False)
        self.up = nn.Linear(cfg.width, hidden, bias=False)
        self.proj = nn.Linear(hidden, cfg.width, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.kind == "swiglu":
            h = F.silu(self.gate(x)) * self.up(x)
        elif self.kind == "relu2":
            h = F.relu(self.up(x)).square()
        else:
            h = F.gelu(self.up(x), approximate="tanh")
        return self.proj(h)


class Block(nn.Module):
    def __init__(self, cfg: ModelConfig, causal: bool = True):
        super().__init__()
        self.norm1, self.attn = make_norm(cfg.norm, cfg.width), Attention(cfg, causal)
        self.norm2, self.mlp = make_norm(cfg.norm, cfg.width), MLP(cfg)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop(self.attn(self.norm1(x)))
        return x + self.drop(self.mlp(self.norm2(x)))


class GPT(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        cfg.validate()
        self.cfg = cfg
        self.tok_emb = nn.Embedding(cfg.vocab_size, cfg.width)
        self.pos_emb = nn.Embedding(cfg.context, cfg.width) if cfg.positions == "learned" else None
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.layers))
        self.norm = make_norm(cfg.norm, cfg.width)
        self.head = nn.Linear(cfg.width, cfg.vocab_size, bias=False)
        if cfg.tie_embeddings:
            self.head.weight = self.tok_emb.weight
        self.apply(self._init)
        for name, p in self.named_parameters():
            if name.endswith("proj.weight"):  # residual outputs: GPT-2's 1/sqrt(2L) scaling
                if cfg.zero_init_proj:
                    nn.init.zeros_(p)
                else:
                    nn.init.normal_(p, std=0.02 / math.sqrt(2 * cfg.layers))
        if not cfg.tie_embeddings and cfg.zero_init_proj:
            nn.init.zeros_(self.head.weight)

    @staticmethod
    def _init(m: nn.Module) -> None:
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, std=0.02)

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None) -> torch.Tensor:
        """Logits [B, T, vocab] for token ids [B, T] (T <= context), or the mean loss in
        nats/token when `targets` are given (one call, so DDP and compile see all of it)."""
        t = idx.shape[1]
        if t > self.cfg.context:
            raise ValueError(f"sequence of {t} tokens is longer than the context "
                             f"{self.cfg.context}; crop it first")
        x = self.tok_emb(idx)
        if self.pos_emb is not None:
            x = x + self.pos_emb.weight[:t]
        x = self.drop(x)
        for block in self.blocks:
            x = block(x)
        logits = self.head(self.norm(x))
        if self.cfg.logit_softcap:
            cap = self.cfg.logit_softcap
            logits = cap * torch.tanh(logits / cap)
        return logits if targets is None else lm_loss(logits, targets)

    def num_params(self, non_embedding: bool = False) -> int:
        return count_params(self, non_embedding)


def count_params(model: nn.Module, non_embedding: bool = False) -> int:
    """Exact count of distinct parameters; `non_embedding` leaves out token/position tables
    (an untied output head is counted: it does work per token)."""
    n = sum(p.numel() for p in model.parameters())
    if non_embedding:
        n -= model.tok_emb.weight.numel()
        if getattr(model, "pos_emb", None) is not None:
            n -= model.pos_emb.weight.numel()
    return n


def lm_loss(logits: torch.Tensor, targets: torch.Tensor, reduction: str = "mean"):
    """Cross-entropy in nats per token, computed in fp32."""
    return F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), targets.reshape(-1),
                           reduction=reduction)


def build_model(cfg: ModelConfig) -> nn.Module:
    """The model for `cfg.family`: every family shares the trainer, evaluation and checkpoints."""
    cfg.validate()
    if cfg.family == "lstm":
        from .lstm import LSTMLM

        return LSTMLM(cfg)
    if cfg.family == "mdlm":
        from .diffusion import MaskedDiffusionLM

        return MaskedDiffusionLM(cfg)
    return GPT(cfg)
