#!/usr/bin/env bash
# macOS and Linux: run quickstart.py (set up once, then train for BUDGET seconds, default 60)
# with the newest Python 3.10+ found; macOS's own python3 is 3.9, too old for torch 2.13.
# Extra arguments go to `python -m tinylm train`. Windows: `py quickstart.py`.
set -euo pipefail
cd "$(dirname "$0")"
for py in python3.14 python3.13 python3.12 python3.11 python3.10 python3; do
  if command -v "$py" >/dev/null 2>&1 &&
      "$py" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
    exec "$py" quickstart.py "$@"
  fi
done
if ! command -v python3 >/dev/null 2>&1; then
  echo "error: no python3 found; install Python 3.10 or newer (see README, 'Setting up on your machine')" >&2
  exit 1
fi
exec python3 quickstart.py "$@"  # too old: quickstart.py says what to install
