"""Store a small slice of a corpus as local files that `TINYLM_DATA_DIR` reads (Binder's data).

    python binder/fetch_data.py DIR [--corpus tinystories] [--max-train-bytes N]

Writes DIR/<corpus>/train-0.txt.gz and DIR/<corpus>/validation.txt.gz, documents separated by
`<|endoftext|>` lines: the layout `tinylm.core.corpus` reads when TINYLM_DATA_DIR=DIR.
"""

from __future__ import annotations

import argparse
import gzip
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Binder's cap on training text: a 5-minute run on Binder's shared CPU sees a few million
# tokens, so 10 MB (about 2.5M tokens) repeats at most a few times, and tokenizes in seconds
BINDER_TRAIN_BYTES = 10_000_000


def write_corpus(corpus, folder: Path) -> Path:
    """Write a loaded `tinylm.core.corpus.Corpus` in the TINYLM_DATA_DIR layout; returns its folder."""
    from tinylm.core.corpus import EOT

    out = Path(folder) / corpus.name
    out.mkdir(parents=True, exist_ok=True)
    for name, docs in (("train-0.txt.gz", corpus.train), ("validation.txt.gz", corpus.validation)):
        with gzip.open(out / name, "wt", encoding="utf-8") as f:
            f.write(f"\n{EOT}\n".join(docs) + "\n")
    return out


def main(argv: list[str] | None = None) -> int:
    sys.path.insert(0, str(ROOT))
    from tinylm.core.corpus import load_corpus

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("folder", type=Path)
    p.add_argument("--corpus", default="tinystories")
    p.add_argument("--max-train-bytes", type=int, default=BINDER_TRAIN_BYTES)
    args = p.parse_args(argv)
    out = write_corpus(load_corpus(args.corpus, args.max_train_bytes), args.folder)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
