"""A masked (absorbing-state) diffusion language model in the style of MDLM (Sahoo et al. 2024).

A bidirectional transformer sees a window in which some tokens are replaced by [MASK] and
predicts the originals. Training uses the continuous-time objective with a linear schedule:
t ~ U(0, 1), each token masked with probability t, the masked tokens' cross-entropy weighted by
1/t. That is an upper bound on the negative log-likelihood (the ELBO).

Evaluation reports the same bound with a lower-variance estimator: the continuous-time ELBO
equals the any-order autoregressive loss (Ou et al. 2024), E_{m ~ U{1..L}} [(1/m) sum over m
random masked positions of -log p(x_i | unmasked)] per token. For a model that ignores its input
and predicts uniformly, every term is exactly ln(vocab): the bound is never below the truth.

Sampling starts from all-[MASK] (after the prompt) and unmasks a share of the positions at each
of `steps` steps, as MDLM's ancestral sampler does.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from tinylm.core.models.config import ModelConfig
from tinylm.core.models.layers import Block, LanguageModel, init_gpt2, make_norm

T_MIN = 1e-3  # avoids the 1/t weight blowing up


class MaskedDiffusionLM(LanguageModel):
    writes_all_at_once = True

    def __init__(self, cfg: ModelConfig):
        super().__init__(cfg)
        self.mask_id = cfg.vocab_size  # one extra input symbol, never predicted
        self.tok_emb = nn.Embedding(cfg.vocab_size + 1, cfg.width)
        self.pos_emb = nn.Embedding(cfg.context, cfg.width) if cfg.positions == "learned" else None
        self.blocks = nn.ModuleList(Block(cfg, causal=False) for _ in range(cfg.layers))
        self.norm = make_norm(cfg.norm, cfg.width)
        self.head = nn.Linear(cfg.width, cfg.vocab_size, bias=False)
        init_gpt2(self, cfg.layers)

    def logits(self, z: torch.Tensor) -> torch.Tensor:
        """Predictions [B, T, vocab] of the clean tokens behind a partly masked input z [B, T]."""
        self.check_length(z.shape[1])
        x = self.tok_emb(z)
        if self.pos_emb is not None:
            x = x + self.pos_emb.weight[: z.shape[1]]
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x)).float()  # the mask symbol is never an output

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None):
        """With targets: the continuous-time training loss (nats/token) on the sequence
        `targets`. Without: logits for `idx` (which may contain mask ids)."""
        if targets is None:
            return self.logits(idx)
        x = targets
        b, n = x.shape
        t = (torch.rand(b, 1, device=x.device) * (1 - T_MIN) + T_MIN)
        masked = torch.rand(b, n, device=x.device) < t
        z = torch.where(masked, torch.full_like(x, self.mask_id), x)
        nll = F.cross_entropy(self.logits(z).reshape(-1, self.cfg.vocab_size), x.reshape(-1),
                              reduction="none").view(b, n)
        return ((nll * masked) / t).sum() / (b * n)

    @torch.no_grad()
    def nll(self, idx: torch.Tensor, targets: torch.Tensor, samples: int = 2) -> torch.Tensor:
        """Summed upper bound on the NLL (nats) of each row of `targets`, any-order estimator,
        with a fixed generator so validation scores are repeatable (`idx` is not needed: the
        model sees the whole window, partly masked)."""
        gen = torch.Generator(device="cpu").manual_seed(0)
        b, n = targets.shape
        total = torch.zeros((), dtype=torch.float64)
        for _ in range(samples):
            m = torch.randint(1, n + 1, (b, 1), generator=gen)
            ranks = torch.rand(b, n, generator=gen).argsort(dim=1).argsort(dim=1)
            masked = (ranks < m).to(targets.device)
            z = torch.where(masked, torch.full_like(targets, self.mask_id), targets)
            nll = F.cross_entropy(self.logits(z).reshape(-1, self.cfg.vocab_size),
                                  targets.reshape(-1), reduction="none").view(b, n)
            total += ((nll * masked).sum(1) / m.to(nll.device).squeeze(1) * n).sum().double().cpu()
        return total / samples

    @torch.no_grad()
    def unmask(self, prompt_ids: list[int], length: int = 128, steps: int = 32,
               temperature: float = 1.0, seed: int | None = 0) -> list[int]:
        """`length` new token ids after `prompt_ids`, unmasked over `steps` steps."""
        if not isinstance(length, int) or length < 1 or not isinstance(steps, int) or steps < 1:
            raise ValueError("length and steps must be positive integers")
        total = len(prompt_ids) + length
        if total > self.cfg.context:
            raise ValueError(f"prompt plus length is {total} tokens, more than the context "
                             f"{self.cfg.context}; ask for fewer tokens")
        gen = torch.Generator().manual_seed(seed) if seed is not None else None
        device = next(self.parameters()).device
        z = torch.full((1, total), self.mask_id, dtype=torch.long)
        z[0, : len(prompt_ids)] = torch.tensor(prompt_ids)
        for step in range(steps, 0, -1):
            masked = (z[0] == self.mask_id).nonzero().flatten()
            if masked.numel() == 0:
                break
            keep_masked = int(len(masked) * (step - 1) / step)  # linear schedule t = step/steps
            reveal = masked[torch.randperm(len(masked), generator=gen)[: len(masked) - keep_masked]]
            logits = self.logits(z.to(device))[0, reveal].cpu()
            probs = torch.softmax(logits / max(temperature, 1e-6), dim=-1)
            z[0, reveal] = torch.multinomial(probs, 1, generator=gen).flatten()
        return z[0, len(prompt_ids):].tolist()
