"""The pieces every family is built from: norms, rotary positions, attention, the MLP, the
transformer block, the loss, the parameter count and GPT-2's initialisation.

`LanguageModel` is what the trainer, evaluation and sampling talk to: each family says how it
scores text (`nll`) and whether it writes all positions at once, so no caller asks which
family a model is.
"""

from __future__ import annotations

import contextlib
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from tinylm.core.models.config import ModelConfig


class LanguageModel(nn.Module):
    """Base of every family: `forward(idx)` gives logits [B, T, vocab], `forward(idx, targets)`
    the mean training loss (one call, so DDP and compile see all of it)."""

    writes_all_at_once = False  # True for a diffusion model: it fills every position together
    attends = True  # has attention, whose cost grows with the context

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        cfg.validate()
        if "auto" in (cfg.head, cfg.width, cfg.value_embeds):  # built outside a run
            from tinylm.core.spec import resolve_model

            cfg = resolve_model(cfg)
        self.cfg = cfg

    def nll(self, idx: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Summed negative log-likelihood (nats) of `targets` given `idx`, for evaluation."""
        return lm_loss(self(idx), targets, reduction="sum")

    def num_params(self, non_embedding: bool = False) -> int:
        return count_params(self, non_embedding)

    def train_flops_per_token(self) -> float:
        """Training FLOPs per token: 6 per weight used per token (forward and backward), plus
        attention's QK^T and AV at the causal average."""
        weights = self.num_params(non_embedding=True)
        if self.cfg.tie_embeddings:
            weights += self.cfg.vocab_size * self.cfg.width  # the tied table is also the head
        attention = 6 * self.cfg.layers * self.cfg.context * self.cfg.width if self.attends else 0
        return 6.0 * weights + attention

    def check_length(self, t: int) -> None:
        if t > self.cfg.context:
            raise ValueError(f"sequence of {t} tokens is longer than the context "
                             f"{self.cfg.context}; crop it first")


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
        freqs = 1.0 / base ** (torch.arange(0, head_dim, 2).float() / head_dim)  # [head_dim/2]
        angles = torch.outer(torch.arange(context).float(), freqs)  # [context, head_dim/2]
        # cos, sin: [1, 1, context, head_dim/2], broadcast over batch and heads
        self.register_buffer("cos", angles.cos()[None, None], persistent=False)
        self.register_buffer("sin", angles.sin()[None, None], persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: [B, heads, T, head_dim]
        t = x.shape[-2]
        cos, sin = self.cos[..., :t, :].to(x.dtype), self.sin[..., :t, :].to(x.dtype)
        x1, x2 = x.chunk(2, dim=-1)  # each [B, heads, T, head_dim/2]: pairs (x1[i], x2[i])
        # rotate each pair by its position's angle; the shape stays [B, heads, T, head_dim]
        return torch.cat((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1)


class Attention(nn.Module):
    def __init__(self, cfg: ModelConfig, causal: bool = True):
        super().__init__()
        self.causal = causal
        self.heads, self.head_dim = cfg.heads, cfg.width // cfg.heads
        self.qkv = nn.Linear(cfg.width, 3 * cfg.width, bias=False)  # q, k, v in one matmul
        self.proj = nn.Linear(cfg.width, cfg.width, bias=False)
        self.rotary = Rotary(self.head_dim, cfg.context) if cfg.positions == "rotary" else None
        self.q_norm = RMSNorm(self.head_dim) if cfg.qk_norm else None
        self.k_norm = RMSNorm(self.head_dim) if cfg.qk_norm else None
        self.dropout = cfg.dropout

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None,
                ve: torch.Tensor | None = None) -> torch.Tensor:  # x: [B, T, width]
        b, t, c = x.shape
        # [B, T, 3 x width] -> [3, B, heads, T, head_dim]; q, k, v: [B, heads, T, head_dim]
        q, k, v = self.qkv(x).view(b, t, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)
        if ve is not None:  # a value embedding [B, T, width]: per-token capacity added to v
            v = v + ve.view(b, t, self.heads, self.head_dim).transpose(1, 2)
        if self.q_norm is not None:
            q, k = self.q_norm(q), self.k_norm(k)
        if self.rotary is not None:
            q, k = self.rotary(q), self.rotary(k)
        # y: [B, heads, T, head_dim], each position a mix of the values it attends to (causal:
        # those at or before it; with a mask, only those the mask allows)
        y = attend(q, k, v, self.causal, mask, self.dropout if self.training else 0.0)
        return self.proj(y.transpose(1, 2).reshape(b, t, c))  # heads side by side again


def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, causal: bool,
           mask: torch.Tensor | None = None, dropout: float = 0.0) -> torch.Tensor:
    """softmax(q k^T / sqrt(head_dim)) v over the positions allowed (causal, and `mask`
    [B, 1, T, T], True = may attend). On a CPU it is written as two matmuls and a masked
    softmax, which inductor fuses: at T = 256 the compiled step trains faster that way than
    with the CPU flash-attention kernel, whose backward alone took a fifth of the step
    (benchmarks/results/attention_speed). Elsewhere, and with dropout, the fused SDPA kernels."""
    if q.device.type != "cpu" or dropout:
        return sdpa(q, k, v, causal, mask, dropout)
    att = (q @ k.transpose(-2, -1)) * q.shape[-1] ** -0.5  # [B, heads, T, T]
    if causal and mask is None:
        mask = causal_mask(q.shape[-2], q.device)
    if mask is not None:
        att = att.masked_fill(~mask, float("-inf"))
    return att.softmax(dim=-1) @ v  # [B, heads, T, head_dim]


def sdpa(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, causal: bool,
         mask: torch.Tensor | None = None, dropout: float = 0.0) -> torch.Tensor:
    """`attend` through PyTorch's fused scaled_dot_product_attention kernels."""
    if mask is None:
        return F.scaled_dot_product_attention(q, k, v, is_causal=causal, dropout_p=dropout)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout)


def causal_mask(t: int, device: torch.device) -> torch.Tensor:
    """[T, T] bool, True where position i may attend to j (j <= i)."""
    return torch.ones(t, t, dtype=torch.bool, device=device).tril()


def document_mask(idx: torch.Tensor, eot_id: int) -> torch.Tensor:
    """[B, 1, T, T] bool: position i may attend to j when j <= i and no end-of-text token lies
    between them, so a story never reads the one before it. The <|endoftext|> token belongs to
    the story it ends."""
    starts = (idx == eot_id).int()
    doc = starts.cumsum(dim=1) - starts  # [B, T]: how many stories ended before each position
    same_story = doc[:, :, None] == doc[:, None, :]  # [B, T, T]
    return (causal_mask(idx.shape[1], idx.device) & same_story)[:, None]


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

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B, T, width] -> [B, T, width]
        if self.kind == "swiglu":
            h = F.silu(self.gate(x)) * self.up(x)
        elif self.kind == "relu2":
            h = F.relu(self.up(x)).square()
        else:
            h = F.gelu(self.up(x), approximate="tanh")
        return self.proj(h)  # h: [B, T, hidden]


class Block(nn.Module):
    """Pre-norm residual block: attention, then the MLP, each added to the stream."""

    def __init__(self, cfg: ModelConfig, causal: bool = True):
        super().__init__()
        self.norm1, self.attn = make_norm(cfg.norm, cfg.width), Attention(cfg, causal)
        self.norm2, self.mlp = make_norm(cfg.norm, cfg.width), MLP(cfg)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None,
                ve: torch.Tensor | None = None) -> torch.Tensor:  # x: [B, T, width], the stream
        x = x + self.drop(self.attn(self.norm1(x), mask, ve))
        return x + self.drop(self.mlp(self.norm2(x)))


def init_gpt2(model: nn.Module, layers: int, zero_proj: bool = False) -> None:
    """GPT-2's initialisation: N(0, 0.02) for every linear and embedding weight, and residual
    output projections scaled by 1/sqrt(2 x layers) (or zero) so the stream starts small."""
    for m in model.modules():
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, std=0.02)
    for name, p in model.named_parameters():
        if name.endswith("proj.weight"):
            if zero_proj:
                nn.init.zeros_(p)
            else:
                nn.init.normal_(p, std=0.02 / math.sqrt(2 * layers))


def count_params(model: nn.Module, non_embedding: bool = False) -> int:
    """Exact count of distinct parameters; `non_embedding` leaves out the lookup tables
    (an untied output head is counted: it does work per token)."""
    n = sum(p.numel() for p in model.parameters())
    if non_embedding:
        n -= sum(p.numel() for p in embedding_tables(model))
    return n


def embedding_tables(model: nn.Module) -> list[nn.Parameter]:
    """The distinct weights of every lookup table (token, position, value): read, not
    multiplied, so they cost no FLOPs per token."""
    tables = {id(m.weight): m.weight for m in model.modules() if isinstance(m, nn.Embedding)}
    return list(tables.values())


def soft_cap(logits: torch.Tensor, cap: float) -> torch.Tensor:
    """Logits squashed smoothly into (-cap, cap) (Gemma 2's soft-capping); unchanged if cap is 0."""
    return cap * torch.tanh(logits / cap) if cap else logits


def lm_loss(logits: torch.Tensor, targets: torch.Tensor, reduction: str = "mean"):
    """Cross-entropy in nats per token, computed in fp32."""
    return F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), targets.reshape(-1),
                           reduction=reduction)


@contextlib.contextmanager
def eval_mode(model: nn.Module):
    """Dropout off for evaluation or sampling, then back to the mode the model was in."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)
