"""Text from a trained model: temperature, top-k and top-p sampling, seeded, streaming.

The same seed, model and settings give the same text. Generation stops at the end-of-text
token (the end of a story) or after `max_new_tokens`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch
from tokenizers import Tokenizer

from tinylm.core.corpus import EOT
from tinylm.core.models import eval_mode
from tinylm.options import option


@dataclass
class SampleConfig:
    """Decoding settings; temperature 0 means greedy (always the most likely token)."""

    max_new_tokens: int = option(200, "tokens to generate at most (a story may end sooner)")
    temperature: float = option(0.8, "randomness: 0 = always the most likely token, 1 = the "
                                     "model's own distribution")
    top_k: int | None = option(None, "sample only among the k most likely tokens")
    top_p: float | None = option(None, "sample only among the most likely tokens that hold this "
                                       "share of the probability")
    seed: int | None = option(0, "random seed: the same seed gives the same text")

    def validate(self) -> None:
        if isinstance(self.max_new_tokens, bool) or not isinstance(self.max_new_tokens, int) \
                or self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be a positive integer, got {self.max_new_tokens!r}")
        if not isinstance(self.temperature, (int, float)) or not 0 <= self.temperature <= 100:
            raise ValueError(f"temperature must be between 0 and 100, got {self.temperature!r}")
        if self.top_k is not None and (not isinstance(self.top_k, int) or self.top_k < 1):
            raise ValueError(f"top_k must be a positive integer or None, got {self.top_k!r}")
        if self.top_p is not None and not (isinstance(self.top_p, (int, float))
                                           and 0 < self.top_p <= 1):
            raise ValueError(f"top_p must be in (0, 1] or None, got {self.top_p!r}")


def next_token_probs(logits: torch.Tensor, cfg: SampleConfig) -> torch.Tensor:
    """Sampling distribution over the vocabulary after temperature, top-k and top-p."""
    logits = logits.float()
    if cfg.temperature == 0:
        probs = torch.zeros_like(logits)
        probs[logits.argmax()] = 1.0
        return probs
    logits = logits / cfg.temperature
    if cfg.top_k is not None and cfg.top_k < logits.numel():
        kth = torch.topk(logits, cfg.top_k).values[-1]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    probs = torch.softmax(logits, dim=-1)
    if cfg.top_p is not None and cfg.top_p < 1:
        sorted_p, order = probs.sort(descending=True)
        keep = sorted_p.cumsum(0) - sorted_p < cfg.top_p  # always keeps the most likely token
        probs = torch.zeros_like(probs).scatter(0, order[keep], sorted_p[keep])
        probs /= probs.sum()
    return probs


@torch.no_grad()
def stream_tokens(model, tokenizer: Tokenizer, prompt: str = "",
                  cfg: SampleConfig | None = None) -> Iterator[tuple[int, torch.Tensor]]:
    """Yield (token id, the model's full next-token distribution) one token at a time."""
    cfg = cfg or SampleConfig()
    cfg.validate()
    if model.writes_all_at_once:
        raise ValueError("a diffusion model writes all tokens at once, not one by one; "
                         "use tinylm.generate()")
    if not isinstance(prompt, str):
        raise ValueError(f"prompt must be a string, got {type(prompt).__name__}")
    eot = tokenizer.token_to_id(EOT)
    ids = [eot] + tokenizer.encode(prompt).ids  # a story starts after an end-of-text
    device = next(model.parameters()).device
    context = model.cfg.context
    gen = torch.Generator().manual_seed(cfg.seed) if cfg.seed is not None else None
    with eval_mode(model):
        for _ in range(cfg.max_new_tokens):
            x = torch.tensor([ids[-context:]], device=device)
            logits = model(x)[0, -1].cpu()
            full = torch.softmax(logits.float(), dim=-1)
            probs = next_token_probs(logits, cfg)
            token = int(torch.multinomial(probs, 1, generator=gen))
            if token == eot:
                return
            ids.append(token)
            yield token, full


def stream(model, tokenizer: Tokenizer, prompt: str = "", **settings) -> Iterator[str]:
    """Yield text as it is generated (whole characters only: a UTF-8 character can span
    several byte-level tokens). A diffusion model writes all positions at once: one piece."""
    cfg = SampleConfig(**settings)
    if model.writes_all_at_once:
        yield _unmasked(model, tokenizer, prompt, cfg)
        return
    ids: list[int] = []
    shown = 0
    for token, _ in stream_tokens(model, tokenizer, prompt, cfg):
        ids.append(token)
        text = tokenizer.decode(ids)
        if not text.endswith("\ufffd") and len(text) > shown:
            yield text[shown:]
            shown = len(text)
    text = tokenizer.decode(ids)
    if len(text) > shown:
        yield text[shown:]


def _unmasked(model, tokenizer: Tokenizer, prompt: str, cfg: SampleConfig) -> str:
    """A diffusion model's continuation of `prompt`, by iterative unmasking."""
    cfg.validate()
    prompt_ids = [tokenizer.token_to_id(EOT)] + tokenizer.encode(prompt).ids
    room = model.cfg.context - len(prompt_ids)
    with eval_mode(model):
        ids = model.unmask(prompt_ids, length=max(1, min(cfg.max_new_tokens, room)),
                           temperature=cfg.temperature or 1e-6, seed=cfg.seed)
    return tokenizer.decode(ids)


def generate(model, tokenizer: Tokenizer, prompt: str = "", **settings) -> str:
    """The prompt followed by the generated continuation."""
    return prompt + "".join(stream(model, tokenizer, prompt, **settings))


def token_records(model, tokenizer: Tokenizer, prompt: str = "", top: int = 5,
                  **settings) -> list[dict]:
    """Each generated token with the probability the model gave it and its top alternatives."""
    records = []
    for token, probs in stream_tokens(model, tokenizer, prompt, SampleConfig(**settings)):
        best = probs.topk(top)
        records.append({"id": token, "text": tokenizer.decode([token]), "prob": float(probs[token]),
                        "top": [(tokenizer.decode([int(i)]), float(p))
                                for p, i in zip(best.values, best.indices)]})
    return records
