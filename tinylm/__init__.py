"""tinylm: the strongest language model you can train in five minutes on a laptop."""

from . import openmp as _openmp

# How idle OpenMP threads wait (spin briefly on a quiet machine, sleep on a busy one): OpenMP
# reads it once, when torch loads it, so it is chosen before anything imports torch.
_openmp.choose_wait()

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
