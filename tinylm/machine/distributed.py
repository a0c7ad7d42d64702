"""Several processes, one model: DistributedDataParallel when launched by `torchrun`.

`torchrun --nproc_per_node 2 -m tinylm train ...` runs the same trainer on two processes (gloo on
CPU, NCCL on CUDA). Each rank draws its own batches; gradients are averaged; all ranks agree on
the elapsed time every step so they stop at the same step; rank 0 alone saves and prints.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass
class Ranks:
    rank: int = 0
    world: int = 1
    local_rank: int = 0
    local_world: int = 1

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world > 1


def setup() -> Ranks:
    """Join the process group torchrun describes in the environment (no-op when alone)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Ranks()
    if not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return Ranks(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")),
                 int(os.environ.get("LOCAL_WORLD_SIZE", "1")))


def agree(ranks: Ranks, elapsed: float, stop: bool) -> tuple[float, bool]:
    """The largest elapsed time and any rank's stop request, shared by all ranks."""
    if not ranks.active:
        return elapsed, stop
    t = torch.tensor([elapsed, float(stop)], dtype=torch.float64)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return float(t[0]), bool(t[1])
