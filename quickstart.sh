#!/usr/bin/env bash
# Set up (once) and train a language model for BUDGET seconds (default 60), then print its
# validation score and a story it wrote. Extra arguments go to `python -m tinylm train`.
set -euo pipefail
cd "$(dirname "$0")"
if [[ ! -x .venv/bin/python ]]; then
  python3 -m venv .venv
  .venv/bin/pip install --quiet --upgrade pip
  .venv/bin/pip install --quiet -r requirements.txt -e .
fi
# Offline machines: use the local copies of the corpora beside this checkout, if present.
if [[ -z "${TINYLM_DATA_DIR:-}" && -d ../shared/data/tinystories ]]; then
  export TINYLM_DATA_DIR="$PWD/../shared/data"
fi
exec .venv/bin/python -m tinylm train --budget "${BUDGET:-60}" "$@"
