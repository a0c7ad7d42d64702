"""The README's table of results, generated from the stored studies, never typed by hand.

    python -m benchmarks.readme_results           # rewrite the block in README.md in place
    python -m benchmarks.readme_results --check   # exit 1 when the block is stale

At each budget with a head-to-head study (the `gpt2` baseline, Goedecke's setup, and a
`default` recipe in one invocation) the newest such study gives the table its rows: medians
over the repeats, their spread, tokens per second, and the ratio of the default's val_bpb to
the baseline's. Studies are read with tinylm's own lab code, in today's terms, so a study made
before a default moved names the difference (`default:beta2=0.95`). The output depends only
on the stored results: no dates, no clock.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import textwrap
from pathlib import Path

from tinylm.lab.head_to_head import head_to_head, runs_of
from tinylm.lab.noise import NOT_SEED_REPEATS, repeat_spread, seed_noise
from tinylm.lab.results import REPO, Study, load_studies

README = REPO / "README.md"
BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"
BASELINE = "gpt2"
WRAP = 96  # the README's line width
COMMAND = "python -m benchmarks.readme_results"
VERDICTS = {"lower": "lower, beyond seed noise", "tie": "a tie within seed noise",
            "higher": "higher, beyond seed noise"}
HEADER = ("| budget | recipe | val_bpb (median) | spread (min-max) | runs | tokens/s (median) "
          "| study | default / gpt2 |")


def recipes(study: Study) -> list[str]:
    return list(dict.fromkeys(r["recipe"] for r in study.runs))


def default_of(study: Study) -> str | None:
    """The study's recipe closest to today's default: `default` itself, else the `default:...`
    label with the fewest differences from it (the default of the study's day)."""
    names = [n for n in recipes(study) if n == "default" or n.startswith("default:")]
    return min(names, key=lambda n: len(study.spec(n)), default=None)


def head_to_head_studies(studies: list[Study]) -> dict[float, Study]:
    """Per budget, the newest study (by its last run) that ran the baseline and a default."""
    newest: dict[float, Study] = {}
    for s in studies:
        if s.name in NOT_SEED_REPEATS or not s.budget_s or BASELINE not in recipes(s):
            continue
        if default_of(s) is None:
            continue
        if s.budget_s not in newest or _last_run(s) > _last_run(newest[s.budget_s]):
            newest[s.budget_s] = s
    return dict(sorted(newest.items()))


def _last_run(study: Study) -> str:
    return max(r.get("time", "") for r in study.runs)


def _row(study: Study, recipe: str, ratio: str) -> str:
    runs = runs_of(study, recipe)
    bpb = [r["metrics"]["val_bpb"] for r in runs]
    tps = statistics.median(r["metrics"]["tokens_per_s"] for r in runs)
    return (f"| {study.budget_s:.0f} s | `{recipe}` | {statistics.median(bpb):.4f} | "
            f"{min(bpb):.4f}-{max(bpb):.4f} | {len(bpb)} | {tps:,.0f} | `{study.name}` | {ratio} |")


def machine_line(studies: list[Study]) -> str:
    """Where the table's runs trained, from what their metrics store."""
    def values(key: str, runs: list[dict]) -> str:
        return " / ".join(sorted({str(r["metrics"][key]) for r in runs if key in r["metrics"]}))

    runs = [r for s in studies for r in s.runs]
    systems = sorted({_system(r["metrics"].get("platform", "")) for r in runs} - {""})
    defaults = [r for s in studies for r in runs_of(s, default_of(s))]
    baselines = [r for s in studies for r in runs_of(s, BASELINE)]
    dtypes = f"the default in {values('dtype', defaults)}, gpt2 in {values('dtype', baselines)}"
    return (f"Measured on {' / '.join(systems) or 'an unrecorded machine'}, device "
            f"{values('device', runs)}, {values('threads', runs)} threads of "
            f"{values('cpu_count', runs)} CPUs, torch {values('torch_version', runs)}; {dtypes}.")


def _system(platform: str) -> str:
    """"Linux-6.1-x86_64-with-glibc2.36" -> "Linux x86_64": the part a reader compares."""
    parts = platform.split("-")
    arch = [p for p in parts if p in ("x86_64", "AMD64", "arm64", "aarch64", "i386")]
    return " ".join(parts[:1] + arch[:1]) if parts[0] else ""


def table() -> str:
    """The block's content: one table and the line saying where it was measured."""
    studies = load_studies("")
    noise = seed_noise(repeat_spread(studies))
    chosen = head_to_head_studies(studies)
    lines = [HEADER, "|" + "---|" * HEADER.count(" | ") + "---|"]
    for study in chosen.values():
        default = default_of(study)
        row = head_to_head(study, default, BASELINE, noise)
        lines.append(_row(study, default, f"**{row['val_bpb'] / row['against_bpb']:.3f}** "
                                          f"({VERDICTS.get(row['verdict'], row['verdict'])})"))
        lines.append(_row(study, BASELINE, ""))
    lines += ["", textwrap.fill(machine_line(list(chosen.values())), WRAP), "", textwrap.fill(
              f"Each budget's newest study that ran both, in today's terms (a `default:...` label "
              f"says how that study's default differs from today's); the verdict weighs the gap "
              f"against the seed noise of every stored repeat. `{COMMAND}` rewrites this block.", WRAP)]
    return "\n".join(lines)


def block(text: str) -> str | None:
    """What `text` holds between the markers (None without them)."""
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        return None
    return text[start + len(BEGIN):end].strip("\n")


def rewrite(text: str) -> str:
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        raise ValueError(f"no {BEGIN} ... {END} block in the README")
    return text[:start + len(BEGIN)] + "\n" + table() + "\n" + text[end:]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--check", action="store_true", help="exit 1 when the block is stale")
    p.add_argument("--readme", type=Path, default=README)
    args = p.parse_args(argv)
    text = args.readme.read_text()
    if args.check:
        if block(text) != table():
            print(f"{args.readme.name}: the results block is stale; run `{COMMAND}`",
                  file=sys.stderr)
            return 1
        return 0
    args.readme.write_text(rewrite(text))
    return 0


if __name__ == "__main__":
    sys.exit(main())
