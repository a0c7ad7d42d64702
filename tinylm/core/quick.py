"""Quick mode: `TINYLM_QUICK=1` scales every training budget down so notebooks run in CI.

Notebooks call `budget(60)` instead of writing 60: a reader gets a minute of training, CI gets
a few seconds, and the chapter's code is the same.
"""

from __future__ import annotations

import os

from tinylm.core.corpus import MAX_TRAIN_BYTES

QUICK_SCALE = 0.05  # 60 s becomes 3 s
QUICK_MIN_S = 2.0
QUICK_TRAIN_BYTES = 2_000_000


def is_quick() -> bool:
    return os.environ.get("TINYLM_QUICK", "").strip().lower() not in ("", "0", "false", "no")


def budget(seconds: float) -> float:
    """`seconds`, or a few seconds in quick mode."""
    return max(QUICK_MIN_S, seconds * QUICK_SCALE) if is_quick() else float(seconds)


def data_cap(max_train_bytes: int | None = MAX_TRAIN_BYTES) -> int | None:
    """Training-text cap: `QUICK_TRAIN_BYTES` in quick mode, so tokenizing takes about a second."""
    return QUICK_TRAIN_BYTES if is_quick() else max_train_bytes


QUICK_EVAL_TOKENS = 16_384


def eval_tokens(tokens: int | None) -> int | None:
    """Final-evaluation size: at most 16k tokens in quick mode (a full one takes ~5 s)."""
    if not is_quick():
        return tokens
    return QUICK_EVAL_TOKENS if tokens is None else min(tokens, QUICK_EVAL_TOKENS)
