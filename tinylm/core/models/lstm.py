"""An LSTM language model that plugs into the same trainer, evaluation and sampling.

Goedecke found LSTMs came close to the transformer but never matched it; on a 2-core CPU one
beat it here (benchmarks/LOG.md, `--recipe lstm`). Same embedding and head as the GPT (tied
if `tie_embeddings`), `layers` stacked `torch.nn.LSTM` layers of `width` units; each window
starts from a zero state, exactly like the transformer sees it.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from tinylm.core.models.config import ModelConfig
from tinylm.core.models.layers import LanguageModel, lm_loss


class LSTMLM(LanguageModel):
    attends = False

    def __init__(self, cfg: ModelConfig):
        super().__init__(cfg)
        self.tok_emb = nn.Embedding(cfg.vocab_size, cfg.width)
        self.pos_emb = None
        self.rnn = nn.LSTM(cfg.width, cfg.width, num_layers=cfg.layers, batch_first=True,
                           dropout=cfg.dropout if cfg.layers > 1 else 0.0)
        self.norm = nn.LayerNorm(cfg.width)
        self.head = nn.Linear(cfg.width, cfg.vocab_size, bias=False)
        nn.init.normal_(self.tok_emb.weight, std=0.02)
        if cfg.tie_embeddings:
            self.head.weight = self.tok_emb.weight
        else:
            nn.init.normal_(self.head.weight, std=0.02)

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None):
        """Logits [B, T, vocab], or the mean loss when `targets` are given."""
        self.check_length(idx.shape[1])
        h, _ = self.rnn(self.tok_emb(idx))  # [B, T, width]
        logits = self.head(self.norm(h))
        return logits if targets is None else lm_loss(logits, targets)
