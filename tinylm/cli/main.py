"""`python -m tinylm train|eval|sample|prepare|calibrate|class|web`: the book from a terminal.

Bad input ends with one line naming the problem and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from pathlib import Path

from tinylm.cli.flags import HIDDEN, OneLineParser, add_dataclass_flags, given, pick
from tinylm.core.data import DataConfig
from tinylm.core.models import ModelConfig
from tinylm.core.sample import SampleConfig
from tinylm.runs.train import TrainConfig

UNVERIFIED_HELP = ("load a checkpoint that records no file hashes (only one you trust: nothing "
                   "then proves its files are the ones that were saved)")


def build_parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog="python -m tinylm", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train for a wall-clock budget, save, print a sample")
    t.add_argument("--out", help="checkpoint folder (default: a new folder under runs/)")
    t.add_argument("--resume", metavar="DIR", help="continue an interrupted run in DIR")
    t.add_argument("--prompt", default="", help="prompt for the sample printed at the end")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.add_argument("--recipe", default="default", help="starting settings: default, gpt2 "
                   "(Goedecke's GPT-2 setup) or lstm; flags override them")
    t.add_argument("--if-busy", choices=("wait", "go"), default="wait",
                   help="when another tinylm training is running on this machine: wait for it "
                   "(default) or go on alongside it (both run slower)")
    t.add_argument("--size", choices=("auto",), help="auto: measure this machine and pick the "
                   "width/layers/heads expected to be best for the budget")
    add_dataclass_flags(t, DataConfig, skip=HIDDEN)
    add_dataclass_flags(t, ModelConfig, skip={"vocab_size"})
    add_dataclass_flags(t, TrainConfig)

    e = sub.add_parser("eval", help="validation loss and bits per byte of a checkpoint")
    e.add_argument("checkpoint")
    e.add_argument("--corpus", help="evaluate on this corpus instead of the training one")
    e.add_argument("--device", default="auto")
    e.add_argument("--unverified", action="store_true", help=UNVERIFIED_HELP)

    s = sub.add_parser("sample", help="generate text from a checkpoint")
    s.add_argument("checkpoint")
    s.add_argument("--prompt", default="")
    s.add_argument("--device", default="cpu")
    s.add_argument("--unverified", action="store_true", help=UNVERIFIED_HELP)
    add_dataclass_flags(s, SampleConfig)

    r = sub.add_parser("prepare", help="train the tokenizer and cache tokens ahead of time")
    add_dataclass_flags(r, DataConfig, skip=HIDDEN)

    c = sub.add_parser("calibrate", help="measure this machine and pick a model size for a budget")
    c.add_argument("--budget", type=float, default=300.0, help="training budget to size for")
    c.add_argument("--batch-size", type=int, default=None,
                   help="batch size (default: measured on GPUs, TrainConfig's on a CPU)")
    c.add_argument("--vocab", type=int, default=DataConfig.vocab_size)
    c.add_argument("--threads", type=int, default=None, help="CPU threads (default: one per core)")
    w = sub.add_parser("web", help="a static page that samples from a checkpoint in the browser")
    w.add_argument("checkpoint", metavar="RUN_DIR")
    w.add_argument("--out", required=True, metavar="FOLDER", help="folder for index.html")
    w.add_argument("--precision", choices=("float32", "float16"), default="float32",
                   help="weights in the page: float32 (default) matches `sample` token for "
                   "token; float16 halves the page, and may flip a near-tie")
    w.add_argument("--unverified", action="store_true", help=UNVERIFIED_HELP)
    k = sub.add_parser("class", help="a class's exported runs together: one U-curve page")
    kinds = k.add_subparsers(dest="class_command", required=True)
    m = kinds.add_parser("merge", help="merge the training panel's CSVs of a class into one page")
    m.add_argument("files", nargs="+", metavar="FILE", help="exported CSVs (or folders of them)")
    m.add_argument("--out", default="class.html", help="the page to write (default class.html)")
    m.add_argument("--budget", type=float, default=None, metavar="SECONDS",
                   help="the class setting's budget (default: the most common among the runs)")
    m.add_argument("--corpus", default=None, help="the class setting's corpus (default: the most "
                   "common among the runs)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except ValueError as e:  # DataError, CheckpointError and config errors are ValueErrors
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130


def cmd_prepare(args) -> int:
    from tinylm.core.data import describe, prepare

    data = prepare(pick(DataConfig, args))
    print(json.dumps({**describe(data), "cache": str(data.cache_dir),
                      "build_seconds": data.meta["seconds"]}))
    return 0


def cmd_train(args) -> int:
    from tinylm.core.data import prepare
    from tinylm.core.sample import generate
    from tinylm.core.spec import RunSpec
    from tinylm.lab.recipes import parse_spec
    from tinylm.runs.folders import make_folder, new_run_dir
    from tinylm.runs.train import train

    settings: dict = parse_spec(args.recipe)[1]
    if args.resume:
        from tinylm.core.checkpoint import load
        from tinylm.core.schema import upgrade

        ckpt = load(args.resume)
        settings = upgrade({**ckpt.info.get("data_config", {}), **ckpt.model_config.to_dict(),
                            **ckpt.info.get("train_config", {})})
    settings.update(given(args))
    spec = RunSpec.from_settings(settings).validate()  # all cheap, before preparing data
    if args.size == "auto":
        if any(getattr(args, k) is not None for k in ("width", "layers", "heads")):
            raise ValueError("--size auto picks width, layers and heads; drop those flags")
        from tinylm.tuning.calibrate import calibrate, train_settings

        sized = calibrate(spec.train.budget_s, settings, args.batch_size,
                          progress=not args.quiet, device=spec.train.device)
        picked = {k: v for k, v in train_settings(sized).items()
                  if k not in sized["choice"] and getattr(args, k) is None}  # flags win
        spec = RunSpec.from_settings({**settings, **sized["choice"], **picked}).validate()
        print(f"size auto: {sized['choice']} ({sized['params'] / 1e6:.2f}M params), "
              f"{', '.join(f'{k} {v}' for k, v in picked.items())} for "
              f"{spec.train.budget_s:g} s on this machine", file=sys.stderr)
    main_rank = int(os.environ.get("RANK", "0")) == 0  # under torchrun, rank 0 reports and saves
    named = args.resume or args.out
    out = make_folder(named or new_run_dir()) if main_rank or named else None  # fails now
    data = prepare(spec.data, progress=not args.quiet)
    if main_rank:
        print(f"data: {data.meta['train_tokens']:,} training tokens, vocab {data.vocab_size}, "
              f"{data.meta['bytes_per_token']:.2f} bytes/token, prepared in "
              f"{data.prepare_seconds:.1f} s{' (cached)' if data.cache_hit else ''}", file=sys.stderr)
    model_cfg = dataclasses.replace(spec.model, vocab_size=data.vocab_size)
    result = train(data, model_cfg, spec.train, out_dir=out, resume=args.resume,
                   progress=not args.quiet, info={"data_config": dataclasses.asdict(spec.data)},
                   if_busy=args.if_busy)
    if not main_rank:
        return 0
    print(summary_line(result.metrics, result.out_dir))
    if result.message:
        print(result.message, file=sys.stderr)
    story = generate(result.model, data.tokenizer, args.prompt, max_new_tokens=200, seed=0)
    print("\n" + story.strip() + "\n")
    if result.error:  # the score and the story were shown; the weights could not be kept
        print(f"error: {result.error}; the model above was not kept: free some space or train "
              "again with --out DIR on another disk", file=sys.stderr)
        return 1
    return 1 if result.status == "diverged" else 0


def summary_line(m: dict, out: Path | None = None) -> str:
    where = f" | saved to {out}" if out else ""
    shape = f" (width {m['width']})" if "width" in m else ""  # width="auto" follows the budget
    return (f"{m['status']}: val_bpb {m['val_bpb']:.4f} | val_ppl {m['val_ppl']:.2f} | "
            f"val_loss {m['val_loss']:.4f} | {m['tokens_seen']:,} tokens at "
            f"{m['tokens_per_s']:,.0f} tok/s in {m['train_seconds']:.1f} s | "
            f"{m['params'] / 1e6:.2f}M params{shape}{where}")


def cmd_eval(args) -> int:
    from tinylm.core.checkpoint import load
    from tinylm.core.corpus import load_corpus
    from tinylm.core.data import encode_docs, token_byte_lengths, val_windows
    from tinylm.core.evaluate import evaluate
    from tinylm.core.spec import RunSpec, resolve

    ckpt = load(args.checkpoint, "cpu", verify=not args.unverified)
    data_cfg = DataConfig(**ckpt.info.get("data_config", {}))
    train_cfg = ckpt.info.get("train_config", {})
    run = resolve(RunSpec(model=ckpt.model_config, train=TrainConfig(
        device=args.device, dtype=train_cfg.get("dtype", "auto"), compile="off")))
    device, dtype = run.device, run.dtype
    ckpt.model.to(device)
    corpus = load_corpus(args.corpus or data_cfg.corpus, 1, data_cfg.max_val_bytes)
    val = encode_docs(ckpt.tokenizer, corpus.validation, "tokenizing", False)
    windows = val_windows(val, ckpt.model_config.context, train_cfg.get("final_eval_tokens"))
    result = evaluate(ckpt.model, windows, token_byte_lengths(ckpt.tokenizer), device, dtype)
    print(json.dumps(result))
    return 0


def cmd_sample(args) -> int:
    from tinylm.core.checkpoint import load
    from tinylm.core.sample import stream

    ckpt = load(args.checkpoint, args.device, verify=not args.unverified)
    settings = dataclasses.asdict(pick(SampleConfig, args))
    print(args.prompt, end="", flush=True)
    for piece in stream(ckpt.model, ckpt.tokenizer, args.prompt, **settings):
        print(piece, end="", flush=True)
    print()
    return 0


def cmd_web(args) -> int:
    from tinylm.web import write_page

    page = write_page(args.checkpoint, args.out, args.precision, verify=not args.unverified)
    print(f"wrote {page} ({page.stat().st_size / 1e6:.1f} MB): open it in a browser, no server "
          "needed")
    return 0


def cmd_calibrate(args) -> int:
    from tinylm.tuning.calibrate import calibrate

    result = calibrate(args.budget, batch_size=args.batch_size, vocab_size=args.vocab,
                       threads=args.threads)
    for row in result["ladder"]:
        print(f"width {row['width']:4d} layers {row['layers']} heads {row['heads']}: "
              f"{row['params'] / 1e6:5.2f}M params, {row['eager_tokens_per_s']:8,.0f} tok/s eager, "
              f"{row['expected_tokens'] / 1e6:6.2f}M tokens expected, "
              f"{row['tokens_per_param']:6.1f} tokens/param", file=sys.stderr)
    print(json.dumps({k: result[k] for k in ("budget_s", "device", "batch_size", "lr", "compiled",
                                              "choice", "params", "rule_tokens_per_param")}))
    return 0


def cmd_class(args) -> int:
    from tinylm.lab.classroom import merge
    from tinylm.notebook.classroom import ClassPage  # the page needs matplotlib: imported here only

    merged = merge(args.files, corpus=args.corpus, budget_s=args.budget)
    for kind, lines in (("skipped", merged.skipped), ("note", merged.notes)):
        for line in lines:
            print(f"{kind}: {line}", file=sys.stderr)
    if not merged.runs:
        raise ValueError(f"no usable runs in {len(args.files)} file argument(s): "
                         f"{len(merged.skipped)} skipped (listed above)")
    if not merged.compared():
        found = sorted({f"--budget {r['budget_s']:g} --corpus {r['corpus']}" for r in merged.runs})
        raise ValueError(f"no run at the class setting {merged.setting_text()}; the runs are at: "
                         f"{'; '.join(found)}")
    for line in merged.elsewhere():  # drawn hollow, never compared: said, not dropped silently
        print(f"another setting: {line}")
    try:
        out = ClassPage(merged).write(args.out)
    except OSError as e:
        raise ValueError(f"cannot write {args.out}: {e.strerror or e}") from e
    best = merged.optimum()
    print(f"{len(merged.runs)} runs from {len(merged.machines())} laptop(s), "
          f"{len(merged.skipped)} skipped, {len(merged.runs) - len(merged.compared())} at another "
          f"setting; class setting {merged.setting_text()}: optimum {best['shape']} ({best['params']:,} "
          f"parameters, median val_bpb {best['val_bpb']:.4f}); wrote {out}")
    return 0


COMMANDS = {"train": cmd_train, "eval": cmd_eval, "sample": cmd_sample, "prepare": cmd_prepare,
            "calibrate": cmd_calibrate, "class": cmd_class, "web": cmd_web}
