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

# The size rule: `calibrate` picks the size whose *estimated* tokens per parameter (eager probe
# x COMPILE_SPEEDUP x usable seconds) is closest to
#     TOKENS_PER_PARAM * (budget / TOKENS_PER_PARAM_AT_S) ** TOKENS_PER_PARAM_EXPONENT.
# Fitted in those same units by benchmarks/fit_calibration.py at the best size (width 128) of
# the 300 s sweeps of today's model: 6.99 at 2 threads (sizes2-300s) and 6.33 at 1 thread
# (threads1-sizes2-300s, a laptop with half the compute), geometric mean 6.65; at 60 s 2.37
# (sizes3-60s, width 96). The best ratio grows with the budget, as in the compute-optimal
# scaling laws: 6.65 at 300 s and 2.37 at 60 s give the exponent 0.64. (The best runs really
# saw more tokens per parameter: the eager probe underestimates compiled speed.)
TOKENS_PER_PARAM = 6.65
TOKENS_PER_PARAM_AT_S = 300.0
TOKENS_PER_PARAM_EXPONENT = 0.64

# Learning rate with batch: lr scales as (batch / TrainConfig.batch_size) ** this exponent,
# from the tuned batch-8 learning rate. Measured in benchmarks/results/lr-batch-60s (60 s,
# one run each): at batch 32 the learning rate x1, x2 and x4 gave val_bpb 1.1460, 1.0945 and
# 1.1945; x2 (exponent 0.5, the square-root rule of Malladi et al. 2022) was best, and a
# parabola through the three puts the optimum at exponent 0.42. The same exponent weighs a
# bigger batch when `calibrate` compares batches: one step at batch B counts as (B / 8) ** 0.5
# steps at batch 8 (that weighing itself is not measured separately).
LR_BATCH_EXPONENT = 0.5
LR_BATCH_EXPONENT_MEASURED = True

# Value embeddings (`ModelConfig.value_embeds="auto"`) from this budget on. Measured, medians
# of 2 each: +1.8% val_bpb at 60 s (recipe3-60s), a tie at 150 s (+0.08%, value-embeds-150s),
# -0.8% at 300 s (recipe3-300s); the crossover lies near 150 s, so they go on a little after it
VALUE_EMBEDS_FROM_S = 200

# The default width (`ModelConfig.width="auto"`): 96, or 128 for budgets from this one on.
# Measured with the default (medians of 2 unless noted): 96 is best at 60 s (128 +2.6%,
# sizes3-60s); they tie at 200 s (-0.6%, the runs overlap, width2-200s; +0.1% in width-200s,
# before beta2 0.99); 128 wins at 300 s on 2 threads (-0.9% sizes2-300s, -2.1% recipe5-300s,
# -1.3% recipe6-300s with one run each, -1.6% recipe7-300s) and on 1 (-0.9%,
# threads1-sizes2-300s); 160 loses at 300 s (+3.6%, width160-300s). So the wider model from
# the tie on.
WIDE_FROM_S = 200
NARROW_WIDTH, WIDE_WIDTH = 96, 128
