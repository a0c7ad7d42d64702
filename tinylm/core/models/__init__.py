"""Model families behind one interface: `build_model(cfg)` gives the family `cfg.family` names.

Every family is a `LanguageModel`: the trainer, evaluation, sampling and checkpoints call its
methods (`forward`, `nll`, `writes_all_at_once`) and never ask which family it is.
"""

from __future__ import annotations

import torch

from tinylm.core.models.config import FAMILIES, MLP_KINDS, NORM_KINDS, POSITION_KINDS, ModelConfig
from tinylm.core.models.gpt import GPT
from tinylm.core.models.layers import LanguageModel, count_params, eval_mode, lm_loss
from tinylm.core.models.lstm import LSTMLM
from tinylm.core.models.mdlm import MaskedDiffusionLM

REGISTRY: dict[str, type[LanguageModel]] = {"gpt": GPT, "lstm": LSTMLM, "mdlm": MaskedDiffusionLM}
assert tuple(REGISTRY) == FAMILIES


def build_model(cfg: ModelConfig) -> LanguageModel:
    """The model for `cfg.family`: every family shares the trainer, evaluation and checkpoints."""
    cfg.validate()
    return REGISTRY[cfg.family](cfg)


def shape_only(cfg: ModelConfig) -> LanguageModel:
    """The model built on PyTorch's "meta" device: exact shapes, no memory, ~1 ms."""
    with torch.device("meta"):
        return build_model(cfg)


def param_count(cfg: ModelConfig, non_embedding: bool = False) -> int:
    """Exact parameter count of `cfg` without allocating weights (fast enough for a slider)."""
    return shape_only(cfg).num_params(non_embedding)


def train_flops_per_token(cfg: ModelConfig) -> float:
    """Training FLOPs per token of `cfg` (see `LanguageModel.train_flops_per_token`)."""
    return shape_only(cfg).train_flops_per_token()


__all__ = ["FAMILIES", "GPT", "LSTMLM", "MLP_KINDS", "NORM_KINDS", "POSITION_KINDS", "REGISTRY",
           "LanguageModel", "MaskedDiffusionLM", "ModelConfig", "build_model", "count_params",
           "eval_mode", "lm_loss", "param_count", "shape_only", "train_flops_per_token"]
