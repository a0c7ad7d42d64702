import json
import os

import pytest

from tinylm.core import checkpoint, folder
from tinylm.core.checkpoint import CheckpointError, load
from tinylm.core.models import GPT
from tinylm.runs.train import train


@pytest.fixture()
def saved(small_data, tiny_model_cfg, fast_cfg, tmp_path):
    cfg = fast_cfg(budget_s=1.0, final_eval_tokens=2048)
    train(small_data, tiny_model_cfg, cfg, out_dir=tmp_path / "ck", progress=False)
    return tmp_path / "ck"


def weights(path):
    return path / json.loads((path / "checkpoint.json").read_text())["weights"]


def test_missing_folder():
    with pytest.raises(CheckpointError, match="no checkpoint folder"):
        load("/nonexistent/run")


def test_truncated_weights(saved):
    w = weights(saved)
    w.write_bytes(w.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match="truncated or corrupted"):
        load(saved)


def test_corrupted_index(saved):
    (saved / "checkpoint.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="corrupted"):
        load(saved)


def test_newer_format_version(saved):
    index = json.loads((saved / "checkpoint.json").read_text())
    index["format_version"] = 99
    (saved / "checkpoint.json").write_text(json.dumps(index))
    with pytest.raises(CheckpointError, match="newer than this tinylm"):
        load(saved)


def test_incompatible_config(saved):
    index = json.loads((saved / "checkpoint.json").read_text())
    index["model_config"]["width"] = 16
    (saved / "checkpoint.json").write_text(json.dumps(index))
    with pytest.raises(CheckpointError, match="weights do not match"):
        load(saved)
    index["model_config"]["width"] = 256  # a bigger model than the file holds: never built
    (saved / "checkpoint.json").write_text(json.dumps(index))
    with pytest.raises(CheckpointError, match="too small for the model config"):
        load(saved)
    index["model_config"]["colour"] = "red"
    (saved / "checkpoint.json").write_text(json.dumps(index))
    with pytest.raises(CheckpointError, match="incompatible"):
        load(saved)
    for not_a_config in ("weights-1.safetensors", ["width", 16], 7, None):
        index["model_config"] = not_a_config
        (saved / "checkpoint.json").write_text(json.dumps(index))
        with pytest.raises(CheckpointError, match="incompatible"):
            load(saved)


def test_mismatched_tokenizer(saved, small_data):
    from tinylm.core.data import train_tokenizer

    other = train_tokenizer(["a b c"] * 10, 256)
    other.save(str(saved / "tokenizer.json"))
    index = json.loads((saved / "checkpoint.json").read_text())
    index["tokenizer_sha256"] = checkpoint.sha256(saved / "tokenizer.json")
    (saved / "checkpoint.json").write_text(json.dumps(index))
    with pytest.raises(CheckpointError, match="tokenizer has 257 tokens"):
        load(saved)


def test_crash_while_saving_keeps_the_previous_checkpoint(saved, small_data, tiny_model_cfg,
                                                           monkeypatch):
    before = load(saved)
    real_replace = os.replace

    def crash_on_commit(src, dst):
        if str(dst).endswith("checkpoint.json"):
            raise OSError("disk pulled out")
        real_replace(src, dst)

    monkeypatch.setattr(folder.os, "replace", crash_on_commit)
    with pytest.raises(checkpoint.SaveError, match="disk pulled out"):
        checkpoint.save(saved, GPT(tiny_model_cfg), small_data.tokenizer, {"status": "x"})
    monkeypatch.undo()
    assert not [f for f in saved.iterdir() if f.name.endswith(".tmp")]  # nothing left behind
    assert sorted(f.name for f in saved.glob("weights-*")) == [before.info["weights"]]
    after = load(saved)
    for p, q in zip(before.model.parameters(), after.model.parameters()):
        assert (p == q).all()
