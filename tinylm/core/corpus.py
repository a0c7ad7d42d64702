"""Where training text comes from: the Hugging Face Hub by default, local files otherwise.

A corpus is two lists of documents (train and validation). Named corpora load from the Hub
with `datasets`; when `TINYLM_DATA_DIR` is set, corpus `X` is read from `$TINYLM_DATA_DIR/X/`
instead (`train-*.txt.gz` + `validation.txt.gz`, documents separated by a `<|endoftext|>`
line). Any path to a `.txt`, `.txt.gz`, `.jsonl` or `.parquet` file, or a folder of them,
works too.
"""

from __future__ import annotations

import codecs
import gzip
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from tinylm.core.hub import hub_address, hub_reachable

EOT = "<|endoftext|>"
EOT_ID = 0  # its id: the tokenizer's first special token (data.py checks); doc_mask reads it
DOC_SEPARATOR = re.compile(r"\n?<\|endoftext\|>\n?")
TEXT_SUFFIXES = (".txt", ".txt.gz", ".jsonl", ".jsonl.gz", ".parquet")
MAX_REPLACED_FRACTION = 0.01  # above this share of invalid bytes a file is not text
MAX_TRAIN_BYTES = 50_000_000  # default cap on training text: Goedecke trained on ~50 MB

# Named corpora on the Hub: (dataset, config, train split, validation split, text column).
HUB_CORPORA = {
    "tinystories": ("roneneldan/TinyStories", None, "train", "validation", "text"),
    # Simple English Wikipedia has no validation split on the Hub: hold out the tail.
    "simplewiki": ("wikimedia/wikipedia", "20231101.simple", "train", None, "text"),
}
HELP_LOCAL = (
    "point tinylm at local text: --corpus PATH (a .txt/.txt.gz/.jsonl/.parquet file or a "
    "folder of them), or set TINYLM_DATA_DIR to a folder holding {name}/train-*.txt.gz and "
    "{name}/validation.txt.gz"
)


class DataError(ValueError):
    """Bad or missing text; the message names the file and what to do."""


@dataclass
class Corpus:
    """Documents to train and validate on, and where they came from (for cache keys)."""

    name: str
    train: list[str]
    validation: list[str]
    source: str  # a stable description of the origin, part of the token cache key
    replaced_bytes: int = 0  # invalid UTF-8 bytes replaced by U+FFFD while reading


def load_corpus(
    corpus: str = "tinystories",
    max_train_bytes: int | None = MAX_TRAIN_BYTES,
    max_val_bytes: int | None = 1_000_000,
    val_fraction: float = 0.05,
) -> Corpus:
    """Load a named corpus or a local path, capped to `max_train_bytes` of training text."""
    name, where = resolve(corpus)
    if where is None:
        return _load_hub(name, max_train_bytes, max_val_bytes)
    return _load_local(where, name, max_train_bytes, max_val_bytes, val_fraction)


def resolve(corpus: str) -> tuple[str, Path | None]:
    """(name, local path) for a corpus; the path is None for a Hub download. Reads no text."""
    if not isinstance(corpus, str) or not corpus.strip():
        raise DataError("corpus is empty: give a corpus name (tinystories, simplewiki) or a path")
    path = Path(corpus).expanduser()
    data_dir = os.environ.get("TINYLM_DATA_DIR")
    if corpus in HUB_CORPORA and not path.exists():
        if not data_dir:
            return corpus, None
        local = Path(data_dir).expanduser() / corpus
        if not local.is_dir():
            raise DataError(f"TINYLM_DATA_DIR is set but {local} is not a folder; "
                            + HELP_LOCAL.format(name=corpus))
        return corpus, local
    if path.exists():
        _text_files(path)  # fail early on an unsupported file or an empty folder
        return path.name.split(".")[0] or path.name, path
    if os.sep in corpus or "/" in corpus or corpus.endswith(TEXT_SUFFIXES):
        raise DataError(f"no such file or folder: {corpus}")
    raise DataError(f"unknown corpus {corpus!r}: use one of {', '.join(HUB_CORPORA)} or a path "
                    "to a .txt/.txt.gz/.jsonl/.parquet file or folder")


def fingerprint(corpus: str) -> str:
    """A cheap, stable description of a corpus's origin (file sizes and times, or Hub id)."""
    name, where = resolve(corpus)
    if where is None:
        repo, config = HUB_CORPORA[name][:2]
        return f"hub:{repo}:{config}"
    files = _text_files(where)
    return "local:" + ";".join(
        f"{f.resolve()}:{f.stat().st_size}:{f.stat().st_mtime_ns}" for f in files)


# ---------------------------------------------------------------- local files


def _load_local(path, name, max_train_bytes, max_val_bytes, val_fraction) -> Corpus:
    files = _text_files(path)
    train_files = [f for f in files if "validation" not in f.name and "valid." not in f.name]
    val_files = [f for f in files if f not in train_files]
    replaced = _Counter()
    train = _read_docs(train_files, max_train_bytes, replaced)
    if val_files:
        validation = _read_docs(val_files, max_val_bytes, replaced)
    else:
        train, validation = _hold_out(train, val_fraction, path)
    validation = _cap(validation, max_val_bytes)
    if not train:
        raise DataError(f"{path}: no training text left after holding out validation; "
                        "add more documents or a separate validation file")
    return Corpus(name, train, validation, fingerprint(str(path)), replaced.bytes)


def _text_files(path: Path) -> list[Path]:
    if path.is_file():
        if not path.name.endswith(TEXT_SUFFIXES):
            raise DataError(f"{path}: unsupported file type; use .txt, .txt.gz, .jsonl or .parquet")
        return [path]
    files = sorted(p for p in path.iterdir() if p.is_file() and p.name.endswith(TEXT_SUFFIXES))
    if not files:
        raise DataError(f"{path}: folder holds no .txt, .txt.gz, .jsonl or .parquet files")
    return files


class _Counter:
    bytes = 0


def _read_docs(files: list[Path], max_bytes: int | None, replaced: _Counter) -> list[str]:
    docs: list[str] = []
    for f in files:
        docs.extend(_read_file(f, replaced))
        if max_bytes is not None and sum(len(d) for d in docs) >= max_bytes:
            break
    return _cap(docs, max_bytes)


def _cap(docs: list[str], max_bytes: int | None) -> list[str]:
    """Keep whole documents until `max_bytes` of UTF-8 text (at least one document)."""
    if max_bytes is None:
        return docs
    kept, total = [], 0
    for d in docs:
        total += len(d.encode("utf-8"))
        if kept and total > max_bytes:
            break
        kept.append(d)
    return kept


def _hold_out(docs: list[str], fraction: float, path) -> tuple[list[str], list[str]]:
    """Split off the last `fraction` of documents (at least one) as validation."""
    if len(docs) < 2:
        raise DataError(f"{path}: need at least 2 documents to hold one out for validation "
                        f"(found {len(docs)}); separate documents with a {EOT} line or blank lines")
    n_val = max(1, round(len(docs) * fraction))
    return docs[:-n_val], docs[-n_val:]


def _read_file(f: Path, replaced: _Counter) -> list[str]:
    name = f.name
    if name.endswith(".parquet"):
        docs = _read_table(f, "parquet")
    elif name.endswith((".jsonl", ".jsonl.gz")):
        docs = _read_jsonl(f, replaced)
    else:
        docs = split_documents(_decode(f, _read_bytes(f), replaced))
    docs = [d for d in docs if d.strip()]
    if not docs:
        raise DataError(f"{f}: holds no text (empty or only whitespace)")
    return docs


def _read_bytes(f: Path) -> bytes:
    try:
        if f.name.endswith(".gz"):
            with gzip.open(f, "rb") as fh:
                return fh.read()
        return f.read_bytes()
    except (OSError, EOFError) as e:
        raise DataError(f"{f}: cannot read ({e}); is it a complete, uncorrupted file?") from None


def _decode(f: Path, raw: bytes, replaced: _Counter) -> str:
    """UTF-8 with invalid bytes replaced by U+FFFD (counted); mostly-invalid files are refused."""
    bad = 0

    def count(err: UnicodeDecodeError):
        nonlocal bad
        bad += err.end - err.start
        return "\ufffd", err.end

    handler = f"tinylm-count-{id(count)}"
    codecs.register_error(handler, count)
    text = raw.decode("utf-8", errors=handler)
    if bad and bad > MAX_REPLACED_FRACTION * len(raw):
        raise DataError(f"{f}: {bad} of {len(raw)} bytes are not valid UTF-8; "
                        "convert the file to UTF-8 text first")
    if bad:
        import warnings

        warnings.warn(f"{f}: replaced {bad} invalid UTF-8 bytes with U+FFFD", stacklevel=3)
    replaced.bytes += bad
    return text


def split_documents(text: str) -> list[str]:
    """Documents are separated by `<|endoftext|>` lines, or else by blank lines."""
    text = text.replace("\r\n", "\n")
    parts = DOC_SEPARATOR.split(text) if EOT in text else re.split(r"\n\s*\n", text)
    return [p.strip() for p in parts if p.strip()]


def _read_jsonl(f: Path, replaced: _Counter) -> list[str]:
    docs = []
    for i, line in enumerate(_decode(f, _read_bytes(f), replaced).splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise DataError(f"{f}: line {i} is not valid JSON ({e.msg})") from None
        if not isinstance(row, dict) or not isinstance(row.get("text"), str):
            raise DataError(f'{f}: line {i} has no "text" field; each line must be '
                            'a JSON object like {"text": "..."}')
        docs.append(row["text"])
    return docs


def _read_table(f: Path, kind: str) -> list[str]:
    from datasets import load_dataset

    try:
        table = load_dataset(kind, data_files=str(f), split="train")
    except Exception as e:  # datasets wraps arrow errors in many types
        raise DataError(f"{f}: cannot read as {kind} ({type(e).__name__}: {e})") from None
    if "text" not in table.column_names:
        raise DataError(f"{f}: no 'text' column (columns: {', '.join(table.column_names)}); "
                        "rename the column that holds the documents to 'text'")
    return [t for t in table["text"] if isinstance(t, str)]


# ---------------------------------------------------------------- the Hub


def _load_hub(name, max_train_bytes, max_val_bytes) -> Corpus:
    if hub_reachable() is False:
        raise DataError(f"cannot reach the Hugging Face Hub ({hub_address()[0]}) to download "
                        f"{name!r}; " + HELP_LOCAL.format(name=name))
    from datasets import load_dataset

    repo, config, train_split, val_split, column = HUB_CORPORA[name]

    def take(split, max_bytes, skip=0):
        stream = load_dataset(repo, config, split=split, streaming=True)
        docs, total = [], 0
        for i, row in enumerate(stream):
            if i < skip:
                continue
            text = (row[column] or "").strip()
            if text:
                docs.append(text)
                total += len(text.encode("utf-8"))
            if max_bytes is not None and total >= max_bytes:
                break
        return docs

    try:
        if val_split:
            validation = take(val_split, max_val_bytes)
            train = take(train_split, max_train_bytes)
        else:  # hold out the first documents, train on the rest
            head = take(train_split, max_val_bytes)
            validation = head
            train = take(train_split, max_train_bytes, skip=len(head))
    except Exception as e:
        raise DataError(f"downloading {repo} failed ({type(e).__name__}: {e}); "
                        + HELP_LOCAL.format(name=name)) from None
    return Corpus(name, train, validation, fingerprint(name))
