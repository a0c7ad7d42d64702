"""Checkpoint folders that survive crashes and cannot run code when loaded.

A folder holds `checkpoint.json` (configs, file names and their sha256), the weights as
safetensors, optional resume state (`state-N.pt`, loaded with `weights_only=True`),
`tokenizer.json` and `metrics.json`. Every file is written under a temporary name and renamed;
`checkpoint.json` is renamed last and names the files it belongs to, so a crash at any moment
leaves the previous checkpoint loadable. Hashes catch truncated or corrupted files.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors.torch import load_model, save_model
from tokenizers import Tokenizer

from .models import LanguageModel, ModelConfig, build_model

FORMAT = "tinylm-checkpoint"
FORMAT_VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint folder that cannot be used; the message says why and what to do."""


@dataclass
class Checkpoint:
    model: torch.nn.Module
    tokenizer: Tokenizer
    model_config: ModelConfig
    info: dict  # checkpoint.json: train/data configs, status, versions
    metrics: dict = field(default_factory=dict)
    path: Path | None = None

    def resume_state(self) -> dict | None:
        """Optimizer, RNG and progress state of an unfinished run, or None."""
        name = self.info.get("state")
        if not name:
            return None
        _verify(self.path, name, self.info.get("state_sha256"))
        try:
            return torch.load(self.path / name, weights_only=True, map_location="cpu")
        except Exception as e:
            raise CheckpointError(f"{self.path / name}: cannot read the resume state "
                                  f"({type(e).__name__}); it is corrupted") from None


def atomic_write(path: Path, data: bytes | str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def save(path: str | Path, model: LanguageModel, tokenizer: Tokenizer, info: dict,
         metrics: dict | None = None, state: dict | None = None) -> Path:
    """Write a checkpoint; `info` is stored in checkpoint.json (configs, status, ...)."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    old = _read_index(path) if (path / "checkpoint.json").exists() else {}
    n = int(old.get("serial", 0)) + 1
    index = {**info, "format": FORMAT, "format_version": FORMAT_VERSION, "serial": n,
             "model_config": model.cfg.to_dict()}

    weights = f"weights-{n}.safetensors"
    tmp = path / f".{weights}.{os.getpid()}.tmp"
    save_model(model, str(tmp))
    os.replace(tmp, path / weights)
    index.update(weights=weights, weights_sha256=sha256(path / weights))
    if state is not None:
        name = f"state-{n}.pt"
        tmp = path / f".{name}.{os.getpid()}.tmp"
        torch.save(state, tmp)
        os.replace(tmp, path / name)
        index.update(state=name, state_sha256=sha256(path / name))
    atomic_write(path / "tokenizer.json", tokenizer.to_str())
    index["tokenizer_sha256"] = sha256(path / "tokenizer.json")
    atomic_write(path / "checkpoint.json", json.dumps(index, indent=1))  # the commit point
    if metrics is not None:
        atomic_write(path / "metrics.json", json.dumps(metrics, indent=1))
    for f in path.glob("*-*.*"):  # files of older checkpoints
        if f.name.startswith(("weights-", "state-")) and f.name not in (weights, index.get("state")):
            f.unlink(missing_ok=True)
    return path


def load(path: str | Path, device: str | torch.device = "cpu") -> Checkpoint:
    """Load a checkpoint folder, checking format, hashes, config and tokenizer."""
    path = Path(path)
    if not path.is_dir():
        raise CheckpointError(f"no checkpoint folder at {path}; train one with "
                              "`python -m tinylm train --out DIR`")
    index = _read_index(path)
    try:
        cfg = ModelConfig(**index["model_config"])
        cfg.validate()
    except (TypeError, ValueError, KeyError) as e:
        raise CheckpointError(f"{path}: model config is incompatible with this tinylm ({e})") from None
    _verify(path, index["weights"], index.get("weights_sha256"))
    _verify(path, "tokenizer.json", index.get("tokenizer_sha256"))
    tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
    if tokenizer.get_vocab_size() != cfg.vocab_size:
        raise CheckpointError(f"{path}: tokenizer has {tokenizer.get_vocab_size()} tokens but the "
                              f"model expects {cfg.vocab_size}; the folder mixes two runs")
    model = build_model(cfg)
    try:
        load_model(model, str(path / index["weights"]), strict=True, device=str(device))
    except Exception as e:
        raise CheckpointError(f"{path}: weights do not match the model config "
                              f"({str(e).splitlines()[0][:200]})") from None
    model.to(device).eval()
    metrics = {}
    if (path / "metrics.json").exists():
        try:
            metrics = json.loads((path / "metrics.json").read_text())
        except json.JSONDecodeError:
            metrics = {}
    return Checkpoint(model, tokenizer, cfg, index, metrics, path)


def training_state(optimizer, batches, **progress) -> dict:
    """An unfinished run's resume state (optimizer, RNGs, and `progress`: elapsed_s, tokens,
    step, history), in types `torch.load(weights_only=True)` accepts."""
    rng = batches.state_dict()["rng"]
    return {"optimizer": optimizer.state_dict(), "torch_rng": torch.get_rng_state(),
            "batches": {"rng": {**rng, "state": {k: str(v) for k, v in rng["state"].items()}}},
            **progress}


def restore_training(path: Path, model, optimizer, batches) -> dict:
    """Load an unfinished run from `path` into a freshly built model, optimizer and batches;
    returns its progress (elapsed_s, tokens, step, history)."""
    ckpt = load(path)
    state = ckpt.resume_state()
    if state is None:
        raise CheckpointError(f"{path}: this run finished ({ckpt.info.get('status')}); there is "
                              "nothing to resume. Train a new run instead")
    if ckpt.model_config != model.cfg:
        raise CheckpointError(f"{path}: the checkpoint's model config differs from this run's; "
                              "resume with the same settings (the CLI reads them from the folder)")
    model.load_state_dict(ckpt.model.state_dict())
    optimizer.load_state_dict(state["optimizer"])
    torch.set_rng_state(state["torch_rng"])
    rng = state["batches"]["rng"]
    batches.load_state_dict({"rng": {**rng, "state": {k: int(v) for k, v in rng["state"].items()}}})
    return {k: state[k] for k in ("elapsed_s", "tokens", "step", "history")}


def _read_index(path: Path) -> dict:
    f = path / "checkpoint.json"
    if not f.exists():
        raise CheckpointError(f"{path}: no checkpoint.json; this is not a tinylm checkpoint "
                              "folder (or its first save never finished)")
    try:
        index = json.loads(f.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise CheckpointError(f"{f}: corrupted (not valid JSON)") from None
    if not isinstance(index, dict) or index.get("format") != FORMAT:
        raise CheckpointError(f"{f}: not a tinylm checkpoint")
    version = index.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise CheckpointError(f"{path}: checkpoint format version {version} is newer than this "
                              f"tinylm reads ({FORMAT_VERSION}); upgrade tinylm")
    if "weights" not in index:
        raise CheckpointError(f"{f}: names no weights file")
    return index


def _verify(path: Path, name: str, expected: str | None) -> None:
    f = path / name
    if not f.exists():
        raise CheckpointError(f"{path}: missing {name}; the checkpoint is incomplete")
    if expected and sha256(f) != expected:
        raise CheckpointError(f"{f}: contents do not match the recorded sha256 (truncated or "
                              "corrupted); retrain or restore the folder from a copy")
