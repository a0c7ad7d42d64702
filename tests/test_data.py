import gzip
import json
import time

import numpy as np
import pytest
import torch

import tinylm
from tinylm.core.corpus import DataError, load_corpus, split_documents
from tinylm.core.data import DataConfig, prepare, token_byte_lengths, train_tokenizer, val_windows


def test_shared_tinystories_loads_with_its_documents():
    c = load_corpus("tinystories", max_train_bytes=None, max_val_bytes=None)
    assert len(c.validation) == 871
    assert len(c.train) == 22378
    assert all("<|endoftext|>" not in d for d in c.validation[:50])


def test_train_cap_keeps_whole_documents():
    c = load_corpus("tinystories", max_train_bytes=100_000)
    size = sum(len(d.encode()) for d in c.train)
    assert 90_000 < size <= 100_000


def test_split_documents_on_separator_or_blank_lines():
    assert split_documents("a\nb\n<|endoftext|>\nc\n<|endoftext|>\n") == ["a\nb", "c"]
    assert split_documents("one\n\ntwo\n \nthree") == ["one", "two", "three"]


def test_local_txt_file_holds_out_validation(tmp_path):
    f = tmp_path / "stories.txt"
    f.write_text("\n\n".join(f"story number {i}" for i in range(40)))
    c = load_corpus(str(f))
    assert len(c.train) == 38 and len(c.validation) == 2
    assert c.validation[-1] == "story number 39"


def test_jsonl_and_parquet(tmp_path):
    rows = [{"text": f"doc {i}"} for i in range(30)]
    (tmp_path / "a.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    assert len(load_corpus(str(tmp_path / "a.jsonl")).train) == 28
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"text": [r["text"] for r in rows]}), tmp_path / "b.parquet")
    assert len(load_corpus(str(tmp_path / "b.parquet")).train) == 28
    pq.write_table(pa.table({"body": ["x"] * 3}), tmp_path / "c.parquet")
    with pytest.raises(DataError, match=r"c\.parquet.*no 'text' column"):
        load_corpus(str(tmp_path / "c.parquet"))
    (tmp_path / "d.jsonl").write_text('{"body": "x"}\n')
    with pytest.raises(DataError, match=r"d\.jsonl.*no \"text\" field"):
        load_corpus(str(tmp_path / "d.jsonl"))


@pytest.mark.parametrize("content", [b"", b"   \n\n\t  \n"])
def test_empty_or_blank_file_is_refused_by_name(tmp_path, content):
    f = tmp_path / "empty.txt"
    f.write_bytes(content)
    with pytest.raises(DataError, match="empty.txt.*no text"):
        load_corpus(str(f))


def test_invalid_utf8_is_replaced_and_counted(tmp_path):
    f = tmp_path / "latin.txt"
    good = "\n\n".join(f"a story about cafe number {i}" for i in range(200)).encode()
    f.write_bytes(good + b"\n\ncaf\xe9 \xff end")
    with pytest.warns(UserWarning, match="replaced 2 invalid UTF-8 bytes"):
        c = load_corpus(str(f))
    assert c.replaced_bytes == 2
    assert "\ufffd" in c.validation[-1]


def test_binary_file_is_refused(tmp_path):
    f = tmp_path / "noise.txt"
    f.write_bytes(bytes(np.random.default_rng(0).integers(128, 256, 5000, dtype=np.uint8)))
    with pytest.raises(DataError, match="noise.txt.*not valid UTF-8"):
        load_corpus(str(f))


def test_corrupt_gzip_is_refused_by_name(tmp_path):
    f = tmp_path / "broken.txt.gz"
    f.write_bytes(gzip.compress(b"hello\n\nworld\n" * 100)[:40])
    with pytest.raises(DataError, match="broken.txt.gz.*cannot read"):
        load_corpus(str(f))


def test_missing_and_unknown_corpora():
    with pytest.raises(DataError, match="no such file"):
        load_corpus("/nonexistent/stories.txt")
    with pytest.raises(DataError, match="unknown corpus 'shakespeare'"):
        load_corpus("shakespeare")


def test_hub_fails_fast_with_instructions(monkeypatch):
    monkeypatch.delenv("TINYLM_DATA_DIR")
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.delenv("HF_DATASETS_OFFLINE")
    start = time.perf_counter()
    with pytest.raises(DataError) as e:
        load_corpus("tinystories")  # the socket is patched to fail, as on an offline machine
    assert time.perf_counter() - start < 30  # generous: a retrying download takes minutes
    assert "TINYLM_DATA_DIR" in str(e.value) and "--corpus PATH" in str(e.value)


def test_cache_is_reused(small_data):
    again = prepare(DataConfig(corpus="tinystories", vocab_size=512, max_train_bytes=1_000_000,
                               max_val_bytes=60_000), progress=False)
    assert again.cache_hit and again.cache_dir == small_data.cache_dir
    assert np.array_equal(again.train, small_data.train)
    assert again.meta["seconds"] == small_data.meta["seconds"]  # built once


def test_tokenizer_round_trip_and_byte_lengths(small_data):
    tok, lengths = small_data.tokenizer, small_data.token_bytes
    for doc in load_corpus("tinystories", max_train_bytes=1).validation[:50]:
        ids = tok.encode(doc).ids
        assert tok.decode(ids) == doc
        assert lengths[ids].sum() == len(doc.encode("utf-8"))


def test_byte_vocabulary():
    tok = train_tokenizer(["héllo wörld"] * 10, 256)
    assert tok.get_vocab_size() == 257  # 256 bytes + end-of-text
    assert token_byte_lengths(tok).sum() == 257


def test_val_windows_are_fixed_and_checked(small_data):
    a = val_windows(small_data.val, 64, 4096)
    assert a.shape == (64, 65)
    # window i holds tokens [64 i, 64 i + 64] of the validation stream, read straight from it
    val = np.asarray(small_data.val, dtype=np.int64)
    assert bool((a[0] == torch.from_numpy(val[:65])).all())
    assert bool((a[63] == torch.from_numpy(val[63 * 64:63 * 64 + 65])).all())
    assert bool(a[1, 0] == a[0, 64])  # consecutive windows share one token: no target twice
    # a smaller cap is a prefix of the larger one: every run scores the same windows
    assert bool((val_windows(small_data.val, 64, 1024) == a[:16]).all())
    with pytest.raises(DataError, match="too few for one window"):
        val_windows(small_data.val[:10], 64)


def test_bad_data_config():
    for bad in (dict(vocab_size=100), dict(vocab_size=70000), dict(max_train_bytes=0)):
        with pytest.raises(ValueError):
            DataConfig(**bad).validate()
    assert tinylm.DataConfig().vocab_size == 4096
