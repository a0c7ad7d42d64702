"""The recipe card: GPT-2's setup against tinylm's defaults, one row per setting, each with the
stored measurement of what that setting does and where the book shows it.

Nothing on the card is typed: the two values come from `RECIPES["gpt2"]` and the dataclass
defaults, and each effect is the verdict (`analysis.effects`) of the study row named in CARD.
CARD only says which study measured which setting, and which section teaches it.
"""

from __future__ import annotations

from tinylm.core.models import ModelConfig
from tinylm.core.spec import resolve_model
from tinylm.lab.analysis import effects
from tinylm.lab.noise import UNCONFIRMED
from tinylm.lab.recipes import RECIPES, defaults
from tinylm.lab.results import Study, load_study

CARD_COLUMNS = ["setting", "gpt2", "tinylm", "measured", "shown in"]
THIS, APPENDIX = "this chapter", "appendix"
CARD_BUDGET_S = 300.0  # the budget whose "auto" choices the card spells out

# (setting, config keys, study, the row's change (or recipe) in that study, section)
CARD: tuple[tuple[str, tuple[str, ...], str, str, str], ...] = (
    ("the whole recipe", (), "ngram2-300s", "gpt2", f"{THIS}: exercise 2, a race"),
    ("positions", ("positions",), "screen-90s", "positions=rotary", f"{THIS}: rotary positions"),
    ("output head tied to the input table", ("tie_embeddings",), "stories-300s",
     "tie_embeddings=True", f"{THIS}: an untied head"),
    ("optimizer", ("optimizer",), "screen-90s", "optimizer=muon", f"{THIS}: Muon"),
    ("learning-rate schedule", ("decay",), "screen2-90s", "decay=wsd",
     f"{THIS}: the schedule"),
    ("AdamW beta2", ("beta2",), "beta2-300s", "beta2=0.99", f"{THIS}: beta2"),
    ("n-gram memory (order)", ("ngram_order",), "ngram2-300s", "ngram_order=0",
     f"{THIS}: an n-gram memory"),
    ("peak learning rate", ("lr",), "screen2-90s", "lr=0.002", f"{APPENDIX}: screening"),
    ("norm and MLP", ("norm", "mlp"), "screen-90s", "mlp=swiglu", f"{APPENDIX}: screening"),
    ("width x layers x heads", ("width", "layers", "heads"), "recipe7-300s", "width=96",
     f"{APPENDIX}: the width"),
    ("smear gate", ("smear",), "levers-4000steps", "smear=True", f"{APPENDIX}: the smear gate"),
    ("value tables", ("value_embeds",), "levers2-4000steps", "value_embeds=auto",
     f"{APPENDIX}: value tables"),
    ("output head", ("head",), "avx2-head-300s", "head=adaptive", f"{APPENDIX}: the adaptive head"),
    ("vocabulary", ("vocab_size",), "vocab-300s", "vocab_size=3072", f"{APPENDIX}: the vocabulary"),
    ("number format, compile", ("dtype", "compile"), "compile-60s", "compile=on",
     f"{APPENDIX}: screening"),
)


def value(setting: str, spec: dict, budget_s: float = CARD_BUDGET_S):
    """A setting's value under `spec`; "auto" widths and value tables as decided for
    `budget_s` (written "auto: 128"), since "auto" alone would hide what trains."""
    v = {**defaults(), **spec}[setting]
    if v == "auto" and setting in ("width", "value_embeds"):
        decided = resolve_model(ModelConfig(width=spec.get("width", "auto"), head="full",
                                            value_embeds=spec.get("value_embeds", "auto")),
                                budget_s)
        return f"auto: {getattr(decided, setting)}"
    return v


def measured(study: Study | None, change: str) -> str:
    """The verdict of the row whose change (or recipe name) is `change`, in a short line."""
    if study is None:
        return "not stored"
    for r in effects(study):
        if change in (r["change"], r["recipe"]) and r["verdict"] != "baseline":
            margin = "" if r["plus_minus"] is None else f" ± {r['plus_minus']:.3f}"
            what = "GPT-2's setup" if r["recipe"] == change == "gpt2" else r["change"]
            runs = "" if UNCONFIRMED in r["verdict"] else "1 run, " if r["n"] == 1 \
                else f"{r['n']} runs, "
            return f"{what}: {r['delta_bpb']:+.3f}{margin} bpb, {r['verdict']} ({runs}{study.name})"
    return f"no row {change!r} in {study.name}"


def card_rows(load=load_study) -> list[dict]:
    """One row per CARD entry: GPT-2's value, tinylm's, the measurement and its section.
    `load(name)` gives a stored study (None when missing: the row says so)."""
    gpt2 = RECIPES["gpt2"]
    rows = []
    for setting, keys, study, change, section in CARD:
        both = [" x ".join(str(value(k, spec)) for k in keys) for spec in (gpt2, {})] \
            if keys else ["gpt2", "default"]
        rows.append({"setting": setting, "gpt2": both[0], "tinylm": both[1],
                     "measured": measured(load(study), change), "shown in": section})
    return rows
