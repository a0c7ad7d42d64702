"""An n-gram memory inside the model: counts of the training text's n-grams, smoothed into a
normalised next-token distribution and mixed with the network's own.

A five-minute transformer reads each story once; a count table remembers every n-gram it saw,
exactly, after one pass that numpy makes in seconds. Goedecke mixed n-gram predictions into his
model's ("shallow fusion", quoted in chapter 6); here the mixture lives in `GPT.forward`, so
evaluation, sampling, checkpoints and the web page all see one normalised distribution:

    p(w | history) = lam * p_network(w | history) + (1 - lam) * p_ngram(w | history)

`p_ngram` is interpolated Kneser-Ney (Chen and Goodman 1998, one discount per order): the
highest order uses raw counts, the lower orders count distinct left neighbours, and each order
hands the mass it discounts to the one below. `lam` depends on the longest context the counts
know, and is fitted by EM on a held-out slice of the training text after training (`fit_mix`).

The counts are stored as a trie, the smallest exact form: level 1 is the vocabulary, and each
entry of level k (a k-gram) owns a run of level k+1 entries (its continuations), stored as
their last token and count, in token order. The checkpoint and the page keep only integers
(token, count, number of children); the probabilities are derived from them when the memory
is counted or loaded, by the same float32 operations here and in the page's JavaScript.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn

FLOOR = 1e-6  # share of the unigram spread evenly, so no token ever has probability zero
DTYPES = {"I16": torch.int16, "I32": torch.int32, "I64": torch.int64, "F32": torch.float32}


class NGramMemory(nn.Module):
    """Orders 1..`order` of the training text's n-grams, and the network's mixing weights."""

    def __init__(self, vocab_size: int, order: int):
        super().__init__()
        self.vocab_size, self.order = vocab_size, order
        self.register_buffer("unigram", torch.full((vocab_size,), 1.0 / vocab_size))
        self.register_buffer("discount", torch.zeros(order + 1))  # per order; 0, 1 unused
        for k in range(1, order + 1):  # sized by `count` or by a checkpoint (`resize`)
            if k > 1:
                self.register_buffer(f"l{k}_next", torch.zeros(0, dtype=torch.int16))
                self.register_buffer(f"l{k}_count", torch.zeros(0, dtype=torch.int16))
                self.register_buffer(f"l{k}_prob", torch.zeros(0), persistent=False)
                self.register_buffer(f"l{k}_key", torch.zeros(0, dtype=torch.int64),
                                     persistent=False)  # parent * vocab + next, sorted
            if k < order:
                self.register_buffer(f"l{k}_children", torch.zeros(0, dtype=torch.int16))
                self.register_buffer(f"l{k}_first", torch.zeros(1, dtype=torch.int64),
                                     persistent=False)
                self.register_buffer(f"l{k}_backoff", torch.zeros(0), persistent=False)
        # the network's weight for each longest-known order 1..order; empty: not fitted (then
        # the model predicts with the network alone)
        self.register_buffer("mix", torch.zeros(0))
        self.register_load_state_dict_post_hook(lambda module, _: module.derive())

    # ------------------------------------------------------------------ counting

    @classmethod
    def count(cls, tokens: np.ndarray, vocab_size: int, order: int) -> NGramMemory:
        """The memory of `tokens` (a 1-D array of token ids): a few seconds for millions."""
        memory, v = cls(vocab_size, order), vocab_size
        keys, counts = _ngram_counts(np.asarray(tokens, dtype=np.int64), order, v)
        levels = {}
        for k in range(order, 1, -1):
            levels[k] = (keys, counts)
            # the level below: k-1-grams with their distinct left neighbours (Kneser-Ney
            # continuation counts), plus every context of this level (some have none: the
            # text's first k-1 tokens), so each entry's parent is an entry of the level below
            seen = keys[counts > 0]
            cont, cont_counts = np.unique(seen % v ** (k - 1), return_counts=True)
            keys = np.union1d(cont, keys // v)
            counts = np.zeros(len(keys), dtype=np.int64)
            counts[np.searchsorted(keys, cont)] = cont_counts
        unigram = np.bincount(keys, weights=counts, minlength=v)[:v]
        memory.unigram = torch.from_numpy(
            (1 - FLOOR) * unigram / max(unigram.sum(), 1.0) + FLOOR / v).float()
        parents = np.arange(v, dtype=np.int64)  # level 1: every token, in id order
        discount = np.zeros(order + 1)
        for k in range(2, order + 1):
            keys, counts = levels[k]
            parent = np.searchsorted(parents, keys // v)
            n1, n2 = (counts == 1).sum(), (counts == 2).sum()
            discount[k] = n1 / (n1 + 2 * n2) if n1 + n2 else 0.5
            memory._store(f"l{k}_next", keys % v)
            memory._store(f"l{k}_count", counts)
            memory._store(f"l{k - 1}_children", np.bincount(parent, minlength=len(parents)))
            parents = keys
        memory.discount = torch.from_numpy(discount).float()
        memory.derive()
        return memory

    def _store(self, name: str, values: np.ndarray) -> None:
        dtype = np.int16 if values.max(initial=0) < 2 ** 15 else np.int32  # the smallest exact
        setattr(self, name, torch.from_numpy(np.ascontiguousarray(values.astype(dtype))))

    def derive(self) -> None:
        """The float32 probabilities from the stored integers (after counting or loading):
        each entry max(count - discount, 0) / its parent's total, and each parent's backoff
        discount * (children with a count) / total, the mass it hands to the order below."""
        v = self.vocab_size
        for k in range(1, self.order):
            children = getattr(self, f"l{k}_children").long()
            if children.numel() == 0:
                return  # not counted or loaded yet
            first = torch.cat([children.new_zeros(1), children.cumsum(0)])
            parent = torch.repeat_interleave(torch.arange(len(children), device=first.device),
                                             children)
            counts = getattr(self, f"l{k + 1}_count").long()
            total = torch.zeros(len(children), dtype=torch.long,
                                device=first.device).index_add_(0, parent, counts).float()
            kinds = torch.zeros_like(total).index_add_(0, parent, (counts > 0).float())
            d = self.discount[k + 1]
            self._set(f"l{k}_first", first)
            self._set(f"l{k}_backoff", torch.where(total > 0, d * kinds / total.clamp(min=1), 1.0))
            self._set(f"l{k + 1}_prob", (counts.float() - d).clamp(min=0) / total[parent])
            self._set(f"l{k + 1}_key", parent * v + getattr(self, f"l{k + 1}_next").long())

    def _set(self, name: str, value: torch.Tensor) -> None:
        self._buffers[name] = value  # keeps the buffer non-persistent

    def resize(self, stored: dict[str, tuple[tuple, str]]) -> None:
        """Give the stored buffers the shapes and dtypes (safetensors names) of a checkpoint's,
        before its weights load."""
        for name, (shape, dtype) in stored.items():
            if name in self._buffers:
                self._buffers[name] = torch.zeros(shape, dtype=DTYPES.get(dtype, torch.float32))

    @property
    def fitted(self) -> bool:
        """Whether the mixing weights are fitted (before that the network predicts alone)."""
        return self.mix.numel() > 0

    def nbytes(self) -> int:
        """What the memory adds to a checkpoint (its stored buffers)."""
        return sum(t.numel() * t.element_size() for t in self.state_dict().values())

    # ------------------------------------------------------------------ predicting

    def probs(self, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(p_ngram [B, T, vocab] float32, the longest order whose context is known [B, T])
        for the windows `idx` [B, T]; a window's first tokens have shorter histories."""
        b, t = idx.shape
        v, dev = self.vocab_size, idx.device
        flat, pos = idx.reshape(-1).long(), torch.arange(t, device=dev).repeat(b)
        p = self.unigram.expand(b * t, -1).clone()
        known = torch.ones(b * t, dtype=torch.long, device=dev)
        for n in range(2, self.order + 1):
            node, ok = self._contexts(flat, pos, n)
            if node is None:
                break
            first = getattr(self, f"l{n - 1}_first")
            where, node = ok.nonzero().squeeze(1), node[ok]
            lens = first[node + 1] - first[node]
            scale = torch.ones(b * t, device=dev)  # the mass each known context hands down
            p.mul_(scale.index_put_((where,), getattr(self, f"l{n - 1}_backoff")[node])[:, None])
            owner = where.repeat_interleave(lens)
            offset = torch.arange(int(lens.sum()), device=dev) - \
                (lens.cumsum(0) - lens).repeat_interleave(lens)
            entry = first[node].repeat_interleave(lens) + offset
            slot = owner * v + getattr(self, f"l{n}_next")[entry]  # distinct: one add each
            p.view(-1).index_add_(0, slot, getattr(self, f"l{n}_prob")[entry])
            known[where] = n
        return p.view(b, t, -1), known.view(b, t)

    def target_probs(self, idx: torch.Tensor,
                     targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(p_ngram of each target [B, T], the longest known order [B, T]): `probs` at one
        token per position, by the same float32 operations, without the [B, T, vocab] table."""
        b, t = idx.shape
        flat, pos = idx.reshape(-1).long(), torch.arange(t, device=idx.device).repeat(b)
        y = targets.reshape(-1).long()
        p = self.unigram[y]
        known = torch.ones(b * t, dtype=torch.long, device=idx.device)
        for n in range(2, self.order + 1):
            node, ok = self._contexts(flat, pos, n)
            if node is None:
                break
            p = torch.where(ok, p * getattr(self, f"l{n - 1}_backoff")[node], p)
            key = getattr(self, f"l{n}_key")
            want = node * self.vocab_size + y
            entry = torch.searchsorted(key, want).clamp(max=len(key) - 1)
            hit = ok & (key[entry] == want)
            p = p + torch.where(hit, getattr(self, f"l{n}_prob")[entry], 0.0)
            known = torch.where(ok, n, known)
        return p.view(b, t), known.view(b, t)

    def _contexts(self, flat: torch.Tensor, pos: torch.Tensor, n: int):
        """(the level-(n-1) entry of each position's last n-1 tokens, whether the counts know
        it: seen, with continuations), walking down the trie; (None, None) if order n is empty."""
        if getattr(self, f"l{n}_next").numel() == 0:
            return None, None
        v = self.vocab_size
        node = flat.roll(n - 2)  # the context's oldest token: a level-1 entry
        ok = pos >= n - 2
        for k in range(2, n):
            key = getattr(self, f"l{k}_key")
            want = node * v + flat.roll(n - 1 - k)
            node = torch.searchsorted(key, want).clamp(max=len(key) - 1)
            ok = ok & (key[node] == want)
        first = getattr(self, f"l{n - 1}_first")
        return node, ok & (first[node + 1] > first[node])

    def mix_logprobs(self, logprobs: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        """log(lam * p_network + (1 - lam) * p_ngram) [B, T, vocab] from the network's
        log-probabilities; the network's own when the weights are not fitted yet."""
        if not self.fitted:
            return logprobs
        p, known = self.probs(idx)
        return self._mixed(logprobs, p, self.mix[known - 1].unsqueeze(-1))  # lam [B, T, 1]

    def mix_target_logprobs(self, logprobs: torch.Tensor, idx: torch.Tensor,
                            targets: torch.Tensor) -> torch.Tensor:
        """`mix_logprobs` at the targets only: the mixture's log-probability [B, T] of each
        target from the network's [B, T] (what evaluation needs)."""
        if not self.fitted:
            return logprobs
        p, known = self.target_probs(idx, targets)
        return self._mixed(logprobs, p, self.mix[known - 1])

    @staticmethod
    def _mixed(logprobs: torch.Tensor, p: torch.Tensor, lam: torch.Tensor) -> torch.Tensor:
        """log(lam * exp(logprobs) + (1 - lam) * p), in float32."""
        return torch.logaddexp(logprobs.float() + lam.log(), p.log() + (1 - lam).log())

    @torch.no_grad()
    def fit_mix(self, logprobs: torch.Tensor, idx: torch.Tensor, targets: torch.Tensor,
                steps: int = 30) -> None:
        """EM for the network's weight per longest-known order, on held-out windows: the
        network's log-probability [B, T] of each true next token `targets` [B, T] after `idx`
        (or its [B, T, vocab] log-probabilities)."""
        if logprobs.dim() == 3:
            logprobs = logprobs.float().gather(-1, targets[..., None]).squeeze(-1)
        p, known = self.target_probs(idx, targets)
        net, ng, known = logprobs.float().exp().reshape(-1), p.reshape(-1), known.reshape(-1)
        lam = torch.full((self.order,), 0.5, device=net.device)
        for _ in range(steps):
            share = lam[known - 1] * net / (lam[known - 1] * net + (1 - lam[known - 1]) * ng)
            sums = torch.zeros_like(lam).index_add_(0, known - 1, share)
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
        logprobs = model.target_logprobs(x, y)  # the network alone
    model.ngram.fit_mix(logprobs, x, y)
    model.train(was_training)
