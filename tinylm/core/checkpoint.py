"""Checkpoint folders that survive crashes, full disks and strangers, and cannot run code.

A folder holds `checkpoint.json` (configs, file names and their sha256), the weights as
safetensors, optional resume state (`state-N.pt`, loaded with `weights_only=True`),
`tokenizer.json` and `metrics.json`. Every file is written under a temporary name and renamed;
`checkpoint.json` is renamed last and names the files it belongs to, so a crash or a failed
write at any moment leaves the previous checkpoint loadable (`folder.Transaction`). Loading
reads only files inside the folder with names tinylm writes, checked by hash (`folder.verify`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import load_model, save_model
from tokenizers import Tokenizer

from tinylm.core.folder import CheckpointError, SaveError, Transaction, atomic_write, member, sha256, verify
from tinylm.core.models import LanguageModel, ModelConfig, build_model, param_count
from tinylm.core.schema import upgrade

FORMAT = "tinylm-checkpoint"
FORMAT_VERSION = 1
__all__ = ["Checkpoint", "CheckpointError", "SaveError", "load", "restore_training", "save",
           "training_state"]


@dataclass
class Checkpoint:
    model: torch.nn.Module
    tokenizer: Tokenizer
    model_config: ModelConfig
    info: dict  # checkpoint.json: train/data configs, status, versions
    metrics: dict = field(default_factory=dict)
    path: Path | None = None
    verified: bool = True  # False when loaded with verify=False

    def resume_state(self) -> dict | None:
        """Optimizer, RNG and progress state of an unfinished run, or None."""
        name = self.info.get("state")
        if not name:
            return None
        f = verify(self.path, name, self.info.get("state_sha256"), self.verified, "state")
        try:
            return torch.load(f, weights_only=True, map_location="cpu")
        except Exception as e:
            raise CheckpointError(f"{f}: cannot read the resume state "
                                  f"({type(e).__name__}); it is corrupted") from None


def save(path: str | Path, model: LanguageModel, tokenizer: Tokenizer, info: dict,
         metrics: dict | None = None, state: dict | None = None) -> Path:
    """Write a checkpoint; `info` is stored in checkpoint.json (configs, status, ...).

    Raises SaveError (one line: the folder and the cause) when the folder cannot be written;
    then no new file is left in it and its previous checkpoint still loads."""
    path = Path(path)
    with Transaction(path) as t:
        path.mkdir(parents=True, exist_ok=True)
        old = _read_index(path) if (path / "checkpoint.json").exists() else {}
        n = int(old.get("serial", 0)) + 1
        index = {**info, "format": FORMAT, "format_version": FORMAT_VERSION, "serial": n,
                 "model_config": model.cfg.to_dict()}
        weights = f"weights-{n}.safetensors"
        tmp = t.tmp(weights)
        save_model(model, str(tmp))
        index.update(weights=weights, weights_sha256=sha256(t.publish(tmp, weights)))
        if state is not None:
            name = f"state-{n}.pt"
            tmp = t.tmp(name)
            torch.save(state, tmp)
            index.update(state=name, state_sha256=sha256(t.publish(tmp, name)))
        atomic_write(path / "tokenizer.json", tokenizer.to_str())
        index["tokenizer_sha256"] = sha256(path / "tokenizer.json")
        atomic_write(path / "checkpoint.json", json.dumps(index, indent=1))  # the commit point
        t.committed()
        if metrics is not None:
            atomic_write(path / "metrics.json", json.dumps(metrics, indent=1))
    for f in path.glob("*-*.*"):  # files of older checkpoints
        if f.name.startswith(("weights-", "state-")) and f.name not in (weights, index.get("state")):
            f.unlink(missing_ok=True)
    return path


def load(path: str | Path, device: str | torch.device = "cpu", verify: bool = True) -> Checkpoint:
    """Load a checkpoint folder, checking format, file names, hashes, config and tokenizer.

    A folder whose checkpoint.json records no hashes is refused unless `verify=False` (only
    for folders you trust: nothing then proves the files are the ones that were saved)."""
    path = Path(path)
    if not path.is_dir():
        raise CheckpointError(f"no checkpoint folder at {path}; train one with "
                              "`python -m tinylm train --out DIR`")
    index = _read_index(path)
    try:
        cfg = ModelConfig(**upgrade(index["model_config"]))  # older files name other fields
        cfg.validate()
    except (TypeError, ValueError, KeyError, AttributeError) as e:
        raise CheckpointError(f"{path}: model config is incompatible with this tinylm ({e})") from None
    weights = _verified(path, index["weights"], index.get("weights_sha256"), verify, "weights")
    tokenizer = _tokenizer(_verified(path, "tokenizer.json", index.get("tokenizer_sha256"), verify))
    if tokenizer.get_vocab_size() != cfg.vocab_size:
        raise CheckpointError(f"{path}: tokenizer has {tokenizer.get_vocab_size()} tokens but the "
                              f"model expects {cfg.vocab_size}; the folder mixes two runs")
    if weights.stat().st_size < 2 * param_count(cfg):  # before allocating a stranger's config
        raise CheckpointError(f"{weights}: too small for the model config in checkpoint.json; "
                              "the folder mixes two runs or the file is truncated")
    model = build_model(cfg)
    try:
        if getattr(model, "ngram", None) is not None:  # its tables' sizes depend on the text
            with safe_open(str(weights), "pt") as f:
                model.ngram.resize({k.removeprefix("ngram."): (f.get_slice(k).get_shape(),
                                                               f.get_slice(k).get_dtype())
                                    for k in f.keys() if k.startswith("ngram.")})
        load_model(model, str(weights), strict=True, device=str(device))
    except Exception as e:
        raise CheckpointError(f"{path}: weights do not match the model config "
                              f"({str(e).splitlines()[0][:200]})") from None
    model.to(device).eval()
    return Checkpoint(model, tokenizer, cfg, index, _metrics(path), path, verify)


def _verified(path: Path, name, expected, check: bool, kind: str | None = None) -> Path:
    try:
        return verify(path, name, expected, check, kind)
    except (TypeError, OSError) as e:  # a name that is no file name at all, an unreadable file
        raise CheckpointError(f"{path}: cannot read {name!r} ({type(e).__name__})") from None


def _tokenizer(f: Path) -> Tokenizer:
    try:
        return Tokenizer.from_file(str(f))
    except Exception as e:
        raise CheckpointError(f"{f}: not a tokenizer file ({type(e).__name__})") from None


def _metrics(path: Path) -> dict:
    f = member(path, "metrics.json")
    try:
        metrics = json.loads(f.read_text()) if f.is_file() else {}
    except (json.JSONDecodeError, UnicodeDecodeError, OSError):
        metrics = {}
    return metrics if isinstance(metrics, dict) else {}


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
    weights = ckpt.model.state_dict()
    if "ngram.mix" in weights:  # training goes on: the memory's mixing weights are refitted
        weights["ngram.mix"] = torch.zeros(0)
    try:
        model.load_state_dict(weights)
    except RuntimeError as e:  # an n-gram memory counted from other text
        raise CheckpointError(f"{path}: its weights do not fit this run's model "
                              f"({str(e).splitlines()[-1].strip()[:160]}); resume with the same "
                              "data and settings") from None
    try:
        optimizer.load_state_dict(state["optimizer"])
    except (ValueError, KeyError) as e:  # other parameter groups or optimizer: older tinylm
        raise CheckpointError(f"{path}: its optimizer state does not fit this version of tinylm "
                              f"({e}); start a new run, or sample from it instead") from None
    torch.set_rng_state(state["torch_rng"])
    rng = state["batches"]["rng"]
    batches.load_state_dict({"rng": {**rng, "state": {k: int(v) for k, v in rng["state"].items()}}})
    return {k: state[k] for k in ("elapsed_s", "tokens", "step", "history")}


def _read_index(path: Path) -> dict:
    f = member(path, "checkpoint.json")
    if not f.exists():
        raise CheckpointError(f"{path}: no checkpoint.json; this is not a tinylm checkpoint "
                              "folder (or its first save never finished)")
    try:
        index = json.loads(f.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
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
