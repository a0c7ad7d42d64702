"""`ModelConfig`: the shape and flavour of a model, for every family, validated per family."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from tinylm.measured import NARROW_WIDTH, VALUE_EMBEDS_FROM_S, WIDE_FROM_S, WIDE_WIDTH
from tinylm.options import check_choices, option, positive_int

FAMILIES = ("gpt", "lstm", "mdlm")  # transformer, recurrent, masked diffusion
MLP_KINDS = ("gelu", "swiglu", "relu2")
NORM_KINDS = ("layernorm", "rmsnorm")
POSITION_KINDS = ("learned", "rotary")
HEAD_KINDS = ("auto", "full", "adaptive")
VALUE_EMBEDS_KINDS = ("auto", True, False)
@dataclass
class ModelConfig:
    """Shape and flavour of a model; the transformer switches (and `head`) are ignored by the
    other families. What each "auto" becomes is decided by `tinylm.core.spec.resolve`."""

    family: str = option("gpt", "model family: a transformer, an LSTM or a masked diffusion LM",
                         FAMILIES)
    vocab_size: int = option(4096, "tokenizer vocabulary including the end-of-text token")
    context: int = option(256, "tokens the model sees at once (training window length)")
    # 2 layers with 2 heads: the best depth on the 2-core machine (studies depth-*); the best
    # width grows with the budget (studies sizes*, width*), so "auto" follows it
    width: int | str = option("auto", "embedding / hidden width; auto: "
                                      f"{NARROW_WIDTH}, or {WIDE_WIDTH} for budgets of "
                                      f"{WIDE_FROM_S:g} s or more")
    layers: int = option(2, "transformer blocks (or stacked LSTM layers)")
    heads: int = option(2, "attention heads; must divide width")
    mlp: str = option("gelu", "MLP nonlinearity", MLP_KINDS)
    mlp_ratio: float = option(4.0, "MLP hidden width / width (SwiGLU uses 2/3 of it: same params)")
    norm: str = option("layernorm", "normalisation layer", NORM_KINDS)
    # rotary: study positions-90s (benchmarks/LOG.md)
    positions: str = option("rotary", "how the model knows token order", POSITION_KINDS)
    tie_embeddings: bool = option(False, "share the token table with the output head")
    # auto: adaptive where fp32 matmuls are the cost, full where bf16 is native (studies
    # avx2-head-300s, recipe2-300s)
    head: str = option("auto", "output layer: one softmax over the vocabulary (full), an adaptive "
                               "one (frequent tokens full width, the rest through a narrow tail), "
                               "or auto: adaptive on a CPU computing in fp32, full elsewhere",
                       HEAD_KINDS)
    head_shortlist: int = option(1024, "adaptive head: tokens with full-width output vectors "
                                       "(at most a quarter of the vocabulary)")
    head_tail_width: int = option(24, "adaptive head: width of the rare tokens' output vectors")
    # study levers-4000steps
    smear: bool = option(True, "gate a little of the previous token's embedding into each "
                               "position (modded-nanogpt's smear gate)")
    # studies levers2-4000steps, recipe3-60s, value-embeds-150s, recipe3-300s: auto turns them
    # on from measured.VALUE_EMBEDS_FROM_S
    value_embeds: bool | str = option("auto", "a zero-initialised [vocab, width] table per "
                                              "layer whose row for each token is added to its "
                                              "attention values (modded-nanogpt's value "
                                              "embeddings); auto: on for budgets of "
                                              f"{VALUE_EMBEDS_FROM_S:g} s or more",
                                      VALUE_EMBEDS_KINDS)
    # off: within noise for a slower step (study levers2-4000steps)
    doc_mask: bool = option(False, "attention never crosses <|endoftext|>: each story sees only "
                                   "itself, not the end of the one before it in the window")
    # order 4: studies ngram-60s, ngram-300s and ngram2-* (order 5: a third more counting
    # and twice the tables for a fraction of a percent)
    ngram_order: int = option(4, "an n-gram memory of the training text up to this order, mixed "
                                 "into the transformer's predictions (0 = off; 2 to 5)")
    qk_norm: bool = option(False, "RMS-normalise queries and keys")
    dropout: float = option(0.0, "dropout probability (0 = off; a 5-minute run never overfits)")
    logit_softcap: float = option(0.0, "cap logits smoothly at this value (0 = off)")
    zero_init_proj: bool = option(False, "start residual projections and the head at zero")

    def validate(self) -> None:
        """Raise ValueError naming the field and the fix; cheap, so call before any real work."""
        for name in ("vocab_size", "context", "layers", "heads", "head_shortlist",
                     "head_tail_width"):
            positive_int(name, getattr(self, name))
        w = self.width
        if w != "auto" and (isinstance(w, bool) or not isinstance(w, int) or w < 1):
            raise ValueError(f"width must be a positive integer or 'auto', got {w!r}")
        if not 257 <= self.vocab_size <= 65536:
            raise ValueError(f"vocab_size must be between 257 and 65536, got {self.vocab_size}")
        check_choices(self)
        if self.head == "adaptive" and self.family == "gpt" and self.tie_embeddings:
            raise ValueError("tie_embeddings=True needs head='full': the adaptive head has no "
                             "[vocab, width] table to share with the input")
        n = self.ngram_order
        if isinstance(n, bool) or not isinstance(n, int) or n not in (0, 2, 3, 4, 5):
            raise ValueError(f"ngram_order must be 0 (off) or 2 to 5, got {n!r}")
        if not (isinstance(self.dropout, (int, float)) and 0 <= self.dropout < 1):
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout!r}")
        if self.family != "lstm":
            self._validate_attention()

    def _validate_attention(self) -> None:
        auto = self.width == "auto"  # then whichever width the budget gives must split
        for width in (NARROW_WIDTH, WIDE_WIDTH) if auto else (self.width,):
            what = f"width {width}" + (f" (width auto {'from' if width == WIDE_WIDTH else 'below'}"
                                       f" {WIDE_FROM_S:g} s)" if auto else "")
            if width % self.heads:
                raise ValueError(f"{what} is not divisible by heads {self.heads}; pick heads "
                                 f"that divide it (e.g. {_divisors(width)})"
                                 + (" or set width" if auto else ""))
            if self.positions == "rotary" and (width // self.heads) % 2:
                raise ValueError(f"rotary positions need an even head size, got "
                                 f"{width // self.heads} ({what} / heads {self.heads})")
        if not (isinstance(self.mlp_ratio, (int, float)) and 0 < self.mlp_ratio <= 64):
            raise ValueError(f"mlp_ratio must be in (0, 64], got {self.mlp_ratio!r}")
        if not (isinstance(self.logit_softcap, (int, float)) and self.logit_softcap >= 0):
            raise ValueError(f"logit_softcap must be >= 0 (0 = off), got {self.logit_softcap!r}")

    @property
    def shortlist(self) -> int:
        """The adaptive head's full-width tokens: `head_shortlist`, but at most a quarter of the
        vocabulary, so a small vocabulary (a byte-level one, a quick test) still has a tail."""
        return min(self.head_shortlist, self.vocab_size // 4)

    def to_dict(self) -> dict:
        return asdict(self)


def _divisors(n: int) -> str:
    return ", ".join(str(d) for d in range(1, min(n, 16) + 1) if n % d == 0)
