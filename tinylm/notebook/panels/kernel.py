"""What the panels of one kernel share: prepared token data, one training at a time (two
would share the same CPU cores), and the newest trained model (for a sampling panel)."""

from __future__ import annotations

import threading

import numpy as np

from tinylm.core import quick
from tinylm.core.data import DataConfig, TokenData
from tinylm.core.data import prepare as prepare_data

DATA: dict[tuple, TokenData] = {}
TRAINING = threading.Lock()
LATEST: dict = {}  # the newest model a training panel finished: model, tokenizer, label


def prepare(corpus: str, vocab: int) -> TokenData:
    """Token data kept in memory: a second run on the same corpus starts at once."""
    key = (corpus, vocab, quick.data_cap())
    if key not in DATA:
        DATA[key] = prepare_data(DataConfig(corpus=corpus, vocab_size=vocab,
                                            max_train_bytes=quick.data_cap()), progress=False)
    return DATA[key]


def bytes_per_token(data: TokenData) -> float:
    """Average UTF-8 bytes per training token, to draw losses in bits per byte."""
    sample = np.asarray(data.train[:1_000_000], dtype=np.int64)
    return float(data.token_bytes[sample].mean()) if len(sample) else 1.0
