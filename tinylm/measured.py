"""Measured constants: each number here was measured on the 2-core benchmark machine (bf16, no
GPU) and lives only here; code, docstrings and the book read it from here. Comments name the
study behind each (benchmarks/results/<study>, told in benchmarks/LOG.md), not its numbers.

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
# "auto" compiles from this budget on (study compile-60s); below ~20 s it cannot pay for itself
COMPILE_MIN_BUDGET_S = 45

# The size rule: `calibrate` picks the size whose *estimated* tokens per parameter (eager probe
# x COMPILE_SPEEDUP x usable seconds) is closest to
#     TOKENS_PER_PARAM * (budget / TOKENS_PER_PARAM_AT_S) ** TOKENS_PER_PARAM_EXPONENT.
# Fitted in those same units by benchmarks/fit_calibration.py at the best size of the sweeps
# sizes2-300s, threads1-sizes2-300s (a laptop with half the compute) and sizes3-60s. The best
# ratio grows with the budget, as in the compute-optimal scaling laws. (The best runs really
# saw more tokens per parameter: the eager probe underestimates compiled speed.)
TOKENS_PER_PARAM = 6.65
TOKENS_PER_PARAM_AT_S = 300.0
TOKENS_PER_PARAM_EXPONENT = 0.64

# Learning rate with batch: lr scales as (batch / TrainConfig.batch_size) ** this exponent,
# from the tuned batch-8 learning rate: the square-root rule of Malladi et al. 2022, best of
# three learning rates at batch 32 (study lr-batch-60s). The same exponent weighs a bigger
# batch when `calibrate` compares batches: one step at batch B counts as (B / 8) ** 0.5 steps
# at batch 8 (that weighing itself is not measured separately).
LR_BATCH_EXPONENT = 0.5
LR_BATCH_EXPONENT_MEASURED = True

# Value embeddings (`ModelConfig.value_embeds="auto"`) from this budget on: they lose at 60 s,
# tie near 150 s and win at 300 s (studies recipe3-60s, value-embeds-150s, recipe3-300s)
VALUE_EMBEDS_FROM_S = 200

# The default width (`ModelConfig.width="auto"`): 96, or 128 for budgets from this one on. 96 is
# best at 60 s, they tie at 200 s, 128 wins at 300 s on 2 threads and on 1, 160 loses (studies
# sizes3-60s, width2-200s, sizes2-300s, recipe7-300s, threads1-sizes2-300s, width160-300s).
WIDE_FROM_S = 200
NARROW_WIDTH, WIDE_WIDTH = 96, 128
