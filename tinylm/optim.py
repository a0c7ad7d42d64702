"""Optimizers: AdamW with weight-decay groups, or Muon for hidden matrices plus AdamW.

Muon (Jordan et al. 2024, `torch.optim.Muon`) orthogonalises the update of each 2D hidden
weight matrix; embeddings, the output head and the norm gains stay on AdamW, as in
modded-nanogpt.
"""

from __future__ import annotations

import torch

OPTIMIZERS = ("adamw", "muon")


def make_optimizer(model: torch.nn.Module, cfg) -> torch.optim.Optimizer:
    """Optimizer for `model` per `cfg` (a TrainConfig); each group may carry an `lr_scale`."""
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    tables = {id(model.tok_emb.weight), id(model.head.weight)}
    if getattr(model, "pos_emb", None) is not None:
        tables.add(id(model.pos_emb.weight))
    matrices = [p for n, p in named if p.dim() == 2 and id(p) not in tables]
    embeddings = [p for n, p in named if p.dim() == 2 and id(p) in tables]
    gains = [p for n, p in named if p.dim() < 2]
    adam = dict(lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), eps=1e-8)
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW([
            {"params": matrices + embeddings, "weight_decay": cfg.weight_decay, "lr_scale": 1.0},
            {"params": gains, "weight_decay": 0.0, "lr_scale": 1.0}], **adam)
    muon = torch.optim.Muon([{"params": matrices, "lr_scale": cfg.muon_lr_scale}],
                            lr=cfg.lr * cfg.muon_lr_scale, weight_decay=cfg.weight_decay,
                            adjust_lr_fn="match_rms_adamw")
    rest = torch.optim.AdamW([
        {"params": embeddings, "weight_decay": cfg.weight_decay, "lr_scale": 1.0},
        {"params": gains, "weight_decay": 0.0, "lr_scale": 1.0}], **adam)
    return Combined([muon, rest])


class Combined(torch.optim.Optimizer):
    """Several optimizers stepped as one, so the trainer sees a single object."""

    def __init__(self, optimizers: list[torch.optim.Optimizer]):
        self.optimizers = optimizers
        self.defaults = {}
        self.state = {}

    @property
    def param_groups(self) -> list[dict]:
        # read through every time: load_state_dict replaces the inner optimizers' group dicts
        return [g for o in self.optimizers for g in o.param_groups]

    def step(self, closure=None):
        for o in self.optimizers:
            o.step()

    def zero_grad(self, set_to_none: bool = True):
        for o in self.optimizers:
            o.zero_grad(set_to_none=set_to_none)

    def state_dict(self) -> dict:
        return {"optimizers": [o.state_dict() for o in self.optimizers]}

    def load_state_dict(self, state: dict) -> None:
        for o, s in zip(self.optimizers, state["optimizers"], strict=True):
            o.load_state_dict(s)
