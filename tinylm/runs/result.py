"""What a training run leaves behind: `TrainResult` (the model, its metrics, where it was saved
or why it could not be) and the metrics every run records."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tinylm.core import checkpoint
from tinylm.core.data import TokenData
from tinylm.core.models import LanguageModel
from tinylm.runs.folders import environment


@dataclass
class TrainResult:
    """What a run produced: the model, its metrics and where they were saved."""

    model: LanguageModel
    metrics: dict
    status: str  # completed | stopped | interrupted | diverged
    message: str = ""
    out_dir: Path | None = None
    history: list = field(default_factory=list)
    error: str = ""  # why the final checkpoint could not be written ("" when it was)
    tokenizer: object = field(default=None, repr=False)
    info: dict = field(default_factory=dict, repr=False)

    def __repr__(self) -> str:
        m = self.metrics
        saved = f", NOT SAVED: {self.error}; result.save(folder) keeps it" if self.error else ""
        return (f"TrainResult({self.status}, val_bpb={m.get('val_bpb', float('nan')):.4f}, "
                f"val_ppl={m.get('val_ppl', float('nan')):.2f}, tokens={m.get('tokens_seen')}"
                f"{saved})")

    def save(self, out_dir: str | Path) -> Path:
        """Save the trained model as a checkpoint folder (for example elsewhere, after the
        run's own folder could not be written); raises SaveError if this one fails too."""
        path = checkpoint.save(out_dir, self.model, self.tokenizer,
                               {**self.info, "status": self.status}, self.metrics)
        self.out_dir, self.error = Path(path), ""
        return self.out_dir


def run_metrics(loop, final: dict, data: TokenData, threads: int, status: str, message: str,
                train_seconds: float, eval_seconds: float, device_choice: dict) -> dict:
    cfg, model = loop.cfg, loop.model
    return {
        "status": status, "message": message,
        **{k: final[k] for k in ("val_loss", "val_bpb", "val_ppl")},
        "val_tokens": final["tokens"], "val_bytes": final["bytes"],
        "tokens_seen": loop.tokens, "steps": loop.step,
        "tokens_per_s": loop.tokens / max(train_seconds, 1e-9),
        "params": model.num_params(), "params_non_embedding": model.num_params(True),
        "head": model.cfg.head,  # what head="auto" became on this device
        "value_embeds": model.cfg.value_embeds,  # and value_embeds="auto" for this budget
        "width": model.cfg.width,  # and width="auto"
        "train_seconds": train_seconds, "budget_s": cfg.budget_s,
        "first_step_seconds": loop.first_step_s, "max_step_seconds": loop.max_step_s,
        "max_eval_seconds": loop.max_eval_s, "compiled": loop.compiled,
        "final_eval_seconds": eval_seconds, "prepare_seconds": data.prepare_seconds,
        **environment(loop.device, loop.dtype, threads), "world_size": loop.ranks.world,
        "device_choice": device_choice,  # how device="auto" was decided
        "history": loop.history,
        "timeline": loop.timeline.records,  # TrainConfig.sample_at_s: score and sample at those moments
    }
