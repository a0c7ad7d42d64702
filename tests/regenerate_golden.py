"""Regenerate the golden files after an intended change of the numbers, from the repository root:

    python tests/regenerate_golden.py

It rewrites tests/golden/outputs.json (untrained models' logits, test_golden.py) and
tests/golden/run.json (a seeded 40-step training run, test_golden_run.py; it needs the shared
TinyStories at ../shared/data or $TINYLM_DATA_DIR). Review the diff before committing it: every
changed number is a change of what users get.
"""

from __future__ import annotations

import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent
sys.path[:0] = [str(TESTS.parent), str(TESTS)]  # this checkout's tinylm, and the test modules

import test_golden  # noqa: E402
import test_golden_run  # noqa: E402


def main() -> int:
    if not test_golden_run.CORPUS.is_dir():
        print(f"error: the golden run needs the shared TinyStories at {test_golden_run.CORPUS} "
              "(set TINYLM_DATA_DIR to the folder that holds tinystories/)", file=sys.stderr)
        return 2
    print(f"wrote {test_golden.write()}")
    run = test_golden_run.write()
    print(f"wrote {test_golden_run.GOLDEN_RUN}: val_bpb {run['val_bpb']:.6f}, last loss "
          f"{run['losses'][-1]:.6f}, greedy {run['greedy']!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
