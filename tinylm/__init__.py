"""tinylm: the strongest language model you can train in five minutes on a laptop.

`import tinylm` only chooses how OpenMP's idle threads wait, which must happen before torch
loads (see `tinylm.machine.openmp`); everything else loads when first used.
"""

import importlib

from tinylm.machine import openmp as _openmp
from tinylm.version import __version__

_openmp.choose_wait()

_EXPORTS = {  # name -> the module that defines it
    "Checkpoint": "tinylm.core.checkpoint", "CheckpointError": "tinylm.core.checkpoint",
    "load": "tinylm.core.checkpoint", "save": "tinylm.core.checkpoint",
    "DataError": "tinylm.core.corpus", "load_corpus": "tinylm.core.corpus",
    "DataConfig": "tinylm.core.data", "TokenData": "tinylm.core.data",
    "prepare": "tinylm.core.data", "evaluate": "tinylm.core.evaluate",
    "GPT": "tinylm.core.models", "ModelConfig": "tinylm.core.models",
    "generate": "tinylm.core.sample", "stream": "tinylm.core.sample",
    "TrainConfig": "tinylm.core.schedule", "RunSpec": "tinylm.core.spec",
    "resolve": "tinylm.core.spec", "resolve_model": "tinylm.core.spec",
    "TrainResult": "tinylm.runs.result", "train": "tinylm.runs.train",
}
__all__ = [*_EXPORTS, "__version__"]


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'tinylm' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value  # loaded once
    return value


def __dir__():
    return sorted(__all__)
