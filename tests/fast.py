"""The one fast configuration every test uses: a 1 MB slice of TinyStories at vocabulary 512, a
32-wide model, eager CPU training on one thread. In Python (the fixtures in conftest.py) and as
command-line flags (the CLI and torchrun tests) from the same values."""

SMALL_DATA = dict(corpus="tinystories", vocab_size=512, max_train_bytes=1_000_000,
                  max_val_bytes=60_000)
TINY_MODEL = dict(context=64, width=32, layers=2, heads=2)
FAST_TRAIN = dict(batch_size=8, lr=3e-3, device="cpu", compile="off", threads=1,
                  final_eval_tokens=8192)
FLAG_NAMES = {"vocab_size": "vocab"}


def flags(settings: dict) -> list[str]:
    """`{"max_train_bytes": 10}` -> `["--max-train-bytes", "10"]`, as `python -m tinylm` reads."""
    out = []
    for key, value in settings.items():
        out += ["--" + FLAG_NAMES.get(key, key.replace("_", "-")), str(value)]
    return out


SMALL = flags(SMALL_DATA)
TINY_MODEL_FLAGS = flags(TINY_MODEL)
