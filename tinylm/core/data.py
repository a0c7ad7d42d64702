"""Text to tokens, once: a byte-level BPE tokenizer and uint16 token files, cached on disk.

The cache key hashes (corpus origin, size caps, vocabulary), so a second run with the same
data starts in seconds. Building is guarded by a file lock and finished by an atomic rename
of `meta.json`, so two processes preparing the same corpus at once cannot corrupt it.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from filelock import FileLock
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from tqdm.auto import tqdm

from tinylm.core.corpus import EOT, EOT_ID, MAX_TRAIN_BYTES, DataError, fingerprint, load_corpus
from tinylm.machine.cache import default_cache_dir
from tinylm.options import option

CACHE_VERSION = 1
MAX_VOCAB = 65535  # token ids are stored as uint16


@dataclass
class DataConfig:
    """Which text, how much of it, and how it is tokenized."""

    corpus: str = option("tinystories", "tinystories, simplewiki, or a local file or folder of "
                                        ".txt/.txt.gz/.jsonl/.parquet text")
    vocab_size: int = option(4096, "BPE vocabulary including end-of-text (256: plain bytes)")
    max_train_bytes: int | None = option(MAX_TRAIN_BYTES, "cap on the training text in bytes "
                                                          "(None: all of it)")
    max_val_bytes: int | None = option(1_000_000, "cap on the validation text in bytes")
    cache_dir: str | None = option(None, "token cache (default: $TINYLM_CACHE_DIR or "
                                         "~/.cache/tinylm)")

    def validate(self) -> None:
        if not isinstance(self.vocab_size, int) or not 256 <= self.vocab_size <= MAX_VOCAB:
            raise ValueError(f"vocab_size must be an integer from 256 to {MAX_VOCAB} "
                             f"(token ids are stored as uint16), got {self.vocab_size!r}")
        for name in ("max_train_bytes", "max_val_bytes"):
            v = getattr(self, name)
            if v is not None and (not isinstance(v, int) or v <= 0):
                raise ValueError(f"{name} must be a positive number of bytes or None, got {v!r}")


@dataclass
class TokenData:
    """A prepared corpus: tokenizer, token streams and how many bytes each token stands for."""

    tokenizer: Tokenizer
    train: np.ndarray  # uint16 memory map
    val: np.ndarray
    token_bytes: np.ndarray  # int64 [vocab]: UTF-8 bytes each token decodes to (EOT counts 1)
    meta: dict = field(default_factory=dict)
    cache_dir: Path | None = None
    cache_hit: bool = False
    prepare_seconds: float = 0.0

    @property
    def vocab_size(self) -> int:
        return self.tokenizer.get_vocab_size()

    @property
    def eot_id(self) -> int:
        return self.tokenizer.token_to_id(EOT)


def prepare(cfg: DataConfig | None = None, progress: bool = True) -> TokenData:
    """Tokenizer + token files for `cfg`, from the cache when possible."""
    cfg = cfg or DataConfig()
    cfg.validate()
    start = time.perf_counter()
    key_fields = {"version": CACHE_VERSION, "source": fingerprint(cfg.corpus),
                  "vocab_size": cfg.vocab_size, "max_train_bytes": cfg.max_train_bytes,
                  "max_val_bytes": cfg.max_val_bytes}
    key = hashlib.sha256(json.dumps(key_fields, sort_keys=True).encode()).hexdigest()[:16]
    folder = Path(cfg.cache_dir or default_cache_dir()) / key
    folder.mkdir(parents=True, exist_ok=True)
    hit = (folder / "meta.json").exists()
    if not hit:
        with FileLock(str(folder / "build.lock")):
            if not (folder / "meta.json").exists():  # another process may have built it
                _build(cfg, folder, key_fields, progress)
    data = load_prepared(folder)
    data.cache_hit = hit
    data.prepare_seconds = time.perf_counter() - start
    return data


def load_prepared(folder: Path) -> TokenData:
    meta = json.loads((folder / "meta.json").read_text())
    tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
    train = np.memmap(folder / "train.bin", dtype=np.uint16, mode="r")
    val = np.memmap(folder / "val.bin", dtype=np.uint16, mode="r")
    return TokenData(tok, train, val, token_byte_lengths(tok), meta, folder)


def train_tokenizer(docs: list[str], vocab_size: int) -> Tokenizer:
    """Byte-level BPE (GPT-2 style) with one special end-of-text token."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=max(vocab_size, 257),  # 256 bytes + end-of-text at least
        special_tokens=[EOT], initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False)
    tok.train_from_iterator(docs, trainer)
    if tok.token_to_id(EOT) != EOT_ID:  # the document mask finds story ends by this id
        raise RuntimeError(f"{EOT} got id {tok.token_to_id(EOT)}, not {EOT_ID}")
    return tok


def token_byte_lengths(tok: Tokenizer) -> np.ndarray:
    """Bytes of text per token id: byte-level BPE maps each byte to exactly one symbol."""
    lengths = np.zeros(tok.get_vocab_size(), dtype=np.int64)
    for token, i in tok.get_vocab().items():
        lengths[i] = 1 if token == EOT else len(token)
    return lengths


def token_pieces(tok: Tokenizer, text: str) -> list[str]:
    """The text of each token `text` splits into, in order, to show where the tokenizer cuts.
    Byte-level: a token holding part of a multi-byte character shows as U+FFFD."""
    return [tok.decode([i]) for i in tok.encode(text).ids]


def encode_docs(tok: Tokenizer, docs: list[str], desc: str, progress: bool) -> np.ndarray:
    """Token ids of each document followed by end-of-text, as one uint16 array."""
    eot = tok.token_to_id(EOT)
    chunks, step = [], 512
    for i in tqdm(range(0, len(docs), step), desc=desc, disable=not progress, leave=False):
        for enc in tok.encode_batch(docs[i:i + step]):
            chunks.append(np.asarray(enc.ids, dtype=np.uint16))
            chunks.append(np.array([eot], dtype=np.uint16))
    return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.uint16)


def _build(cfg: DataConfig, folder: Path, key_fields: dict, progress: bool) -> None:
    t0 = time.perf_counter()
    corpus = load_corpus(cfg.corpus, cfg.max_train_bytes, cfg.max_val_bytes)
    t_load = time.perf_counter() - t0
    tok = train_tokenizer(corpus.train, cfg.vocab_size)
    t_tok = time.perf_counter() - t0 - t_load
    train = encode_docs(tok, corpus.train, "tokenizing train", progress)
    val = encode_docs(tok, corpus.validation, "tokenizing validation", progress)
    t_enc = time.perf_counter() - t0 - t_load - t_tok
    train_bytes = sum(len(d.encode("utf-8")) for d in corpus.train)
    meta = {**key_fields, "corpus": cfg.corpus, "name": corpus.name,
            "vocab": tok.get_vocab_size(),
            "train_docs": len(corpus.train), "val_docs": len(corpus.validation),
            "train_bytes": train_bytes,
            "val_bytes": sum(len(d.encode("utf-8")) for d in corpus.validation),
            "train_tokens": int(train.size), "val_tokens": int(val.size),
            "bytes_per_token": train_bytes / max(1, train.size - len(corpus.train)),
            "replaced_bytes": corpus.replaced_bytes,
            "seconds": {"load": round(t_load, 2), "tokenizer": round(t_tok, 2),
                        "encode": round(t_enc, 2)}}
    tok.save(str(_tmp(folder / "tokenizer.json")))
    train.tofile(_tmp(folder / "train.bin"))
    val.tofile(_tmp(folder / "val.bin"))
    for name in ("tokenizer.json", "train.bin", "val.bin"):
        os.replace(_tmp(folder / name), folder / name)
    _tmp(folder / "meta.json").write_text(json.dumps(meta, indent=1))
    os.replace(_tmp(folder / "meta.json"), folder / "meta.json")  # marks the cache complete


def _tmp(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


# ---------------------------------------------------------------- batches


class Batches:
    """Random training windows of `context + 1` tokens from the token stream, seeded."""

    def __init__(self, tokens: np.ndarray, context: int, batch_size: int, seed: int = 0):
        if len(tokens) < context + 2:
            raise DataError(f"training text has {len(tokens)} tokens, fewer than one window of "
                            f"context {context}; lower the context or add text")
        self.tokens, self.context, self.batch_size = tokens, context, batch_size
        self.rng = np.random.default_rng(seed)
        self.end = len(tokens) - context - 1  # windows start below it (a full window fits)

    def next(self, batch_size: int | None = None,
             length: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(inputs, targets) [batch, length]: `batch_size` windows of `length` tokens (by
        default the batch size and context this was made with)."""
        length = length or self.context
        starts = self.rng.integers(0, self.end, batch_size or self.batch_size)
        w = torch.from_numpy(np.stack([self.tokens[s:s + length + 1] for s in starts])
                             .astype(np.int64))
        return w[:, :-1], w[:, 1:]

    def state_dict(self) -> dict:
        return {"rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict) -> None:
        self.rng.bit_generator.state = state["rng"]


def val_windows(tokens: np.ndarray, context: int, max_tokens: int | None = None) -> torch.Tensor:
    """Fixed, non-overlapping validation windows [n, context + 1], the same in every run."""
    n = (len(tokens) - 1) // context
    if max_tokens is not None:
        n = min(n, max(1, max_tokens // context))
    if n < 1:
        raise DataError(f"validation text has {len(tokens)} tokens, too few for one window of "
                        f"context {context}; lower the context or add validation text")
    idx = np.arange(n)[:, None] * context + np.arange(context + 1)[None, :]
    return torch.from_numpy(np.asarray(tokens[idx], dtype=np.int64))


def describe(data: TokenData) -> dict:
    """A short summary of a prepared corpus for printing."""
    m = data.meta
    return {"corpus": m["corpus"], "vocab": m["vocab"], "train_tokens": m["train_tokens"],
            "val_tokens": m["val_tokens"], "bytes_per_token": round(m["bytes_per_token"], 3),
            "cache_hit": data.cache_hit, "prepare_seconds": round(data.prepare_seconds, 2)}

