"""The GPT the student writes in chapter 2, and how it is checked against tinylm's own.

Chapter 2 builds GPT-2's shape from small pieces, with the same parameter names as
`tinylm.core.models.gpt.GPT`, so tinylm's weights load into it one for one (`load_from_tinylm`) and
the two must then give the same logits. When they do not, `where_they_differ` runs both and
names the first part whose output differs, so the student knows where to look.
`MiniGPT` here is the reference solution, kept in the package so a unit test holds it to
tinylm's model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from tinylm.core.data import TokenData, val_windows
from tinylm.core.evaluate import metrics_from_totals
from tinylm.core.models import GPT
from tinylm.lab.recipes import RECIPES, defaults, run_spec

SIZE_FIELDS = ("context", "width", "layers", "heads")


def gpt2_size() -> dict:
    """The context, width, layers and heads of the `gpt2` recipe: the size chapter 2 trains."""
    settings = {**defaults(), **RECIPES["gpt2"]}
    return {k: settings[k] for k in SIZE_FIELDS}


def tinylm_gpt2(vocab_size: int, context: int, width: int, layers: int, heads: int,
                seed: int = 0) -> GPT:
    """tinylm's own model with every setting of the `gpt2` recipe (learned positions,
    LayerNorm, GELU, tied head) at the size given, freshly initialised from `seed`."""
    model = run_spec(RECIPES["gpt2"], context=context, width=width, layers=layers, heads=heads,
                     vocab_size=vocab_size).model
    torch.manual_seed(seed)
    return GPT(model)


@torch.no_grad()
def spread_weights(model: nn.Module, seed: int = 0) -> nn.Module:
    """`model` with its matrices redrawn at the scale of a trained model's (variance
    1 / fan-in) and its norm gains around 1, so that every part shows in the logits: at
    GPT-2's small starting weights attention is nearly uniform, and a wrong scale or GELU can
    hide below the comparison's tolerance. The embedding tables keep their values."""
    gen = torch.Generator().manual_seed(seed)
    tables = {id(m.weight) for m in model.modules() if isinstance(m, nn.Embedding)}
    for p in model.parameters():
        if id(p) in tables:
            continue
        if p.dim() == 2:
            p.copy_(torch.randn(p.shape, generator=gen) / math.sqrt(p.shape[1]))
        else:
            p.copy_(1 + 0.2 * torch.randn(p.shape, generator=gen))
    return model


def _shape(p: torch.Tensor) -> str:
    return str(list(p.shape))


def load_from_tinylm(student: nn.Module, reference: nn.Module,
                     names: dict[str, str] | None = None) -> None:
    """Copy `reference`'s weights into `student`, parameter by parameter, matched by name
    (`names` maps a student's own name to tinylm's). Everything is checked before anything is
    copied, so a model that does not fit is left as it was and the error names the part."""
    names = names or {}
    theirs = dict(reference.named_parameters())  # a tied table appears once, as tok_emb
    pairs = []
    for name, p in student.named_parameters():
        source = names.get(name, name)
        if source not in theirs:
            hint = (" (GPT-2 ties the head: set self.head.weight = self.tok_emb.weight)"
                    if name.startswith("head") else "")
            raise ValueError(f"your parameter {name!r} {_shape(p)} has no counterpart in "
                             f"tinylm's model{hint}; tinylm's are: {', '.join(theirs)}")
        if p.shape != theirs[source].shape:
            raise ValueError(f"your parameter {name!r} has shape {_shape(p)} but tinylm's "
                             f"{source!r} has {_shape(theirs[source])}: check that layer and "
                             f"the sizes in your config")
        pairs.append((p, theirs[source]))
    used = {names.get(n, n) for n, _ in student.named_parameters()}
    missing = [n for n in theirs if n not in used]
    if missing:
        raise ValueError(f"tinylm's parameter(s) {', '.join(missing)} have no counterpart in "
                         f"your model: add them with the same names (or pass names=)")
    with torch.no_grad():
        for mine, source in pairs:
            mine.copy_(source)


# What to check when a part's output differs, by the last part of its name.
HINTS = {
    "tok_emb": "the token embedding",
    "pos_emb": "the position embedding: one vector per position 0..T-1, added to the tokens",
    "attn": "attention: causal_self_attention (the 1/sqrt(head_dim) scale, the mask, the "
            "softmax over the last dimension) and how CausalSelfAttention splits the heads",
    "qkv": "the q, k, v projection (one Linear of width -> 3 x width, no bias)",
    "proj": "the output projection (a Linear without bias)",
    "mlp": "the MLP: up to 4 x width, F.gelu(..., approximate='tanh'), back to width",
    "up": "the MLP's first Linear (width -> 4 x width, no bias)",
    "norm1": "the LayerNorm before attention (nn.LayerNorm(width, bias=False))",
    "norm2": "the LayerNorm before the MLP (nn.LayerNorm(width, bias=False))",
    "norm": "the final LayerNorm, or the residual additions in Block.forward",
    "head": "the head: tied to tok_emb, no bias",
    "block": "the block's residual additions: x + attn(norm1(x)), then x + mlp(norm2(x))",
}


@torch.no_grad()
def where_they_differ(student: nn.Module, reference: nn.Module, idx: torch.Tensor,
                      atol: float = 1e-5) -> str:
    """Which part of `student` is the first to compute something else than the same-named
    part of `reference` from the same input, on token ids `idx` [B, T], and what to check
    there (one sentence)."""
    seen: dict[str, dict[str, tuple]] = {"student": {}, "reference": {}}
    order: list[str] = []  # the student's parts, in the order they finished
    handles = []
    for who, model in (("student", student), ("reference", reference)):
        for name, module in model.named_modules():
            if not name:
                continue

            def keep(_module, inputs, out, name=name, who=who):
                first = next((x for x in inputs if isinstance(x, torch.Tensor)), None)
                if isinstance(out, torch.Tensor) and name not in seen[who]:
                    seen[who][name] = (first, out.detach())
                    if who == "student":
                        order.append(name)
            handles.append(module.register_forward_hook(keep))
    try:
        student(idx)
        reference(idx)
    finally:
        for h in handles:
            h.remove()

    def differs(a: torch.Tensor | None, b: torch.Tensor | None) -> float | None:
        """The largest difference, or None when the two cannot be compared."""
        if a is None or b is None or a.shape != b.shape or a.dtype != b.dtype:
            return None
        return float((a - b).abs().max()) if a.is_floating_point() else float((a != b).any())

    for name in order:
        if name not in seen["reference"]:
            continue
        (x_ours, y_ours), (x_theirs, y_theirs) = seen["student"][name], seen["reference"][name]
        same_input = differs(x_ours, x_theirs)
        diff = differs(y_ours, y_theirs)
        if same_input is not None and same_input <= atol and diff is not None and diff > atol:
            last = name.split(".")[-1]
            hint = HINTS["block"] if last.isdigit() else HINTS.get(last, "that part")
            return f"the first difference is in {name} (largest {diff:.2e}): check {hint}"
    return ("no part differs on its own, so check how they are joined: the sum of token and "
            "position vectors in GPT.forward, the residual additions in Block.forward, and the "
            "final LayerNorm before the head")


@torch.no_grad()
def val_bpb(model: nn.Module, data: TokenData, context: int,
            max_tokens: int | None = 16_384) -> dict:
    """Held-out loss of any model that maps token ids [B, T] to logits [B, T, vocab]: nats
    per token and bits per byte, as `tinylm.evaluate` reports them."""
    windows = val_windows(data.val, context, max_tokens)  # [n, context + 1]
    lengths = torch.from_numpy(data.token_bytes)
    was_training = model.training
    model.eval()
    nats, tokens, nbytes = 0.0, 0, 0
    try:
        for w in windows.split(16):
            x, y = w[:, :-1], w[:, 1:]
            logits = model(x)
            nats += float(F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(),
                                          y.reshape(-1), reduction="sum"))
            tokens, nbytes = tokens + y.numel(), nbytes + int(lengths[y].sum())
    finally:
        model.train(was_training)
    return metrics_from_totals(nats, tokens, nbytes)


# ---------------------------------------------------------------- the reference solution


@dataclass
class Config:
    vocab_size: int
    context: int
    width: int
    layers: int
    heads: int


def causal_self_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """q, k, v [B, heads, T, head_dim] -> [B, heads, T, head_dim]: each position's weighted
    mix of the values at or before it."""
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # [B, heads, T, T]
    t = q.shape[-2]
    future = torch.ones(t, t, dtype=torch.bool, device=q.device).triu(1)  # j > i
    scores = scores.masked_fill(future, float("-inf"))
    return scores.softmax(dim=-1) @ v


class CausalSelfAttention(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        self.heads = cfg.heads
        self.qkv = nn.Linear(cfg.width, 3 * cfg.width, bias=False)
        self.proj = nn.Linear(cfg.width, cfg.width, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B, T, width]
        b, t, w = x.shape
        q, k, v = self.qkv(x).split(w, dim=-1)  # each [B, T, width]
        q, k, v = (z.view(b, t, self.heads, w // self.heads).transpose(1, 2) for z in (q, k, v))
        y = causal_self_attention(q, k, v)  # [B, heads, T, head_dim]
        return self.proj(y.transpose(1, 2).reshape(b, t, w))


class MLP(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        self.up = nn.Linear(cfg.width, 4 * cfg.width, bias=False)
        self.proj = nn.Linear(4 * cfg.width, cfg.width, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(F.gelu(self.up(x), approximate="tanh"))


class Block(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        self.norm1, self.attn = nn.LayerNorm(cfg.width, bias=False), CausalSelfAttention(cfg)
        self.norm2, self.mlp = nn.LayerNorm(cfg.width, bias=False), MLP(cfg)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class MiniGPT(nn.Module):
    """GPT-2's shape in a page: what chapter 2's cells build, parameter names as tinylm's."""

    def __init__(self, cfg: Config):
        super().__init__()
        self.tok_emb = nn.Embedding(cfg.vocab_size, cfg.width)
        self.pos_emb = nn.Embedding(cfg.context, cfg.width)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.layers))
        self.norm = nn.LayerNorm(cfg.width, bias=False)
        self.head = nn.Linear(cfg.width, cfg.vocab_size, bias=False)
        self.head.weight = self.tok_emb.weight
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, std=0.02)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:  # [B, T] -> [B, T, vocab]
        x = self.tok_emb(idx) + self.pos_emb(torch.arange(idx.shape[1], device=idx.device))
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x))
