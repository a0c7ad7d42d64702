"""Validation loss in the units that compare across tokenizers: bits per byte.

Perplexity depends on what a token is (a byte, a word piece), so two tokenizers' perplexities
cannot be compared. Bits per byte divide the total surprise by the text's UTF-8 bytes instead:
val_bpb = total nats / total bytes / ln 2.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from tinylm.core.models import eval_mode
from tinylm.machine.device import autocast


def bits_per_byte(nats: float, nbytes: float) -> float:
    """Surprise in nats over `nbytes` bytes of text, as bits per byte (also: a loss in nats per
    token with `nbytes` = bytes per token)."""
    return nats / nbytes / math.log(2)


@torch.no_grad()
def evaluate(model: torch.nn.Module, windows: torch.Tensor, token_bytes: np.ndarray,
             device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32,
             batch_size: int = 32) -> dict:
    """Loss over fixed windows [n, context + 1]: each window predicts its last `context` tokens."""
    device = torch.device(device)
    nats, tokens, nbytes = 0.0, 0, 0
    lengths = torch.from_numpy(np.asarray(token_bytes))
    with eval_mode(model):
        for i in range(0, len(windows), batch_size):
            w = windows[i:i + batch_size]
            x, y = w[:, :-1].to(device), w[:, 1:]
            with autocast(device, dtype):
                nats += float(model.nll(x, y.to(device)))
            tokens += y.numel()
            nbytes += int(lengths[y].sum())
    return metrics_from_totals(nats, tokens, nbytes)


def metrics_from_totals(nats: float, tokens: int, nbytes: int) -> dict:
    """val_loss (nats/token), val_bpb (bits/byte) and val_ppl from summed surprise."""
    loss = nats / tokens
    return {"val_loss": loss, "val_bpb": bits_per_byte(nats, nbytes),
            "val_ppl": math.exp(min(loss, 50.0)), "tokens": tokens, "bytes": nbytes}
