"""What "better" means for stories, beside bits per byte: automatic measures of a model's samples.

Goedecke found that his lowest-perplexity model wrote worse stories, so the book scores
samples too. Three measures, each cheap and deterministic for fixed samples:

- `repeated_4grams`: the share of a sample's word 4-grams that already occurred earlier in the
  same sample (loops and stutters; lower is better);
- `distinct_n`: distinct word n-grams over all n-grams across the samples (Li et al. 2016;
  higher is more varied);
- `reference_bpb`: the samples' bits per byte under a reference model trained much longer
  (fluency as a better model judges it; lower is better, but a model that repeats itself can
  score well here, which is why it is read beside the other two).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import torch

WORD = re.compile(r"\w+|[^\w\s]")


def words(text: str) -> list[str]:
    """Lower-cased words and punctuation marks: what the n-gram measures count."""
    return WORD.findall(text.lower())


def ngrams(items: Sequence[str], n: int) -> list[tuple[str, ...]]:
    return [tuple(items[i:i + n]) for i in range(len(items) - n + 1)]


def repeated_4grams(text: str) -> float:
    """Share of the word 4-grams of `text` seen earlier in it (0 for a text under 4 words)."""
    grams, seen, repeats = ngrams(words(text), 4), set(), 0
    for g in grams:
        repeats += g in seen
        seen.add(g)
    return repeats / len(grams) if grams else 0.0


def distinct_n(texts: Sequence[str], n: int) -> float:
    """Distinct word n-grams over all word n-grams, pooled across `texts` (0 when there are none)."""
    grams = [g for t in texts for g in ngrams(words(t), n)]
    return len(set(grams)) / len(grams) if grams else 0.0


@torch.no_grad()
def reference_bpb(model, tokenizer, texts: Sequence[str], token_bytes, device="cpu") -> float:
    """Bits per byte of `texts` under `model` (each text scored on its own, from its start)."""
    nats, nbytes = 0.0, 0
    model.eval()
    for text in texts:
        ids = tokenizer.encode(text).ids[: model.cfg.context + 1]
        if len(ids) < 2:
            continue
        x = torch.tensor([ids], device=device)
        nats += model.nll(x[:, :-1], x[:, 1:]).item()
        nbytes += int(sum(token_bytes[i] for i in ids[1:]))
    return nats / math.log(2) / nbytes if nbytes else float("nan")


def story_scores(texts: Sequence[str]) -> dict:
    """The text-only measures of a set of samples: mean repeated 4-grams, distinct-2 and -3."""
    return {"repeated_4grams": sum(map(repeated_4grams, texts)) / max(1, len(texts)),
            "distinct_2": distinct_n(texts, 2), "distinct_3": distinct_n(texts, 3),
            "samples": len(texts)}
