"""`ModelConfig`: the shape and flavour of a model, for every family, validated per family."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import torch

from ..hardware import cpu_has_fast_bf16
from ..measured import NARROW_WIDTH, VALUE_EMBEDS_FROM_S, WIDE_FROM_S, WIDE_WIDTH
from ..options import check_choices, option, positive_int

FAMILIES = ("gpt", "lstm", "mdlm")  # transformer, recurrent, masked diffusion
MLP_KINDS = ("gelu", "swiglu", "relu2")
NORM_KINDS = ("layernorm", "rmsnorm")
POSITION_KINDS = ("learned", "rotary")
HEAD_KINDS = ("auto", "full", "adaptive")
VALUE_EMBEDS_KINDS = ("auto", True, False)
# Settings added after runs and checkpoints were stored, at the value in effect before them: a
# stored config without the key used this, whatever today's default is.
IMPLICIT = {"head": "full", "bigram_buckets": 0, "smear": False, "doc_mask": False,
            "value_embeds": False}


@dataclass
class ModelConfig:
    """Shape and flavour of a model; the transformer switches (and `head`) are ignored by the
    other families."""

    family: str = option("gpt", "model family: a transformer, an LSTM or a masked diffusion LM",
                         FAMILIES)
    vocab_size: int = option(4096, "tokenizer vocabulary including the end-of-text token")
    context: int = option(256, "tokens the model sees at once (training window length)")
    # 2 layers with 2 heads: the best depth at 60 s and 300 s on the 2-core machine
    # (benchmarks/results/depth-*; 5 narrow layers lost to 2 wide ones); the best width grows
    # with the budget (96 at 60 s, 128 at 300 s), so auto (`for_budget`) picks it
    width: int | str = option("auto", "embedding / hidden width; auto: "
                                      f"{NARROW_WIDTH}, or {WIDE_WIDTH} for budgets of "
                                      f"{WIDE_FROM_S:g} s or more")
    layers: int = option(2, "transformer blocks (or stacked LSTM layers)")
    heads: int = option(2, "attention heads; must divide width")
    mlp: str = option("gelu", "MLP nonlinearity", MLP_KINDS)
    mlp_ratio: float = option(4.0, "MLP hidden width / width (SwiGLU uses 2/3 of it: same params)")
    norm: str = option("layernorm", "normalisation layer", NORM_KINDS)
    # rotary beat learned positions by ~10% at 90 s (benchmarks/README.md)
    positions: str = option("rotary", "how the model knows token order", POSITION_KINDS)
    tie_embeddings: bool = option(False, "share the token table with the output head")
    # auto (`for_device`): adaptive where fp32 matmuls are the cost, full where bf16 is native
    head: str = option("auto", "output layer: one softmax over the vocabulary (full), an adaptive "
                               "one (frequent tokens full width, the rest through a narrow tail), "
                               "or auto: adaptive on a CPU computing in fp32, full elsewhere",
                       HEAD_KINDS)
    head_shortlist: int = option(1024, "adaptive head: tokens with full-width output vectors "
                                       "(at most a quarter of the vocabulary)")
    head_tail_width: int = option(24, "adaptive head: width of the rare tokens' output vectors")
    # cheap capacity on the input side (modded-nanogpt's records): a lookup costs ~nothing
    bigram_buckets: int = option(0, "extra input table indexed by a hash of (previous token, "
                                    "token), added to the token embedding (0 = off)")
    # smear: -1.5% val_bpb at equal steps and equal step time (two seeds each,
    # benchmarks/results/levers-4000steps); the bigram table: -0.4%, one run, not taken
    smear: bool = option(True, "gate a little of the previous token's embedding into each "
                               "position (modded-nanogpt's smear gate)")
    # value embeddings: -1.1% at equal steps (two seeds, levers2-4000steps), -0.8% in five
    # minutes (recipe3-300s), a tie at 150 s (value-embeds-150s), +1.8% in one minute
    # (recipe3-60s; medians of 2 each): so auto turns them on from measured.VALUE_EMBEDS_FROM_S
    value_embeds: bool | str = option("auto", "a zero-initialised [vocab, width] table per "
                                              "layer whose row for each token is added to its "
                                              "attention values (modded-nanogpt's value "
                                              "embeddings); auto: on for budgets of "
                                              f"{VALUE_EMBEDS_FROM_S:g} s or more",
                                      VALUE_EMBEDS_KINDS)
    # doc_mask: -0.3% val_bpb at equal steps (two seeds, levers2-4000steps) for a 2-4% slower
    # step: within noise, not taken
    doc_mask: bool = option(False, "attention never crosses <|endoftext|>: each story sees only "
                                   "itself, not the end of the one before it in the window")
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
        b = self.bigram_buckets
        if b != 0 and (isinstance(b, bool) or not isinstance(b, int) or b < 2):
            raise ValueError(f"bigram_buckets must be 0 (off) or an integer >= 2, got {b!r}")
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

    def for_device(self, device_type: str = "cpu", dtype: torch.dtype | None = None) -> ModelConfig:
        """This config with `head="auto"` decided for where it trains (`dtype` None: the CPU's
        own choice). The adaptive head saves matmul FLOPs, not softmax work, so it wins where
        fp32 matmuls are the step's cost (a CPU without native bf16: -2.2% val_bpb at 1.3x the
        tokens/s, benchmarks/results/avx2-head-300s) and loses where bf16 makes the head cheap
        (AVX512-BF16: +2.3%, medians of 2, recipe2-300s). Unmeasured on GPUs: the full head."""
        if self.head != "auto":
            return self
        if dtype is None:  # only a CPU can get the adaptive head: its own choice of dtype
            dtype = torch.bfloat16 if cpu_has_fast_bf16() else torch.float32
        adaptive = device_type == "cpu" and dtype == torch.float32 and not self.tie_embeddings
        return replace(self, head="adaptive" if adaptive else "full")

    def for_budget(self, budget_s: float | None) -> ModelConfig:
        """This config with `value_embeds` and `width` "auto" decided for a budget of
        `budget_s` seconds (None, a model built without one: the one-minute choices). The
        zero-initialised value tables need tokens to learn and slow the step by 5-9%: they lose
        in one minute and win in five; so does the wider model, whose extra parameters need
        more tokens than a minute gives. Both were measured on the transformer only: the other
        families keep the narrow width and have no value tables."""
        gpt_budget = budget_s if self.family == "gpt" and budget_s is not None else 0.0
        out = self
        if out.value_embeds == "auto":
            out = replace(out, value_embeds=gpt_budget >= VALUE_EMBEDS_FROM_S)
        if out.width == "auto":
            out = replace(out, width=WIDE_WIDTH if gpt_budget >= WIDE_FROM_S else NARROW_WIDTH)
        return out

    @property
    def shortlist(self) -> int:
        """The adaptive head's full-width tokens: `head_shortlist`, but at most a quarter of the
        vocabulary, so a small vocabulary (a byte-level one, a quick test) still has a tail."""
        return min(self.head_shortlist, self.vocab_size // 4)

    def to_dict(self) -> dict:
        return asdict(self)


def _divisors(n: int) -> str:
    return ", ".join(str(d) for d in range(1, min(n, 16) + 1) if n % d == 0)
