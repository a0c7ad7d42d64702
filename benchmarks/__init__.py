"""The benchmark harness and its reports; run its modules from the repository root, e.g.
`python -m benchmarks.run ...` (see benchmarks/README.md).

Set here, before any benchmark imports torch: every compiled run pays a cold compile, as a
student's first run does (set them to 1 to reuse kernels), and tinylm is imported first so
OpenMP's threads wait as they do in the trainer (`tinylm/machine/openmp.py`; until 2026-12-07 the
harness imported torch first and ran at libgomp's default, as fast as tinylm's choice on a
quiet machine).
"""

import os

os.environ.setdefault("TORCHINDUCTOR_FX_GRAPH_CACHE", "0")
os.environ.setdefault("TORCHINDUCTOR_AUTOGRAD_CACHE", "0")

import tinylm  # noqa: E402, F401
