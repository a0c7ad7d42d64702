"""Measured constants: each number here was measured on the 2-core benchmark machine (AMD EPYC
Zen 4, bf16, no GPU) and lives only here; code, docstrings and the book read it from here.

Refit them with `python -m benchmarks.fit_calibration` after re-running the size sweeps.
"""

from __future__ import annotations

# torch.compile: the first compiled step of the default model. In a fresh virtual environment
# inductor builds its own modules and C++ kernels first (quickstart, first run); with a warm
# cache the graph still compiles, but from cached pieces.
COMPILE_FRESH_ENV_S = 25.6  # first step, fresh environment (quickstart's very first run)
COMPILE_COLD_S = 7.9  # first step, graph cache off (median of the sweeps' runs)
COMPILE_WARM_S = 4.6  # first step, warm caches (quickstart's second run)
# compiled / eager steady-state tokens per second, median over the sizes of the sweeps
COMPILE_SPEEDUP = 1.79
# "auto" compiles from this budget on: at 60 s compiling gave 8.0% lower val_bpb than eager
# (benchmarks/results/compile-60s); below ~20 s it cannot pay for itself
COMPILE_MIN_BUDGET_S = 45

# The size rule (benchmarks/results/sizes-300s): the best size saw about this many training
# tokens per parameter; `calibrate` picks the size whose expected tokens per parameter is
# closest to it
TOKENS_PER_PARAM = 9.2
