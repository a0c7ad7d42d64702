"""tinylm: the strongest language model you can train in five minutes on a laptop."""

import os as _os

# Idle OpenMP threads yield instead of spinning: on a busy 2-core laptop, spinning threads
# made training several times slower. Must be set before torch starts its thread pool.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from .checkpoint import Checkpoint, CheckpointError, load, save  # noqa: E402
from .corpus import DataError, load_corpus  # noqa: E402
from .data import DataConfig, TokenData, prepare  # noqa: E402
from .evaluate import evaluate  # noqa: E402
from .models import GPT, ModelConfig  # noqa: E402
from .sample import generate, stream  # noqa: E402
from .train import TrainConfig, TrainResult, train  # noqa: E402
from .version import __version__  # noqa: E402

__all__ = [
    "Checkpoint", "CheckpointError", "DataConfig", "DataError", "GPT", "ModelConfig",
    "TokenData", "TrainConfig", "TrainResult", "evaluate", "generate", "load", "load_corpus",
    "prepare", "save", "stream", "train", "__version__",
]
