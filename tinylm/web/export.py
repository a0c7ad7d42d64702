"""A checkpoint as the web page's JSON: the forward pass's settings, the weights as one base64
blob, the tokenizer file and a line about the run.

Only what the page's JavaScript twin of the forward pass implements is exported: the
transformer (family "gpt") with either norm, either positions, every MLP, QK-norm, soft-capped
logits, the smear gate, value embeddings, the document mask, the full, tied or adaptive head
and the n-gram memory (its counts travel as integers; the page derives the probabilities).
Anything else (an LSTM, a diffusion model) is refused with a one-line ValueError naming it,
before a page is written that could not run it.

Weights are float32 by default: the page then computes what `python -m tinylm sample` computes
up to float rounding order, so greedy text agrees token for token. float16 halves the page but
rounds every weight, which can flip a near-tie between two tokens.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
import torch

from tinylm.core.checkpoint import Checkpoint, load
from tinylm.core.corpus import EOT
from tinylm.core.models.layers import RMSNorm

PRECISIONS = ("float32", "float16")
ROTARY_BASE = 10000.0  # layers.Rotary's default, the only one the model uses


def check_supported(ckpt: Checkpoint) -> None:
    """Raise ValueError naming the family or option the page cannot run."""
    cfg = ckpt.model.cfg
    if cfg.family != "gpt":
        raise ValueError(f"the web page runs transformer checkpoints (family 'gpt') only; "
                         f"{ckpt.path} holds family {cfg.family!r}")
    if cfg.head not in ("full", "adaptive"):
        raise ValueError(f"the web page does not implement head {cfg.head!r}")


def model_payload(run_dir: str | Path, precision: str = "float32", verify: bool = True) -> dict:
    """The page's model JSON for checkpoint folder `run_dir`, loaded (and hash-checked) by
    `tinylm.core.checkpoint.load`."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    ckpt = load(run_dir, "cpu", verify=verify)
    check_supported(ckpt)
    model, cfg = ckpt.model, ckpt.model.cfg
    tensors, blob = pack(model.state_dict(), precision, skip_tied=cfg.tie_embeddings)
    norm = model.blocks[0].norm1
    config = {
        "vocab_size": cfg.vocab_size, "context": cfg.context, "width": cfg.width,
        "layers": cfg.layers, "heads": cfg.heads, "mlp": cfg.mlp,
        "mlp_hidden": model.blocks[0].mlp.up.weight.shape[0], "norm": cfg.norm,
        "norm_eps": _eps(norm), "positions": cfg.positions, "rotary_base": ROTARY_BASE,
        "tie_embeddings": cfg.tie_embeddings, "head": cfg.head, "shortlist": cfg.shortlist,
        "head_tail_width": cfg.head_tail_width, "smear": cfg.smear,
        "value_embeds": bool(cfg.value_embeds), "doc_mask": cfg.doc_mask, "qk_norm": cfg.qk_norm,
        "qk_norm_eps": _eps(model.blocks[0].attn.q_norm) if cfg.qk_norm else 0.0,
        "logit_softcap": float(cfg.logit_softcap), "eot_id": ckpt.tokenizer.token_to_id(EOT),
        "ngram_order": cfg.ngram_order,
    }
    return {"format": "tinylm-web", "version": 1, "config": config, "tensors": tensors,
            "weights": base64.b64encode(blob).decode("ascii"), "precision": precision,
            "tokenizer": _tokenizer_json(ckpt), "about": about(ckpt)}


def pack(state: dict[str, torch.Tensor], precision: str, skip_tied: bool = False):
    """({name: {shape, dtype, offset}}, bytes): every tensor in one little-endian blob at 4-byte
    aligned offsets, so the page views it without copying. Matrices take `precision`; vectors
    (norm gains, the smear gate) stay float32, int16 buffers (the n-gram counts) stay int16
    and other integer buffers become int32."""
    spec, parts, offset = {}, [], 0
    for name, t in state.items():
        if skip_tied and name == "head.weight":  # the same tensor as tok_emb.weight
            continue
        t = t.detach().cpu()
        if t.dtype == torch.int16:  # the n-gram memory's tokens and counts
            arr, kind = t.numpy().astype("<i2"), "i16"
        elif not t.is_floating_point():
            arr, kind = t.numpy().astype("<i4"), "i32"
        elif t.dim() >= 2 and precision == "float16":
            arr, kind = t.float().numpy().astype("<f2"), "f16"
        else:
            arr, kind = t.float().numpy().astype("<f4"), "f32"
        data = np.ascontiguousarray(arr).tobytes()
        spec[name] = {"shape": list(t.shape), "dtype": kind, "offset": offset}
        pad = -len(data) % 4
        parts.append(data + b"\0" * pad)
        offset += len(data) + pad
    return spec, b"".join(parts)


def about(ckpt: Checkpoint) -> str:
    """One line about the run for the page's header (shown as text, never as markup)."""
    cfg, m = ckpt.model.cfg, ckpt.metrics
    params = sum(p.numel() for p in ckpt.model.parameters())
    parts = [f"{params / 1e6:.2f}M parameters", f"width {cfg.width}", f"{cfg.layers} layers",
             f"{cfg.heads} heads", f"vocabulary {cfg.vocab_size}", f"context {cfg.context}"]
    if isinstance(m.get("val_bpb"), (int, float)):
        parts.append(f"val_bpb {m['val_bpb']:.4f}")
    if isinstance(m.get("train_seconds"), (int, float)):
        parts.append(f"trained {m['train_seconds']:.0f} s")
    return " · ".join(parts)


def _eps(module) -> float:
    eps = getattr(module, "eps", None)
    if eps is None and isinstance(module, RMSNorm):  # F.rms_norm's default: the dtype's epsilon
        eps = torch.finfo(torch.float32).eps
    return float(eps)


def _tokenizer_json(ckpt: Checkpoint) -> dict:
    return json.loads(ckpt.tokenizer.to_str())
