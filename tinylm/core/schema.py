"""How stored settings of older runs, studies and checkpoints read under today's configs.

Settings are added and retired as the book learns. Everything tinylm stores carries the
settings it ran with, so this module upgrades an older record to today's fields: a setting
added later gets the value in effect before it existed (`ADDED`), and a retired one is dropped
when it was off (`RETIRED`); a record that used a retired option is kept as it is by the lab
(its label names the option) and refused by anything that would train or load it.

Version 1: stores before the versioned schema (no `schema_version` key).
Version 2: the retired options are gone from the configs (see benchmarks/LOG.md).
"""

from __future__ import annotations

SCHEMA_VERSION = 2

# Settings added after runs and checkpoints were stored, at the value in effect before them: a
# stored config without the key used this, whatever today's default is.
ADDED = {"head": "full", "smear": False, "doc_mask": False, "value_embeds": False,
         "ngram_order": 0}

# Options measured and dropped, with the value that means "off"; benchmarks/LOG.md has why.
RETIRED = {"bigram_buckets": 0, "story_starts": False, "ema_decay": 0.0,
           "muon_momentum_warmup_frac": 0.0, "embed_lr_scale": 1.0, "head_lr_scale": 1.0}


def retired_in_use(settings: dict) -> dict:
    """The retired options `settings` turned on: {name: value}."""
    return {k: v for k, v in settings.items() if k in RETIRED and v != RETIRED[k]}


def upgrade(settings: dict) -> dict:
    """`settings` with today's fields: added ones back-filled, retired ones that were off dropped
    (ValueError naming any that was on: today's code cannot run it)."""
    used = retired_in_use(settings)
    if used:
        named = ", ".join(f"{k}={v}" for k, v in used.items())
        raise ValueError(f"these settings use options that were retired ({named}); "
                         "benchmarks/LOG.md says why. Train it with an older tinylm")
    return {**ADDED, **{k: v for k, v in settings.items() if k not in RETIRED}}
