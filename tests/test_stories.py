"""The sample measures: repeated 4-grams, distinct-n and bits per byte under a reference model."""

from __future__ import annotations

import math

import pytest
import torch

from tinylm.core.data import token_byte_lengths
from tinylm.core.models import ModelConfig, build_model
from tinylm.core.stories import distinct_n, reference_bpb, repeated_4grams, story_scores, words


def test_words_split_punctuation_and_ignore_case():
    assert words('Tom said, "Hi!"') == ["tom", "said", ",", '"', "hi", "!", '"']


def test_repeated_4grams_counts_loops_not_fresh_text():
    assert repeated_4grams("the cat sat on the mat and then it slept") == 0.0
    loop = "the dog ran home . " * 4  # 20 words, 17 4-grams, the first 5 new
    assert repeated_4grams(loop) == pytest.approx(12 / 17)
    assert repeated_4grams("too short") == 0.0


def test_distinct_n_pools_the_samples():
    assert distinct_n(["a b c", "a b d"], 2) == pytest.approx(3 / 4)  # (a b) twice
    assert distinct_n(["a b c", "x y z"], 2) == 1.0
    assert distinct_n(["a"], 2) == 0.0


def test_story_scores_gives_every_measure():
    scores = story_scores(["Once upon a time there was a cat.", "The cat was happy."])
    assert set(scores) == {"repeated_4grams", "distinct_2", "distinct_3", "samples"}
    assert scores["samples"] == 2 and 0 < scores["distinct_2"] <= 1


def test_reference_bpb_matches_the_models_own_loss(small_data):
    torch.manual_seed(0)
    model = build_model(ModelConfig(vocab_size=small_data.vocab_size, context=64, width=32,
                                    layers=1, heads=2, head="full"))
    text = "Once upon a time, there was a little girl named Lily. She liked to play."
    ids = small_data.tokenizer.encode(text).ids
    token_bytes = token_byte_lengths(small_data.tokenizer)
    x = torch.tensor([ids])
    with torch.no_grad():
        nats = model.nll(x[:, :-1], x[:, 1:]).item()
    expected = nats / math.log(2) / sum(int(token_bytes[i]) for i in ids[1:])
    assert reference_bpb(model, small_data.tokenizer, [text], token_bytes) == pytest.approx(expected)
    assert math.isnan(reference_bpb(model, small_data.tokenizer, [""], token_bytes))


def test_the_reference_scores_a_studys_stored_stories(small_data, fast_cfg, tmp_path,
                                                     monkeypatch):
    import json

    import tinylm
    from benchmarks.story_reference import main, score_study

    model = ModelConfig(vocab_size=small_data.vocab_size, context=64, width=32, layers=1, heads=2)
    tinylm.train(small_data, model, fast_cfg(steps=3), out_dir=tmp_path / "ref", progress=False)
    study = tmp_path / "study"
    study.mkdir()
    stories = {"texts": ["Once upon a time, a cat.", "Once upon a time, a dog."]}
    runs = [{"recipe": "a", "stories": stories}, {"recipe": "b", "sample": {"text": "Once."}}]
    (study / "runs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in runs))
    out = score_study("study", tmp_path / "ref", study)
    ckpt = tinylm.load(tmp_path / "ref")
    expected = reference_bpb(ckpt.model, ckpt.tokenizer, stories["texts"],
                             token_byte_lengths(ckpt.tokenizer))
    assert out["rows"][0] == {"recipe": "a", "reference_bpb": pytest.approx(expected), "runs": 1}
    assert json.loads((study / "story_reference.json").read_text())["rows"][1]["recipe"] == "b"
    # the book's table: each recipe's stored scores beside val_bpb and the reference's verdict
    from tinylm.lab.results import read_study
    from tinylm.lab.story_measures import reference_val_bpb, story_rows, story_sentence

    (study / "summary.json").write_text(json.dumps({"rows": [
        {"recipe": "a", "val_bpb": 1.5, "repeated_4grams": 0.1, "distinct_2": 0.8},
        {"recipe": "b", "val_bpb": 1.6}]}))  # b stored no stories: no row
    monkeypatch.setenv("TINYLM_RESULTS_DIR", str(tmp_path))
    rows = story_rows(read_study(study))
    assert rows == [{"recipe": "a", "val_bpb": 1.5, "repeated_4grams": 0.1, "distinct_2": 0.8,
                     "reference_bpb": pytest.approx(expected)}]
    assert reference_val_bpb(read_study(study)) == ckpt.metrics["val_bpb"]
    assert story_sentence(read_study(study), "a", "b") == ""  # b stored no story scores
    (study / "summary.json").write_text(json.dumps({"rows": [
        {"recipe": "a", "val_bpb": 1.5, "repeated_4grams": 0.1, "distinct_2": 0.8},
        {"recipe": "b", "val_bpb": 1.6, "repeated_4grams": 0.2, "distinct_2": 0.5}]}))
    sentence = " ".join(story_sentence(read_study(study), "a", "b").split())  # unwrapped
    assert "repeat 10.0% of their word 4-grams (against 20.0%)" in sentence
    assert f"{expected:.3f} bits per byte" in sentence
    with pytest.raises(SystemExit) as stop:
        main(["score", "study", "--reference", str(tmp_path / "none"), "--results", str(study)])
    assert stop.value.code == 2  # no reference yet: one line saying how to train it
