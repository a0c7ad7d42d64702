"""Throughput levers for the step, side by side on the default's compiled bf16 step:
inductor's C++ wrapper, max-autotune (its C++ GEMM templates against aten's matmuls), the
optimizer step compiled too, and a chunked head + cross-entropy that never holds the full
[tokens, vocab] logits (forward and backward per chunk, Liger-kernel style).

    python -m benchmarks.step_variants --repeats 5

Every row is built and warmed up first, then all are timed round-robin, `--repeats` rounds of
`--seconds` each, so the machine's drift hits every row alike; medians and min-max, ratios
against the first row. Writes benchmarks/results/step_variants/<label>.json.
"""

from __future__ import annotations

import json
import sys
import time

import torch
import torch._inductor.config as inductor_config
from tqdm.auto import tqdm

from benchmarks.run import bench_lock, round_robin_parser, time_round_robin
from tinylm.core.models import ModelConfig
from tinylm.core.models.gpt import GPT
from tinylm.lab.results import REPO
from tinylm.machine.device import set_threads
from tinylm.tuning.speed import step_parts

ROWS = {  # label: (torch.compile mode, inductor config patch, optimizer compiled, head chunk)
    "default": (None, {}, False, 0),
    "cpp_wrapper": (None, {"cpp_wrapper": True}, False, 0),
    "max-autotune": ("max-autotune-no-cudagraphs", {}, False, 0),
    "optimizer compiled": (None, {}, True, 0),
    "chunked head + CE, 256": (None, {}, False, 256),
    "chunked head + CE, 512": (None, {}, False, 512),
}


class LinearCrossEntropy(torch.autograd.Function):
    """Mean cross-entropy of `hidden @ weight.T` against `targets`, a chunk of rows at a time:
    each chunk's logits [chunk, vocab] are made, turned into the loss and into the gradients
    of `hidden` and `weight` (softmax - one-hot), and dropped; backward only scales them."""

    @staticmethod
    def forward(ctx, hidden, weight, targets, chunk):  # hidden [N, width], weight [vocab, width]
        n = hidden.shape[0]
        w = weight.to(hidden.dtype)
        grad_hidden = torch.empty_like(hidden)
        grad_weight = torch.zeros(weight.shape, dtype=torch.float32, device=hidden.device)
        total = torch.zeros((), dtype=torch.float32, device=hidden.device)
        for start in range(0, n, chunk):
            h, y = hidden[start:start + chunk], targets[start:start + chunk]
            logits = (h @ w.t()).float()  # [chunk, vocab]
            lse = torch.logsumexp(logits, -1)  # [chunk]
            total = total + (lse - logits.gather(1, y[:, None]).squeeze(1)).sum()
            d_logits = torch.exp(logits - lse[:, None]) - torch.nn.functional.one_hot(
                y, logits.shape[1]).to(logits.dtype)
            d_logits = d_logits.to(hidden.dtype)
            grad_hidden[start:start + chunk] = d_logits @ w
            grad_weight = grad_weight + (d_logits.t() @ h).float()
        ctx.save_for_backward(grad_hidden, grad_weight)
        ctx.n = n
        return total / n

    @staticmethod
    def backward(ctx, grad_loss):
        grad_hidden, grad_weight = ctx.saved_tensors
        scale = grad_loss / ctx.n
        return (grad_hidden * scale).to(grad_hidden.dtype), grad_weight * scale, None, None


def chunked(chunk: int) -> type:
    """A GPT whose loss goes through `LinearCrossEntropy`; a class per chunk size, so the
    compiled code (guarded on the module's type) is its own."""

    def forward(self, idx, targets=None):
        h = self.hidden(idx)  # [B, T, width]
        if targets is None:
            return self.head(h)
        return LinearCrossEntropy.apply(h.reshape(-1, h.shape[-1]), self.head.weight,
                                        targets.reshape(-1), chunk)

    return type(f"ChunkedGPT{chunk}", (GPT,), {"forward": forward})


def build(mode, patch: dict, optimizer_compiled: bool, chunk: int, batch_size: int):
    """The row's warmed-up training step (forward + loss, backward, optimizer, zero_grad)."""
    parts = step_parts(ModelConfig(head="full"), batch_size, "cpu", "bfloat16", compile=False)
    model, opt = parts.model, parts.optimizer
    if chunk:
        model.__class__ = chunked(chunk)

    with inductor_config.patch(patch):  # step_parts' eager loss_fn: autocast, then the model
        loss_fn = torch.compile(parts.loss_fn, dynamic=False, **({"mode": mode} if mode else {}))
        opt_step = torch.compile(opt.step) if optimizer_compiled else opt.step

        def step():
            with inductor_config.patch(patch):
                loss = loss_fn(*parts.batch)
                loss.backward()
                opt_step()
                opt.zero_grad(set_to_none=True)
                return loss.item()

        step()
        step()
    return step


def main(argv=None) -> int:
    args = round_robin_parser(__doc__, seconds=4.0, repeats=5).parse_args(argv)
    set_threads(None)
    tokens_per_step = args.batch_size * ModelConfig.context
    with bench_lock():
        rows = []
        for label, (mode, patch, opt_compiled, chunk) in tqdm(ROWS.items(), desc="building"):
            start = time.perf_counter()
            step = build(mode, patch, opt_compiled, chunk, args.batch_size)
            rows.append({"label": label, "mode": mode, "inductor": patch, "chunk": chunk,
                         "optimizer_compiled": opt_compiled, "step": step, "samples": [],
                         "build_s": time.perf_counter() - start})
        time_round_robin(rows, args, tokens_per_step, "ratio")
    out = REPO / "benchmarks" / "results" / "step_variants"
    out.mkdir(parents=True, exist_ok=True)
    meta = {"batch_size": args.batch_size, "seconds": args.seconds, "repeats": args.repeats,
            "dtype": "bfloat16", "torch": torch.__version__}
    (out / f"{args.label}.json").write_text(json.dumps({**meta, "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
