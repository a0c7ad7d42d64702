"""The README's results block is generated (`python -m benchmarks.readme_results`) and the
README stays short: a page a newcomer reads, with the history in benchmarks/LOG.md."""

from benchmarks import readme_results

MAX_LINES = 150


def test_the_results_block_matches_the_stored_studies(monkeypatch):
    monkeypatch.delenv("TINYLM_RESULTS_DIR", raising=False)  # the checkout's studies
    text = readme_results.README.read_text()
    assert readme_results.block(text) == readme_results.table(), (
        f"README.md's results block is stale: run `{readme_results.COMMAND}`")


def test_the_readme_is_short():
    lines = readme_results.README.read_text().splitlines()
    assert len(lines) <= MAX_LINES, f"README.md has {len(lines)} lines (at most {MAX_LINES})"
