"""`ModelConfig`: the shape and flavour of a model, for every family, validated per family."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from ..options import check_choices, option, positive_int

FAMILIES = ("gpt", "lstm", "mdlm")  # transformer, recurrent, masked diffusion
MLP_KINDS = ("gelu", "swiglu", "relu2")
NORM_KINDS = ("layernorm", "rmsnorm")
POSITION_KINDS = ("learned", "rotary")
HEAD_KINDS = ("full", "adaptive")


@dataclass
class ModelConfig:
    """Shape and flavour of a model; the transformer switches (and `head`) are ignored by the
    other families."""

    family: str = option("gpt", "model family: a transformer, an LSTM or a masked diffusion LM",
                         FAMILIES)
    vocab_size: int = option(4096, "tokenizer vocabulary including the end-of-text token")
    context: int = option(256, "tokens the model sees at once (training window length)")
    # 2 layers x 96 with 2 heads: the best shape at 60 s and 300 s on the 2-core machine
    # (benchmarks/results/sizes-*, depth-*); 5 narrow layers lost to 2 wide ones
    width: int = option(96, "embedding / hidden width")
    layers: int = option(2, "transformer blocks (or stacked LSTM layers)")
    heads: int = option(2, "attention heads; must divide width")
    mlp: str = option("gelu", "MLP nonlinearity", MLP_KINDS)
    mlp_ratio: float = option(4.0, "MLP hidden width / width (SwiGLU uses 2/3 of it: same params)")
    norm: str = option("layernorm", "normalisation layer", NORM_KINDS)
    # rotary beat learned positions by ~10% at 90 s (benchmarks/README.md)
    positions: str = option("rotary", "how the model knows token order", POSITION_KINDS)
    tie_embeddings: bool = option(False, "share the token table with the output head")
    # adaptive: -2.2% val_bpb at 1.3x the tokens/s at 300 s on an AVX2 CPU (two runs each,
    # benchmarks/results/avx2-head-300s, avx2-adaptive-300s)
    head: str = option("adaptive", "output layer: one softmax over the vocabulary, or an adaptive one "
                               "(frequent tokens full width, the rest through a narrow tail)",
                       HEAD_KINDS)
    head_shortlist: int = option(1024, "adaptive head: tokens with full-width output vectors "
                                       "(at most a quarter of the vocabulary)")
    head_tail_width: int = option(24, "adaptive head: width of the rare tokens' output vectors")
    qk_norm: bool = option(False, "RMS-normalise queries and keys")
    dropout: float = option(0.0, "dropout probability (0 = off; a 5-minute run never overfits)")
    logit_softcap: float = option(0.0, "cap logits smoothly at this value (0 = off)")
    zero_init_proj: bool = option(False, "start residual projections and the head at zero")

    def validate(self) -> None:
        """Raise ValueError naming the field and the fix; cheap, so call before any real work."""
        for name in ("vocab_size", "context", "width", "layers", "heads", "head_shortlist",
                     "head_tail_width"):
            positive_int(name, getattr(self, name))
        if not 257 <= self.vocab_size <= 65536:
            raise ValueError(f"vocab_size must be between 257 and 65536, got {self.vocab_size}")
        check_choices(self)
        if self.head == "adaptive" and self.family == "gpt" and self.tie_embeddings:
            raise ValueError("tie_embeddings=True needs head='full': the adaptive head has no "
                             "[vocab, width] table to share with the input")
        if not (isinstance(self.dropout, (int, float)) and 0 <= self.dropout < 1):
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout!r}")
        if self.family != "lstm":
            self._validate_attention()

    def _validate_attention(self) -> None:
        if self.width % self.heads:
            raise ValueError(f"width {self.width} is not divisible by heads {self.heads}; "
                             f"pick heads that divide it (e.g. {_divisors(self.width)})")
        if self.positions == "rotary" and (self.width // self.heads) % 2:
            raise ValueError(f"rotary positions need an even head size, got "
                             f"{self.width // self.heads} (width {self.width} / heads {self.heads})")
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
