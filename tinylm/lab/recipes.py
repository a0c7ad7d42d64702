"""Named recipes: complete settings for a run, as overrides of the three configs.

`gpt2` is Goedecke's setup as described (GPT-2 style, AdamW, fp32, no compile); `default` is
the recipe this book arrives at, measured in benchmarks/; `lstm` is the best recurrent model of
the family studies. A recipe spec may add overrides:
"default:lr=0.006,width=128".

A spec is relative to today's defaults, which change as the book learns. So every benchmark
run also stores its complete `settings`; `overrides` and `label` turn them back into a spec
that means the same run under whatever the defaults are now. `changes` and `describe_spec` say
in which settings two specs differ (what a study's row changed against its baseline).
"""

from __future__ import annotations

import dataclasses

from tinylm.core.data import DataConfig
from tinylm.core.models import ModelConfig
from tinylm.core.schedule import TrainConfig
from tinylm.core.schema import RETIRED, retired_in_use
from tinylm.core.spec import RunSpec, resolve_model

RECIPES: dict[str, dict] = {
    # at its best size in benchmarks/results/gpt2-sizes-300s (2 x 128; 5 x 96 before)
    "gpt2": dict(mlp="gelu", norm="layernorm", positions="learned", tie_embeddings=True,
                 head="full", smear=False, optimizer="adamw", lr=2e-3, beta2=0.95, dtype="float32",
                 compile="off", decay="cosine", width=128, layers=2, heads=2, value_embeds=False,
                 ngram_order=0),
    "default": dict(),  # the dataclass defaults
    # the best LSTM of benchmarks/results/families-*: one 192-wide layer, the default's
    # optimizer (Muon), schedule and precision; on a 2-core CPU it beat the transformer
    "lstm": dict(family="lstm", layers=1, width=192, head="full", smear=False),  # GPT-only
}


def parse_spec(spec: str) -> tuple[str, dict]:
    """'name:key=value,key=value' -> (name, overrides) with values parsed as numbers/bools."""
    name, _, rest = spec.partition(":")
    if name not in RECIPES:
        raise ValueError(f"unknown recipe {name!r}: use one of {', '.join(RECIPES)}")
    overrides = dict(RECIPES[name])
    for item in filter(None, rest.split(",")):
        key, eq, value = item.partition("=")
        if not eq:
            raise ValueError(f"recipe override {item!r} must look like key=value")
        overrides[key.strip()] = _parse_value(value.strip())
    return name, overrides


def _parse_value(text: str):
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered == "none":
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def run_spec(overrides: dict, **extra) -> RunSpec:
    """The run a recipe's overrides (and `extra` settings) describe."""
    return RunSpec.from_settings({**overrides, **extra})


RUN_ARGUMENTS = {"corpus", "budget_s", "seed"}  # set per run by the harness, not by a recipe


def defaults() -> dict:
    """Every setting of the three configs at its current default (the model's vocabulary
    comes from the data's), and each retired option at its "off" value."""
    return {f.name: f.default for cls in (DataConfig, ModelConfig, TrainConfig)
            for f in dataclasses.fields(cls) if not (cls is ModelConfig and f.name == "vocab_size")
            } | RETIRED


def overrides(stored: dict, name: str = "default") -> dict:
    """The overrides of recipe `name` under today's defaults that reproduce `stored` settings
    (a retired option the stored run turned on is named too: no setting of today gives it)."""
    base, stored = {**defaults(), **RECIPES[name]}, dict(stored)  # the caller's dict is kept
    if isinstance(stored.get("budget_s"), (int, float)):  # "auto": what it gives that budget
        for side in (base, stored):
            decided = resolve_model(ModelConfig(family=side.get("family", "gpt"),
                                                width=side["width"], head="full",
                                                value_embeds=side["value_embeds"]),
                                    stored["budget_s"])
            side["width"], side["value_embeds"] = decided.width, decided.value_embeds
    if stored.get("family", "gpt") != "gpt":  # the n-gram memory is the transformer's alone
        base["ngram_order"] = stored.get("ngram_order", base["ngram_order"])
    kept = {k: v for k, v in stored.items()
            if k in base and k not in RUN_ARGUMENTS and base[k] != v}
    return {**kept, **retired_in_use(stored)}


def label(name: str, stored: dict) -> str:
    """A spec ('name:key=value,...') that reproduces `stored` settings under today's defaults."""
    extra = overrides(stored, name)
    return name + (":" + ",".join(f"{k}={v}" for k, v in extra.items()) if extra else "")


def changes(spec: dict, base: dict | None = None) -> dict:
    """The settings in which `spec` differs from `base`. A setting only `base` overrides is
    tinylm's default in `spec` (a stored spec lists overrides, not every setting)."""
    base, d = base or {}, defaults()
    out = {k: v for k, v in spec.items() if k not in base or base[k] != v}
    out.update({k: d.get(k) for k in base if k not in spec and d.get(k) != base[k]})
    return out


def describe_spec(spec: dict, base: dict | None = None) -> str:
    """The settings in which `spec` differs from `base`, as 'key=value' text."""
    return ", ".join(f"{k}={v}" for k, v in sorted(changes(spec, base).items())) or "(same settings)"


def in_defaults(spec: dict, base: dict | None = None) -> bool:
    """Whether every setting in which `spec` differs from `base` is tinylm's default now."""
    d, changed = defaults(), changes(spec, base)
    return bool(changed) and all(d.get(k) == v for k, v in changed.items())


def not_in_defaults(spec: dict, base: dict | None = None) -> dict:
    """The settings in which `spec` differs from `base` that are not tinylm's default now: a
    row that bundles the recipe of its day (96 wide, before the width followed the budget) is
    still mostly today's recipe, and this says which part is not."""
    d = defaults()
    return {k: v for k, v in changes(spec, base).items() if d.get(k) != v}
