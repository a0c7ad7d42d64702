"""Optimizers: AdamW with weight-decay groups, or Muon for hidden matrices plus AdamW.

Muon (Jordan et al. 2024, `torch.optim.Muon`) orthogonalises the update of each 2D hidden
weight matrix; embeddings, the output head and the norm gains stay on AdamW, as in
modded-nanogpt.
"""

from __future__ import annotations

from collections import defaultdict

import torch
from torch.optim._muon import _adjust_lr

from tinylm.core.models.layers import embedding_tables
from tinylm.machine.device import native_dtype

MUON_MOMENTUM = 0.95  # torch's default


def make_optimizer(model: torch.nn.Module, cfg) -> torch.optim.Optimizer:
    """Optimizer for `model` per `cfg` (a TrainConfig); each group may carry an `lr_scale`."""
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    # lookup tables, and every output-head parameter (an adaptive head has three): AdamW
    inputs = {id(p) for p in embedding_tables(model)}
    outputs = {id(p) for p in model.head.parameters()} - inputs  # a tied table counts as input
    on_adam = inputs | outputs
    matrices = [p for n, p in named if p.dim() == 2 and id(p) not in on_adam]
    embeddings = [p for n, p in named if p.dim() == 2 and id(p) in inputs]
    head = [p for n, p in named if p.dim() == 2 and id(p) in outputs]
    gains = [p for n, p in named if p.dim() < 2]
    adam = dict(lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), eps=1e-8, fused=_fused_ok(named))
    adam_groups = [  # AdamW's whatever the optimizer for the hidden matrices
        {"params": embeddings, "weight_decay": cfg.weight_decay, "lr_scale": 1.0},
        {"params": head, "weight_decay": cfg.weight_decay, "lr_scale": 1.0},
        {"params": gains, "weight_decay": 0.0, "lr_scale": 1.0}]
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(_nonempty([
            {"params": matrices, "weight_decay": cfg.weight_decay, "lr_scale": 1.0},
            *adam_groups]), **adam)
    muon = BatchedMuon([{"params": matrices, "lr_scale": cfg.muon_lr_scale}],
                       lr=cfg.lr * cfg.muon_lr_scale, momentum=MUON_MOMENTUM,
                       weight_decay=cfg.weight_decay, adjust_lr_fn="match_rms_adamw")
    rest = torch.optim.AdamW(_nonempty(adam_groups), **adam)
    return Combined([muon, rest])


def _nonempty(groups: list[dict]) -> list[dict]:
    """The groups that hold parameters (a tied model has no separate head)."""
    return [g for g in groups if g["params"]]


def _fused_ok(named) -> bool:
    """Fused AdamW (one kernel for all tensors) where torch has it: ~1 ms a step less here."""
    return all(p.dtype in (torch.float32, torch.bfloat16, torch.float16, torch.float64)
               and p.device.type in ("cpu", "cuda", "mps") for _, p in named)


class BatchedMuon(torch.optim.Muon):
    """`torch.optim.Muon` with the same update, computed for all same-shaped matrices at once.

    torch's Muon runs Newton-Schulz one matrix at a time: for the default model's 20 small
    matrices that is 300 tiny matmuls a step, about 15% of a step on the 2-core laptop. Stacking
    the matrices of each of the 4 shapes makes them 60 batched matmuls (optimizer step 14.6 ->
    5.9 ms, same result: tests/test_optim.py). State and options are torch's, so checkpoints
    interchange. (`_adjust_lr` is torch's private helper; torch is pinned.)

    One difference: torch runs Newton-Schulz in bf16, which a CPU without AVX512-BF16 or AMX
    (most laptops) emulates ~100x slower than fp32: there 140 of a 344 ms step
    (benchmarks/results/profile). `ns_dtype=None` picks bf16 only where bf16 is fast.
    """

    def __init__(self, params, *args, ns_dtype: torch.dtype | None = None, **kwargs):
        super().__init__(params, *args, **kwargs)
        self.ns_dtype = ns_dtype  # resolved on the first step, from the parameters' device

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            grads = [p.grad for p in params]
            bufs = []
            for p in params:
                state = self.state[p]
                if "momentum_buffer" not in state:
                    state["momentum_buffer"] = torch.zeros_like(p.grad)
                bufs.append(state["momentum_buffer"])
            momentum = group["momentum"]
            torch._foreach_lerp_(bufs, grads, 1 - momentum)
            updates = torch._foreach_lerp(grads, bufs, momentum) if group["nesterov"] else bufs
            lr = group["lr"]
            if group["weight_decay"]:
                torch._foreach_mul_(params, 1 - lr * group["weight_decay"])
            by_shape = defaultdict(list)
            for i, p in enumerate(params):
                by_shape[p.shape].append(i)
            if self.ns_dtype is None:
                self.ns_dtype = native_dtype(params[0].device)
            for shape, index in by_shape.items():
                ortho = newton_schulz(torch.stack([updates[i] for i in index]),
                                      group["ns_coefficients"], group["ns_steps"], group["eps"],
                                      self.ns_dtype)
                step_size = _adjust_lr(lr, group["adjust_lr_fn"], shape)
                torch._foreach_add_([params[i] for i in index], list(ortho.unbind(0)),
                                    alpha=-step_size)
        return loss


def newton_schulz(g: torch.Tensor, coefficients, steps: int, eps: float,
                  dtype: torch.dtype = torch.bfloat16) -> torch.Tensor:
    """torch's quintic Newton-Schulz orthogonalisation, batched over the leading dimension."""
    a, b, c = coefficients
    x = g.to(dtype)
    tall = g.size(-2) > g.size(-1)
    if tall:
        x = x.mT
    x = x / x.norm(dim=(-2, -1), keepdim=True).clamp(min=eps)
    for _ in range(steps):
        gram = x @ x.mT
        x = torch.baddbmm(x, torch.baddbmm(gram, gram, gram, beta=b, alpha=c), x, beta=a)
    return x.mT if tall else x


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
