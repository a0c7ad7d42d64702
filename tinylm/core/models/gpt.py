"""A GPT-style decoder-only transformer, every choice in `ModelConfig`.

The switches cover the GPT-2 recipe (learned positions, LayerNorm, GELU, tied embeddings)
and the modern one (rotary positions, RMSNorm, SwiGLU or ReLU², QK-norm, untied head,
zero-initialised output projections, logit soft-capping), and cheap capacity on the input
side (a smear gate, value embeddings), and attention that stops
at story boundaries (`doc_mask`), so the book can change one thing at a time and
measure it.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from tinylm.core.corpus import EOT_ID
from tinylm.core.models.config import ModelConfig
from tinylm.core.models.heads import AdaptiveHead
from tinylm.core.models.layers import (
    Block,
    LanguageModel,
    document_mask,
    init_gpt2,
    lm_loss,
    make_norm,
    soft_cap,
)
from tinylm.core.models.ngram import NGramMemory

SMEAR_DIMS = 12  # the smear gate reads the first 12 embedding dimensions, as modded-nanogpt's


class GPT(LanguageModel):
    def __init__(self, cfg: ModelConfig):
        super().__init__(cfg)
        cfg = self.cfg  # the head decided
        self.tok_emb = nn.Embedding(cfg.vocab_size, cfg.width)  # a [vocab, width] table
        # GPT-2's learned positions: one [context, width] vector per position; rotary has none
        self.pos_emb = nn.Embedding(cfg.context, cfg.width) if cfg.positions == "learned" else None
        self.ngram = NGramMemory(cfg.vocab_size, cfg.ngram_order) if cfg.ngram_order else None
        # smear: x[t] += lambda * sigmoid(x[t, :12] . gate) * x[t-1]; both start at zero (no-op)
        self.smear_gate = nn.Parameter(torch.zeros(min(SMEAR_DIMS, cfg.width))) if cfg.smear \
            else None
        self.smear_lambda = nn.Parameter(torch.zeros(1)) if cfg.smear else None
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.layers))
        # value embeddings: one [vocab, width] table per block, added to its values, from zero
        self.value_embs = nn.ModuleList(nn.Embedding(cfg.vocab_size, cfg.width)
                                        for _ in range(cfg.layers)) if cfg.value_embeds else None
        self.norm = make_norm(cfg.norm, cfg.width)
        if cfg.head == "adaptive":  # frequent tokens full width, the rest narrow (heads.py)
            self.head = AdaptiveHead(cfg.width, cfg.vocab_size, cfg.shortlist,
                                     cfg.head_tail_width, cfg.logit_softcap)
        else:
            self.head = nn.Linear(cfg.width, cfg.vocab_size, bias=False)  # weight [vocab, width]
        if cfg.tie_embeddings:  # GPT-2: the input table is also the output head
            self.head.weight = self.tok_emb.weight
        init_gpt2(self, cfg.layers, zero_proj=cfg.zero_init_proj)
        for table in self.value_embs or []:
            if table is not None:
                nn.init.zeros_(table.weight)
        if not cfg.tie_embeddings and cfg.zero_init_proj:
            nn.init.zeros_(self.head.short.weight if cfg.head == "adaptive" else self.head.weight)

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None) -> torch.Tensor:
        """Logits [B, T, vocab] for token ids [B, T] (T <= context), or the network's mean
        loss in nats/token when `targets` [B, T] are given (training). An adaptive head's
        logits are log-probabilities, and its loss never builds them; with an n-gram memory
        they are the log of the mixture (`ngram.NGramMemory`)."""
        h = self.hidden(idx)  # [B, T, width]
        if isinstance(self.head, AdaptiveHead):
            if targets is not None:
                return self.head.nll(h, targets)
            logits = self.head(h)
        else:
            logits = soft_cap(self.head(h), self.cfg.logit_softcap)  # [B, T, vocab]
            if targets is not None:
                return lm_loss(logits, targets)
        if self.ngram is None or not self.ngram.fitted:
            return logits
        return self.ngram.mix_logprobs(torch.log_softmax(logits.float(), dim=-1), idx)

    def nll(self, idx: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        if self.ngram is not None and self.ngram.fitted:  # the mixture's, at the targets only
            return -self.ngram.mix_target_logprobs(self.target_logprobs(idx, targets), idx,
                                                   targets).sum()
        if isinstance(self.head, AdaptiveHead):
            return self.head.nll(self.hidden(idx), targets, reduction="sum")
        return super().nll(idx, targets)

    def target_logprobs(self, idx: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """The network's log-probability [B, T] of each target (without the n-gram memory),
        never building more than the head's own logits."""
        h = self.hidden(idx)
        if isinstance(self.head, AdaptiveHead):
            return -self.head.nll(h, targets, reduction="none")
        logits = soft_cap(self.head(h), self.cfg.logit_softcap)
        return -lm_loss(logits, targets, reduction="none").view_as(targets)

    def hidden(self, idx: torch.Tensor) -> torch.Tensor:
        """The final normalised hidden states [B, T, width] the head reads."""
        t = idx.shape[1]
        self.check_length(t)
        x = self.tok_emb(idx)  # [B, T, width]
        if self.smear_gate is not None:  # each position gets a gated share of the one before
            gate = torch.sigmoid(x[:, 1:, :len(self.smear_gate)] @ self.smear_gate)  # [B, T-1]
            x = torch.cat([x[:, :1], x[:, 1:] + self.smear_lambda * gate[..., None] * x[:, :-1]],
                          dim=1)
        if self.pos_emb is not None:
            x = x + self.pos_emb.weight[:t]  # + [T, width], the same for every sequence
        x = self.drop(x)
        mask = document_mask(idx, EOT_ID) if self.cfg.doc_mask else None  # [B, 1, T, T]
        for i, block in enumerate(self.blocks):
            ve = self.value_embs[i](idx) if self.value_embs is not None else None  # [B, T, width]
            x = block(x, mask, ve)  # [B, T, width] -> [B, T, width]
        return self.norm(x)
