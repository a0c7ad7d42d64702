"""The web page's speed: page weight, load to first token, tokens per second, in headless Chromium.

    python -m benchmarks.web_speed --run DIR --label NAME       # a checkpoint folder
    python -m benchmarks.web_speed --train-seconds 40 --label NAME  # train one of the 300 s shape

Speed depends on the model's shape, not on how long it trained, so `--train-seconds` trains
the default recipe at the shape a 300 s budget gives (`resolve_model(ModelConfig(), 300)`: its width
and value embeddings) for fewer seconds. For each weight precision it writes the page, then
opens it `--repeats` times in a fresh browser context from file:// with autorun: time from
navigation start to the first generated token (parsing the page, decoding the weights, building
the tokenizer, the prompt's forward passes, one sample) and tokens per second after the first.
Medians with min-max. Writes benchmarks/results/web_speed/LABEL.json. Run it under the CPU lock.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import urllib.parse
from pathlib import Path

from benchmarks.run import bench_lock
from tinylm.lab.results import REPO

sys.path.insert(0, str(REPO / "tests"))  # the browser helpers the tests use (system Chromium)
from browser import lab  # noqa: E402

QUERY = {"prompt": "Once upon a time", "temperature": 0.8, "max_new_tokens": 200, "autorun": 1}


def train_run(seconds: float, out: Path) -> Path:
    """The default recipe at the 300 s shape, trained `seconds` (eager: no compile to wait for)."""
    import tinylm
    from tinylm.core.models import ModelConfig
    from tinylm.core.spec import resolve_model

    shape = resolve_model(ModelConfig(), 300)
    data = tinylm.prepare(tinylm.DataConfig(), progress=False)
    model_cfg = ModelConfig(vocab_size=data.vocab_size, width=shape.width,
                            value_embeds=shape.value_embeds)
    train_cfg = tinylm.TrainConfig(budget_s=seconds, compile="off")
    tinylm.train(data, model_cfg, train_cfg, out_dir=out, progress=False, if_busy="go")
    return out


def measure(browser, page_file: Path, repeats: int) -> dict:
    rows = []
    for seed in range(repeats):
        with lab.new_page(browser) as page:
            errors = []
            page.on("pageerror", lambda e, errors=errors: errors.append(str(e)))
            query = urllib.parse.urlencode({**QUERY, "seed": seed})
            page.goto(f"{page_file.as_uri()}?{query}")
            page.wait_for_selector("[data-tinylm-state=done], [data-tinylm-state=error]",
                                   timeout=120_000)
            root = page.locator("[data-tinylm-sampler]")
            if root.get_attribute("data-tinylm-state") != "done" or errors:
                raise RuntimeError(f"the page failed: {page.locator('[data-tinylm-status]').text_content()} "
                                   f"{errors}")
            rows.append({"seed": seed,
                         "first_token_ms": float(root.get_attribute("data-tinylm-first-token-ms")),
                         "tokens_per_s": float(root.get_attribute("data-tinylm-tokens-per-s")),
                         "tokens": int(root.get_attribute("data-tinylm-token-count"))})

    def spread(key):
        values = [r[key] for r in rows]
        return {"median": statistics.median(values), "min": min(values), "max": max(values)}

    return {"page_mb": page_file.stat().st_size / 1e6, "first_token_ms": spread("first_token_ms"),
            "tokens_per_s": spread("tokens_per_s"), "runs": rows}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--label", required=True, help="name of the result file (the machine)")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--run", help="checkpoint folder to measure")
    source.add_argument("--train-seconds", type=float,
                        help="train the default at the 300 s shape for this long first")
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args(argv)
    from tinylm.core.checkpoint import load
    from tinylm.core.models import ModelConfig
    from tinylm.core.spec import resolve_model
    from tinylm.web import PRECISIONS, write_page

    with tempfile.TemporaryDirectory() as tmp, bench_lock():
        tmp = Path(tmp)
        run = Path(args.run) if args.run else train_run(args.train_seconds, tmp / "run")
        ckpt = load(run)
        cfg, shape = ckpt.model_config, resolve_model(ModelConfig(), 300)
        pages = {prec: write_page(run, tmp / prec, prec) for prec in PRECISIONS}
        with lab.chromium() as browser:
            results = {prec: measure(browser, page, args.repeats) for prec, page in pages.items()}
    out = {"run": str(run) if args.run else f"trained {args.train_seconds:g} s for this benchmark",
           "train_seconds": ckpt.metrics.get("train_seconds"),
           "shape": {k: getattr(cfg, k) for k in ("width", "layers", "heads", "vocab_size", "context",
                                                  "head", "value_embeds", "smear", "positions")},
           "same_shape_as_default_300s": all(getattr(cfg, k) == getattr(shape, k) for k in
                                             ("width", "layers", "heads", "vocab_size", "context",
                                              "head", "value_embeds", "smear", "mlp", "norm")),
           "params": sum(p.numel() for p in ckpt.model.parameters()),
           "chromium": "headless, " + lab.CHROMIUM, "query": QUERY, "repeats": args.repeats,
           "precisions": results}
    folder = REPO / "benchmarks" / "results" / "web_speed"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{args.label}.json").write_text(json.dumps(out, indent=1) + "\n")
    for prec, r in results.items():
        f, t = r["first_token_ms"], r["tokens_per_s"]
        print(f"{prec}: page {r['page_mb']:.1f} MB, first token {f['median']:.0f} ms "
              f"({f['min']:.0f}-{f['max']:.0f}), {t['median']:.0f} tokens/s "
              f"({t['min']:.0f}-{t['max']:.0f}) over {args.repeats} runs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
