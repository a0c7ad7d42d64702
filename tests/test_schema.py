"""Stored settings of older runs and checkpoints under today's configs (`tinylm.core.schema`):
settings added later read as the value in effect before them, retired options that were off
are dropped, and one that was on is refused by name; old checkpoint folders still load."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch

import tinylm
from tinylm.core.checkpoint import CheckpointError
from tinylm.core.data import DataConfig
from tinylm.core.models import ModelConfig
from tinylm.core.schedule import TrainConfig
from tinylm.core.schema import ADDED, RETIRED, SCHEMA_VERSION, retired_in_use, upgrade
from tinylm.core.spec import RunSpec

CONFIG_FIELDS = {f.name for cls in (DataConfig, ModelConfig, TrainConfig)
                 for f in dataclasses.fields(cls)}


def test_added_and_retired_name_todays_and_yesterdays_settings():
    assert SCHEMA_VERSION >= 2  # version 2 dropped the retired options from the configs
    assert set(ADDED) <= CONFIG_FIELDS  # back-filled settings are today's fields
    assert not set(RETIRED) & CONFIG_FIELDS  # retired ones are gone from the configs
    assert {"bigram_buckets", "story_starts", "ema_decay", "muon_momentum_warmup_frac",
            "embed_lr_scale", "head_lr_scale"} == set(RETIRED)


def test_upgrade_back_fills_settings_added_later():
    assert upgrade({}) == ADDED  # stored before any of them existed: the values then
    assert upgrade({"width": 96})["head"] == "full"  # whatever today's default is
    kept = upgrade({"head": "adaptive", "smear": True, "lr": 0.002})
    assert kept["head"] == "adaptive" and kept["smear"] is True and kept["lr"] == 0.002


def test_upgrade_drops_retired_options_that_were_off():
    stored = {"width": 96, **RETIRED}  # every retired option at its "off" value
    assert upgrade(stored) == {**ADDED, "width": 96}
    assert retired_in_use(stored) == {}
    assert RunSpec.from_settings(upgrade(stored)).model.width == 96  # and then it runs


@pytest.mark.parametrize("name,value", [("bigram_buckets", 64), ("story_starts", True),
                                        ("ema_decay", 0.99), ("muon_momentum_warmup_frac", 0.2),
                                        ("embed_lr_scale", 10.0), ("head_lr_scale", 0.5)])
def test_upgrade_refuses_a_retired_option_that_was_on(name, value):
    assert retired_in_use({name: value, "width": 96}) == {name: value}
    with pytest.raises(ValueError, match=f"retired \\({name}={value}\\)"):
        upgrade({name: value, "width": 96})


def test_a_spec_refuses_a_retired_setting_by_name():
    with pytest.raises(ValueError, match="ema_decay: measured and retired"):
        RunSpec.from_settings({"ema_decay": 0.99})
    with pytest.raises(ValueError, match="retired"):  # even off: drop it, or upgrade() first
        RunSpec.from_settings({"bigram_buckets": 0, "width": 64})
    with pytest.raises(ValueError, match="unknown setting.*colour"):  # not retired: unknown
        RunSpec.from_settings({"colour": "red"})


@pytest.fixture()
def saved(small_data, tiny_model_cfg, fast_cfg, tmp_path):
    tinylm.train(small_data, tiny_model_cfg, fast_cfg(steps=2), out_dir=tmp_path / "ck",
                 progress=False)
    return tmp_path / "ck"


def rewrite_model_config(path, **changes) -> None:
    index = json.loads((path / "checkpoint.json").read_text())
    index["model_config"].update(changes)
    (path / "checkpoint.json").write_text(json.dumps(index))


def test_a_checkpoint_written_with_a_retired_option_off_still_loads(saved):
    before = tinylm.load(saved)
    rewrite_model_config(saved, bigram_buckets=0)  # as tinylm wrote it while the option existed
    after = tinylm.load(saved)
    assert after.model_config == before.model_config
    assert not hasattr(after.model_config, "bigram_buckets")
    for (name, p), q in zip(before.model.state_dict().items(), after.model.state_dict().values()):
        assert torch.equal(p, q), name


def test_a_checkpoint_that_used_a_retired_option_is_refused_by_name(saved):
    rewrite_model_config(saved, bigram_buckets=64)
    with pytest.raises(CheckpointError, match=r"incompatible.*retired \(bigram_buckets=64\)"):
        tinylm.load(saved)
