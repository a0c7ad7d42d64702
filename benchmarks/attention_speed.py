"""What attention costs a training step, side by side: PyTorch's SDPA kernel against the
explicit matmuls + masked softmax that `layers.attend` uses on a CPU, and the price of the
document mask and of value embeddings.

    python -m benchmarks.attention_speed --repeats 5

Every row is the default model's compiled bf16 training step (forward, backward, optimizer,
as the trainer builds it), built and warmed up first, then timed round-robin, `--repeats`
rounds of `--seconds` each, so the machine's drift hits every row alike; medians and
min-max, ratios against the SDPA row. Writes benchmarks/results/attention_speed/<label>.json.
"""

from __future__ import annotations

import contextlib
import json
import sys

from tqdm.auto import tqdm

from benchmarks.run import bench_lock, round_robin_parser, time_round_robin
from tinylm.core.models import ModelConfig, layers
from tinylm.lab.results import REPO
from tinylm.machine.device import set_threads
from tinylm.tuning.speed import training_step

ROWS = {  # label: (ModelConfig changes, attention through the SDPA kernel)
    "sdpa": ({}, True),
    "explicit": ({}, False),
    "explicit + doc_mask": ({"doc_mask": True}, False),
    "explicit + value_embeds": ({"value_embeds": True}, False),
}


@contextlib.contextmanager
def attention(use_sdpa: bool):
    """Swap the function every Attention layer calls (compiled code is guarded on it): SDPA
    always, as `layers.attend` was before, or today's `attend`."""
    original = layers.attend
    layers.attend = layers.sdpa if use_sdpa else original
    try:
        yield
    finally:
        layers.attend = original


def main(argv=None) -> int:
    args = round_robin_parser(__doc__, seconds=4.0, repeats=5).parse_args(argv)
    set_threads(None)
    tokens_per_step = args.batch_size * ModelConfig.context
    with bench_lock():
        rows = []
        for label, (changes, use_sdpa) in tqdm(ROWS.items(), desc="building (compiling)"):
            with attention(use_sdpa):
                step, model = training_step(ModelConfig(head="full", **changes),
                                            args.batch_size, "cpu", "bfloat16", True)
            rows.append({"label": label, "changes": changes, "sdpa": use_sdpa,
                         "params": model.num_params(), "step": step, "samples": []})
        time_round_robin(rows, args, tokens_per_step, "ratio_vs_sdpa",
                         around=lambda r: attention(r["sdpa"]))
    out = REPO / "benchmarks" / "results" / "attention_speed"
    out.mkdir(parents=True, exist_ok=True)
    meta = {"batch_size": args.batch_size, "seconds": args.seconds, "repeats": args.repeats,
            "dtype": "bfloat16", "compiled": True}
    (out / f"{args.label}.json").write_text(json.dumps({**meta, "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
