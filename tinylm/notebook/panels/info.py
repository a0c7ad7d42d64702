"""What a training panel's sliders imply, refreshed on every change: whether the settings can
train at all (flagged at the control that is wrong), the exact parameter count, the memory
training needs and the tokens the budget buys on this machine."""

from __future__ import annotations

import torch

from tinylm.core.models import ModelConfig, param_count
from tinylm.machine.memory import available_bytes
from tinylm.notebook.panels.format import memory_text, params_text, red, size, tokens_text
from tinylm.tuning.fit import estimate_bytes


def memory(cfg: ModelConfig, batch_size: int) -> tuple[float, float | None]:
    """(bytes training needs, bytes available or None)."""
    return estimate_bytes(cfg, batch_size)["total"], available_bytes(torch.device("cpu"))


def problem(cfg: ModelConfig, batch_size: int) -> str | None:
    """Why this model cannot train, in one line; None if it can."""
    try:
        cfg.validate()
    except ValueError as e:
        return str(e)
    need, have = memory(cfg, batch_size)
    if have is not None and need > 0.8 * have:
        return (f"needs about {size(need)} of memory but {size(have)} is available: "
                "lower width, layers, context or batch size")
    return None


def refresh(panel) -> None:
    """Set the panel's labels (parameters, memory, expected tokens) and heads warning."""
    cfg, batch = panel.model_config(), panel.batch_size.value
    try:
        cfg.validate()
    except ValueError as e:
        panel.heads_warning.value = red(f"✗ {e}")
        panel.heads.style.handle_color = "#c62828"
        panel.params_label.value = "parameters: — (see the message under heads)"
        panel.memory_label.value = panel.tokens_label.value = ""
        return
    panel.heads_warning.value = ""
    panel.heads.style.handle_color = None
    panel.params_label.value = params_text(param_count(cfg), cfg.vocab_size * cfg.width)
    panel.memory_label.value = memory_text(*memory(cfg, batch), problem(cfg, batch))
    panel.tokens_label.value = tokens_text(panel.speeds.expected(cfg, batch), panel.budget.value,
                                           batch * cfg.context)
