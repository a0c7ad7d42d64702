"""Watch it learn: the validation score and a seeded sample at moments of a run's budget
(`TrainConfig.sample_at_s`), recorded with the clock stopped so that watching costs the run no
training time. The run stores them as `metrics["timeline"]`; the book scrubs through them.
"""

from __future__ import annotations

import time

from tinylm.core.evaluate import evaluate
from tinylm.core.sample import generate


class Timeline:
    """The moments still to record and the records made (a resumed run keeps its own)."""

    def __init__(self, cfg, tokenizer, records: list[dict], elapsed0: float):
        self.cfg, self.tokenizer, self.records = cfg, tokenizer, list(records)
        done = {r["at_s"] for r in self.records}
        self.moments = [m for m in (cfg.sample_at_s or ()) if m not in done and m > elapsed0]

    def due(self, now: float) -> bool:
        return bool(self.moments) and now >= self.moments[0]

    def record(self, loop, now: float) -> float:
        """Score and sample `loop`'s model at each moment `now` has passed (all that are left
        within the budget once it is spent); returns the seconds it took, for the caller's clock."""
        t0, cfg = time.perf_counter(), self.cfg
        while self.moments and self.moments[0] <= min(now, cfg.budget_s):
            at = self.moments.pop(0)
            val = evaluate(loop.model, loop.eval_windows, loop.token_bytes, loop.device, loop.dtype)
            text = generate(loop.model, self.tokenizer, cfg.sample_prompt,
                            max_new_tokens=cfg.sample_tokens, temperature=0.8, top_k=40,
                            seed=cfg.seed) if self.tokenizer is not None else ""
            self.records.append({"at_s": at, "elapsed_s": round(loop.elapsed(), 3),
                                 "step": loop.step, "tokens": loop.tokens,
                                 "val_bpb": val["val_bpb"], "text": text})
            if loop.callback:
                loop.callback({"event": "sample", **self.records[-1]})
        return time.perf_counter() - t0
