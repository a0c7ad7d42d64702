"""How many tokens a training run will see: measured once on this machine, scaled to the rest.

One measurement per kernel (a second of training steps on random tokens) is scaled by training
FLOPs to the shape a slider describes; every finished run adds its real speed. Rough for tiny,
overhead-bound models, which is why the panel says "about".
"""

from __future__ import annotations

import math

from tinylm.core import quick
from tinylm.core.models import ModelConfig, train_flops_per_token
from tinylm.tuning.speed import measure_throughput


def _shape(cfg: ModelConfig, batch_size: int) -> tuple:
    return cfg.width, cfg.layers, cfg.heads, cfg.context, cfg.vocab_size, batch_size


class SpeedEstimator:
    """Measured training speeds ({shape: (tokens/s, training FLOPs per token)}) and estimates."""

    def __init__(self):
        self.measured: dict[tuple, tuple[float, float]] = {}

    def remember(self, cfg: ModelConfig, batch_size: int, tokens_per_s: float) -> None:
        """Record a measured training speed; later estimates scale from the closest one."""
        if tokens_per_s > 0 and math.isfinite(tokens_per_s):
            self.measured[_shape(cfg, batch_size)] = (tokens_per_s, train_flops_per_token(cfg))

    def expected(self, cfg: ModelConfig, batch_size: int) -> tuple[float, bool] | None:
        """(tokens/s, measured exactly?); None before any measurement. Scales the measurement
        closest in FLOPs and batch size by the FLOPs ratio."""
        if _shape(cfg, batch_size) in self.measured:
            return self.measured[_shape(cfg, batch_size)][0], True
        if not self.measured:
            return None
        flops = train_flops_per_token(cfg)

        def distance(item):
            (*_, b), (_, f) = item
            return abs(math.log(f / flops)) + 0.5 * abs(math.log(b / batch_size))

        _, (tps, ref_flops) = min(self.measured.items(), key=distance)
        return tps * ref_flops / flops, False

    def measure(self, cfg: ModelConfig, batch_size: int, seconds: float | None = None) -> None:
        """Measure this machine once (later calls return at once)."""
        if self.measured:
            return
        seconds = seconds if seconds is not None else (0.3 if quick.is_quick() else 1.0)
        try:
            speed = measure_throughput(cfg, batch_size, seconds=seconds)["tokens_per_s"]
        except Exception:  # an estimate is a nicety: never let it break the panel
            return
        self.remember(cfg, batch_size, speed)


SPEEDS = SpeedEstimator()  # this kernel's: every panel shares its measurements
