"""`RunSpec`: everything a run is (its data, its model, how it trains), and `resolve`, the one
place where a setting's "auto" becomes a concrete value for a device and a budget.

The CLI, the named recipes, the benchmark harness and the notebook panels all build a
`RunSpec` and train it, so a setting means the same thing wherever it is given. Which device
is fastest on this machine is measured by `tinylm.tuning.probe`; a run passes that choice in
(`choose_device`), so the training library itself never measures.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import torch

from tinylm.core.data import DataConfig
from tinylm.core.models.config import ModelConfig
from tinylm.core.schedule import TrainConfig
from tinylm.core.schema import RETIRED
from tinylm.machine import compiling
from tinylm.machine.device import default_threads, native_dtype, torch_device
from tinylm.machine.memory import usable_cpus
from tinylm.measured import (
    COMPILE_MIN_BUDGET_S,
    NARROW_WIDTH,
    VALUE_EMBEDS_FROM_S,
    WIDE_FROM_S,
    WIDE_WIDTH,
)

# a model built outside any run (`GPT(ModelConfig())`) takes the shape a one-minute run gives
UNTIMED_BUDGET_S = 60.0


@dataclass
class RunSpec:
    """The three configs of one run. Any of their settings may say "auto"."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    @classmethod
    def from_settings(cls, settings: dict) -> RunSpec:
        """A spec from one flat {setting: value} dict (a recipe, CLI flags, a stored run); the
        model's vocabulary follows the data's unless given. Unknown names: ValueError."""
        names = {part: {f.name for f in dataclasses.fields(kind)}
                 for part, kind in (("data", DataConfig), ("model", ModelConfig),
                                    ("train", TrainConfig))}
        unknown = set(settings) - set().union(*names.values())
        if unknown & set(RETIRED):
            raise ValueError(f"{', '.join(sorted(unknown & set(RETIRED)))}: measured and retired "
                             "(benchmarks/LOG.md says why); drop the setting")
        if unknown:
            raise ValueError(f"unknown setting(s) {', '.join(sorted(unknown))}; "
                             "`python -m tinylm train --help` lists them")
        data = DataConfig(**{k: v for k, v in settings.items() if k in names["data"]})
        model = {k: v for k, v in settings.items() if k in names["model"]}
        model.setdefault("vocab_size", data.vocab_size)
        return cls(data, ModelConfig(**model),
                   TrainConfig(**{k: v for k, v in settings.items() if k in names["train"]}))

    def settings(self) -> dict:
        """Every setting as one flat dict (stored beside each benchmark run's results)."""
        return {**dataclasses.asdict(self.data), **dataclasses.asdict(self.model),
                **dataclasses.asdict(self.train), "vocab_size": self.data.vocab_size}

    def validate(self) -> RunSpec:
        """ValueError naming the setting and a fix, before any expensive work."""
        self.data.validate()
        self.model.validate()
        self.train.validate()
        return self


@dataclass
class Resolved:
    """A spec with no "auto" left, and what the run needs in torch's own terms."""

    spec: RunSpec
    device: torch.device
    dtype: torch.dtype
    compile: bool
    threads: int
    device_how: str  # "asked for", "measured" (the fastest here) or "default" (CUDA, else CPU)
    compile_notice: str | None = None  # why a run that would compile trains eager (fixable)


def resolve(spec: RunSpec, choose_device: Callable[[TrainConfig], str] | None = None,
            workers: int = 1) -> Resolved:
    """Every "auto" of `spec` made concrete; the only function that decides one.

    - device: `choose_device(train)` (the measured fastest), else CUDA if there is one, else CPU;
    - dtype: bf16 where the device runs it natively, else fp32;
    - compile: for budgets long enough to repay it (`measured.COMPILE_MIN_BUDGET_S`), where a
      compiler works, never on MPS or for `workers` > 1 processes;
    - threads: one per usable core, shared among `workers` processes on one machine;
    - head: adaptive on a CPU computing in fp32 (there fp32 matmuls are the step's cost), full
      elsewhere (study: avx2-head-300s and recipe2-300s);
    - width and value tables: by the budget (studies: sizes3-60s, width2-200s, recipe3-*);
    - the n-gram memory: off for the families without a transformer's forward to mix it in.
    """
    spec.validate()
    model, train = spec.model, spec.train
    name, how = train.device, "asked for"
    if name == "auto":
        name = choose_device(train) if choose_device else None
        how = "measured" if name else "default"
        name = name or ("cuda" if torch.cuda.is_available() else "cpu")
    device = torch_device(name)
    dtype = native_dtype(device) if train.dtype == "auto" else getattr(torch, train.dtype)
    compiles, notice = False, None
    if train.compile != "off":
        problem = compiling.compile_problem(device.type)
        wanted = train.compile == "on" or (  # "auto": when the budget repays it
            workers == 1 and train.budget_s >= COMPILE_MIN_BUDGET_S and device.type != "mps")
        compiles = wanted and problem is None
        notice = compiling.notice(problem) if wanted and problem else None  # a fixable reason
    threads = train.threads or (max(1, usable_cpus() // workers) if workers > 1
                                else default_threads())
    gpt_budget = train.budget_s if model.family == "gpt" else 0.0
    if model.head == "auto":
        adaptive = device.type == "cpu" and dtype == torch.float32 and not model.tie_embeddings
        model = replace(model, head="adaptive" if adaptive else "full")
    if model.width == "auto":
        model = replace(model, width=WIDE_WIDTH if gpt_budget >= WIDE_FROM_S else NARROW_WIDTH)
    if model.value_embeds == "auto":
        model = replace(model, value_embeds=gpt_budget >= VALUE_EMBEDS_FROM_S)
    if model.family != "gpt" and model.ngram_order:  # the memory lives in the transformer
        model = replace(model, ngram_order=0)
    train = replace(train, device=str(device), dtype=str(dtype).removeprefix("torch."),
                    compile="on" if compiles else "off", threads=threads)
    return Resolved(RunSpec(spec.data, model, train), device, dtype, compiles, threads, how,
                    notice)


def resolve_model(model: ModelConfig, budget_s: float = UNTIMED_BUDGET_S) -> ModelConfig:
    """`model` as `resolve` decides it for a run of `budget_s` seconds on this machine's default
    device (what a model built on its own, or a stored study's "auto", turns into)."""
    train = TrainConfig(budget_s=budget_s, compile="off", threads=1)
    return resolve(RunSpec(model=model, train=train)).spec.model
