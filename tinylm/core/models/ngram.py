"""An n-gram memory inside the model: counts of the training text's n-grams, smoothed into a
normalised next-token distribution and mixed with the network's own.

A five-minute transformer reads each story once; a count table remembers every n-gram it saw,
exactly, after one pass that numpy makes in seconds. Goedecke mixed n-gram predictions into his
model's ("shallow fusion", quoted in chapter 6); here the mixture lives in `GPT.forward`, so
evaluation, sampling and checkpoints all see one normalised distribution:

    p(w | history) = lam * p_network(w | history) + (1 - lam) * p_ngram(w | history)

`p_ngram` is interpolated Kneser-Ney (Chen and Goodman 1998, one discount per order): the
highest order uses raw counts, the lower orders count distinct left neighbours, and each order
hands the mass it discounts to the one below. `lam` depends on the longest context the counts
know (a position whose 4-gram context was seen often trusts the counts more), and is fitted by
EM on a held-out slice of the training text after training (`fit_mix`).

The tables are exact (n-gram ids are base-vocabulary numbers in int64, so no hashing) and sparse:
for each order, the sorted context ids, where each context's continuations start, the
continuation tokens and their discounted probabilities.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn

FLOOR = 1e-6  # share of the unigram spread evenly, so no token ever has probability zero
TABLE_PARTS = ("ctx", "start", "next", "prob", "backoff")


class NGramMemory(nn.Module):
    """Orders 1..`order` of the training text's n-grams, and the network's mixing weights."""

    def __init__(self, vocab_size: int, order: int):
        super().__init__()
        self.vocab_size, self.order = vocab_size, order
        self.register_buffer("unigram", torch.full((vocab_size,), 1.0 / vocab_size))
        for n in range(2, order + 1):  # sized by `count` or by a checkpoint (`resize`)
            for part in TABLE_PARTS:
                dtype = torch.int64 if part in ("ctx", "start") else (
                    torch.int32 if part == "next" else torch.float32)
                self.register_buffer(f"o{n}_{part}", torch.zeros(0, dtype=dtype))
        # the network's weight for each longest-known order 1..order; empty: not fitted (then
        # the model predicts with the network alone)
        self.register_buffer("mix", torch.zeros(0))

    # ------------------------------------------------------------------ counting

    @classmethod
    def count(cls, tokens: np.ndarray, vocab_size: int, order: int) -> NGramMemory:
        """The memory of `tokens` (a 1-D array of token ids): a few seconds for millions."""
        memory = cls(vocab_size, order)
        x = np.asarray(tokens, dtype=np.int64)
        keys, counts = _ngram_counts(x, order, vocab_size)  # the top order: raw counts
        for n in range(order, 1, -1):
            memory._set_table(n, keys, counts.astype(np.float64))
            # the order below counts distinct left neighbours (Kneser-Ney continuation counts)
            keys, counts = np.unique(keys % vocab_size ** (n - 1), return_counts=True)
        unigram = np.bincount(keys, weights=counts, minlength=vocab_size)[:vocab_size]
        unigram = unigram / max(unigram.sum(), 1.0)
        memory.unigram = torch.from_numpy((1 - FLOOR) * unigram + FLOOR / vocab_size).float()
        return memory

    def _set_table(self, n: int, keys: np.ndarray, counts: np.ndarray) -> None:
        v = self.vocab_size
        ctx, nxt = keys // v, keys % v  # sorted by key, so grouped by context
        uniq, start = np.unique(ctx, return_index=True)
        total = np.add.reduceat(counts, start)
        kinds = np.diff(np.append(start, len(ctx)))
        n1, n2 = (counts == 1).sum(), (counts == 2).sum()
        discount = n1 / (n1 + 2 * n2) if n1 + n2 else 0.5
        per_ctx = np.repeat(total, kinds)
        prob = np.maximum(counts - discount, 0.0) / per_ctx  # the discounted share of each
        tables = {"ctx": uniq, "start": np.append(start, len(ctx)), "next": nxt.astype(np.int32),
                  "prob": prob.astype(np.float32),
                  "backoff": (discount * kinds / total).astype(np.float32)}
        for part, values in tables.items():
            setattr(self, f"o{n}_{part}", torch.from_numpy(np.ascontiguousarray(values)))

    def resize(self, shapes: dict[str, tuple]) -> None:
        """Give the table buffers the shapes stored in a checkpoint, before its weights load."""
        for name, buf in self.named_buffers():
            if name in shapes and tuple(buf.shape) != tuple(shapes[name]):
                setattr(self, name, torch.zeros(shapes[name], dtype=buf.dtype))

    @property
    def fitted(self) -> bool:
        """Whether the mixing weights are fitted (before that the network predicts alone)."""
        return self.mix.numel() > 0

    def nbytes(self) -> int:
        return sum(b.numel() * b.element_size() for b in self.buffers())

    # ------------------------------------------------------------------ predicting

    def probs(self, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(p_ngram [B, T, vocab] float32, the longest order whose context is known [B, T])
        for the windows `idx` [B, T]; a window's first tokens have shorter histories."""
        b, t = idx.shape
        flat = idx.reshape(-1).long()
        p = self.unigram.to(idx.device).expand(b * t, -1).clone()
        known = torch.ones(b * t, dtype=torch.long, device=idx.device)
        pos = torch.arange(t, device=idx.device).repeat(b)
        for n in range(2, self.order + 1):
            ctx = getattr(self, f"o{n}_ctx")
            if ctx.numel() == 0:
                continue
            ids = torch.zeros(b * t, dtype=torch.int64, device=idx.device)
            for k in range(n - 1):  # context of position i: tokens i-n+2 .. i
                ids = ids * self.vocab_size + flat.roll(n - 2 - k)
            row = torch.searchsorted(ctx, ids).clamp(max=len(ctx) - 1)
            found = (ctx[row] == ids) & (pos >= n - 2)
            where, row = found.nonzero().squeeze(1), row[found]
            start = getattr(self, f"o{n}_start")
            first, lens = start[row], start[row + 1] - start[row]
            p[where] *= getattr(self, f"o{n}_backoff")[row, None]  # the mass handed down
            owner = where.repeat_interleave(lens)
            offset = torch.arange(int(lens.sum()), device=idx.device) - \
                (lens.cumsum(0) - lens).repeat_interleave(lens)
            entry = first.repeat_interleave(lens) + offset
            p.index_put_((owner, getattr(self, f"o{n}_next")[entry].long()),
                         getattr(self, f"o{n}_prob")[entry], accumulate=True)
            known[where] = n
        return p.view(b, t, -1), known.view(b, t)

    def mix_logprobs(self, logprobs: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        """log(lam * p_network + (1 - lam) * p_ngram) [B, T, vocab] from the network's
        log-probabilities; the network's own when the weights are not fitted yet."""
        if not self.fitted:
            return logprobs
        p, known = self.probs(idx)
        lam = self.mix.to(logprobs.device)[known - 1].unsqueeze(-1)  # [B, T, 1]
        return torch.logaddexp(logprobs.float() + lam.log(), p.log() + (1 - lam).log())

    @torch.no_grad()
    def fit_mix(self, logprobs: torch.Tensor, idx: torch.Tensor, targets: torch.Tensor,
                steps: int = 30) -> None:
        """EM for the network's weight per longest-known order, on held-out windows: `logprobs`
        [B, T, vocab] of the network on `idx`, and the true next tokens `targets` [B, T]."""
        p, known = self.probs(idx)
        net = logprobs.float().gather(-1, targets[..., None]).squeeze(-1).exp().reshape(-1)
        ng = p.gather(-1, targets[..., None]).squeeze(-1).reshape(-1)
        known = known.reshape(-1)
        lam = torch.full((self.order,), 0.5)
        for _ in range(steps):
            share = lam[known - 1] * net / (lam[known - 1] * net + (1 - lam[known - 1]) * ng)
            sums = torch.zeros(self.order).index_add_(0, known - 1, share)
            seen = torch.bincount(known - 1, minlength=self.order).float()
            pooled = sums.sum() / seen.sum()  # for an order no held-out position reached
            lam = torch.where(seen > 0, sums / seen.clamp(min=1), pooled).clamp(0.01, 0.99)
        self.mix = lam


def _ngram_counts(x: np.ndarray, n: int, vocab_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted unique ids of the n-grams of `x` (base-`vocab_size` numbers) and their counts."""
    if vocab_size ** n >= 2 ** 63:
        raise ValueError(f"ngram_order {n} with a vocabulary of {vocab_size} does not fit in "
                         "int64 ids; lower ngram_order")
    keys = np.zeros(len(x) - n + 1, dtype=np.int64)
    for k in range(n):
        keys = keys * vocab_size + x[k:len(x) - n + 1 + k]
    return np.unique(keys, return_counts=True)


HELD_OUT_TOKENS = 8192  # the end of the training text, kept from training to fit the weights
FIT_RESERVE_S = 1.0  # of the budget, kept for fitting the weights after the loop


def split_held_out(tokens: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(the tokens to count and train on, the held-out slice that fits the mixing weights)."""
    held = min(HELD_OUT_TOKENS, len(tokens) // 10)
    return tokens[:len(tokens) - held], tokens[len(tokens) - held:]


@torch.no_grad()
def fit_on(model, held: np.ndarray, device, autocast_ctx) -> None:
    """Fit `model.ngram`'s mixing weights on the held-out tokens, in windows of its context."""
    context = model.cfg.context
    n = (len(held) - 1) // context
    if n < 1:
        raise ValueError(f"the held-out slice has {len(held)} tokens, fewer than one window of "
                         f"context {context}; add training text or set ngram_order=0")
    w = torch.from_numpy(np.asarray(held[:n * context + 1], dtype=np.int64))
    x = w[:-1].view(n, context).to(device)
    y = w[1:].view(n, context).to(device)
    was_training = model.training
    model.eval()
    with autocast_ctx:
        logprobs = torch.log_softmax(model(x).float(), dim=-1)  # the network alone: not fitted
    model.ngram.fit_mix(logprobs.cpu(), x.cpu(), y.cpu())
    model.train(was_training)
