"""Output heads: the plain one (a [vocab, width] matrix) and an exact adaptive softmax.

On a laptop CPU the plain head is most of a training step's FLOPs (study profile): every token
pays for every vocabulary entry, though most of the text is written with the 1,024 most
frequent tokens. The adaptive head (Grave et al. 2017, "Efficient softmax approximation for
GPUs"; torch's `nn.AdaptiveLogSoftmaxWithLoss`) gives the frequent tokens full-width output
vectors and sends the rest through a narrow tail. It is still one normalised distribution over
the whole vocabulary, so bits per byte stay honest and sampling is unchanged. It saves
multiply-adds, not softmax work, so it pays only where the multiply-adds are the cost:
`head="auto"` (decided in `tinylm.core.spec.resolve`) uses it on a CPU computing in fp32 and
keeps the plain head where bf16 is native (there it lost: study recipe2-300s).

Why not torch's module: it computes the tail only for the tokens that need it, which makes the
shapes depend on the data (a graph break for torch.compile on every step) and it has no call
that returns log-probabilities without recomputing the head. Here the tail is computed for
every token at low width: static shapes, one compiled graph, and at width 96 with vocabulary
4096 ~44% of the plain head's FLOPs.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from tinylm.core.models.layers import soft_cap


class AdaptiveHead(nn.Module):
    """log p(token) = log p_short(token) for the `shortlist` most frequent tokens, and
    log p_short(tail) + log p_tail(token) for the others.

    The shortlist softmax has `shortlist + 1` entries (the last one stands for "a tail token"),
    over full-width vectors; the tail softmax is over `tail_width`-wide vectors after a
    projection. Which tokens are frequent is data: `rank` (a buffer, saved with the weights) maps
    a token id to its place in frequency order, set by `set_order` from the training text.
    """

    def __init__(self, width: int, vocab: int, shortlist: int, tail_width: int,
                 softcap: float = 0.0):
        super().__init__()
        if not 1 <= shortlist < vocab:
            raise ValueError(f"head_shortlist must be from 1 to vocab_size - 1 ({vocab - 1}), "
                             f"got {shortlist}")
        self.shortlist, self.softcap = shortlist, softcap
        self.short = nn.Linear(width, shortlist + 1, bias=False)  # [shortlist + 1, width]
        self.tail_down = nn.Linear(width, tail_width, bias=False)  # [tail_width, width]
        self.tail_up = nn.Linear(tail_width, vocab - shortlist, bias=False)  # [rest, tail_width]
        self.register_buffer("rank", torch.arange(vocab))  # token id -> frequency rank

    @torch.no_grad()
    def set_order(self, counts) -> None:
        """Rank tokens by `counts` (occurrences in the training text), most frequent first."""
        counts = torch.as_tensor(counts, dtype=torch.float64, device=self.rank.device)
        order = torch.argsort(-counts, stable=True)  # ties keep id order
        self.rank[order] = torch.arange(len(order), device=self.rank.device)

    def _log_probs(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(shortlist log-probs [..., shortlist + 1], tail log-probs [..., vocab - shortlist])."""
        short = soft_cap(self.short(x).float(), self.softcap)
        tail = soft_cap(self.tail_up(self.tail_down(x)).float(), self.softcap)
        return F.log_softmax(short, -1), F.log_softmax(tail, -1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Log-probabilities [..., vocab] in token-id order (they serve as logits: softmax of
        them gives the same distribution)."""
        short, tail = self._log_probs(x)
        s = self.shortlist
        by_rank = torch.cat([short[..., :s], short[..., s:] + tail], dim=-1)
        return by_rank[..., self.rank]

    def nll(self, x: torch.Tensor, targets: torch.Tensor, reduction: str = "mean"):
        """Negative log-likelihood (nats) of `targets` [...] from hidden states `x` [..., width],
        without building the [..., vocab] log-probabilities."""
        short, tail = self._log_probs(x)
        s, r = self.shortlist, self.rank[targets]  # r: frequency ranks [...]
        in_tail = r >= s
        lp = short.gather(-1, r.clamp(max=s).unsqueeze(-1)).squeeze(-1)
        lp_tail = tail.gather(-1, (r - s).clamp(min=0).unsqueeze(-1)).squeeze(-1)
        nll = -(lp + torch.where(in_tail, lp_tail, torch.zeros_like(lp_tail)))
        return nll.mean() if reduction == "mean" else nll.sum() if reduction == "sum" else nll
