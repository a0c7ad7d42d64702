"""The benchmark harness end to end, on a tiny budget: records, summary, ratios, resume."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import fit_calibration, run
from tinylm import measured
from tinylm.lab.results import read_runs

ROOT = Path(__file__).resolve().parents[1]

TINY = ("width=32,layers=2,heads=2,context=64,vocab_size=512,max_train_bytes=1000000,"
        "max_val_bytes=60000,final_eval_tokens=4096,batch_size=4")


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    out = tmp_path_factory.mktemp("results")
    specs = [f"gpt2:{TINY}", f"default:{TINY}", f"default:family=lstm,{TINY}"]
    assert run.main(["--study", "tiny", "--budget", "2", "--out", str(out), *specs]) == 0
    return out / "tiny", specs


def test_every_run_is_recorded_with_metrics_and_a_sample(study):
    folder, specs = study
    runs = [json.loads(line) for line in (folder / "runs.jsonl").read_text().splitlines()]
    assert read_runs(folder) == runs
    assert [r["recipe"] for r in runs] == specs
    for r in runs:
        assert r["budget_s"] == 2 and r["metrics"]["val_bpb"] > 0
        assert r["metrics"]["tokens_seen"] > 0
        assert r["sample"]["text"].startswith(run.SAMPLE_PROMPT)
        assert len(r["sample"]["text"]) > len(run.SAMPLE_PROMPT)
    assert (folder / "curves.png").stat().st_size > 1000


def test_summary_reports_ratios_against_the_first_recipe(study):
    folder, specs = study
    summary = json.loads((folder / "summary.json").read_text())
    rows = {r["recipe"]: r for r in summary["rows"]}
    base = rows[specs[0]]
    assert base["bpb_ratio"] == pytest.approx(1.0)
    other = rows[specs[1]]
    assert other["bpb_ratio"] == pytest.approx(other["val_bpb"] / base["val_bpb"])
    assert other["tps_ratio"] == pytest.approx(other["tokens_per_s"] / base["tokens_per_s"])
    assert "| recipe |" in (folder / "summary.md").read_text()


def test_a_finished_study_is_not_rerun(study, capsys):
    folder, specs = study
    before = (folder / "runs.jsonl").read_text()
    assert run.main(["--study", "tiny", "--budget", "2", "--out", str(folder.parent), *specs]) == 0
    assert (folder / "runs.jsonl").read_text() == before


@pytest.mark.parametrize("spec, named", [("nope", "unknown recipe 'nope'"),
                                          ("default:nonsense=1", "unknown setting(s) nonsense"),
                                          ("default:width=abc", "width must be"),
                                          # as tinylm.train checks it: both widths "auto" gives
                                          ("default:heads=3", "not divisible by heads 3")])
def test_a_bad_spec_is_one_line_before_any_run(spec, named, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        run.main(["--study", "bad", "--budget", "2", "--out", str(tmp_path), f"gpt2:{TINY}", spec])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and named in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "bad").exists()  # nothing ran, nothing written


def test_scripts_run_as_modules_from_the_repository_root():
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "TINYLM_RESULTS_DIR")}
    proc = subprocess.run([sys.executable, "-m", "benchmarks.report"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("| study | change |") and "screen-90s" in proc.stdout


def test_fitted_constants_are_named_as_in_measured(capsys):
    fit = fit_calibration.main()
    constants = [k for k in fit if k.isupper()]
    assert constants and all(hasattr(measured, k) for k in constants), constants
    assert fit["COMPILE_COLD_S"] == measured.COMPILE_COLD_S
    # the size rule comes from the stored sweeps' calibrate checks, not from a hand-set number
    assert fit["TOKENS_PER_PARAM"] == measured.TOKENS_PER_PARAM
    assert fit["TOKENS_PER_PARAM_EXPONENT"] == measured.TOKENS_PER_PARAM_EXPONENT


def test_profile_and_head_speed_build_the_trainers_step():
    """The two speed studies time the trainer's own pieces (`tinylm.tuning.speed.step_parts`)."""
    import torch

    from benchmarks import head_speed, profile_step
    from tinylm.core.models import ModelConfig
    from tinylm.core.models.heads import AdaptiveHead

    small = {"width": 32, "context": 32, "vocab_size": 512, "head": "adaptive"}
    model, opt, fn, batches, _ = profile_step.build(small, batch_size=2, compile_=False)
    assert isinstance(model.head, AdaptiveHead) and batches.next()[0].shape == (2, 32)
    parts = profile_step.timed_step(model, opt, fn, batches)
    assert set(parts) == set(profile_step.PARTS) and all(t >= 0 for t in parts.values())
    fns = head_speed.heads(ModelConfig(**small))
    y = torch.randint(0, 512, (16,))
    for name in ("full eager", "adaptive eager"):
        h = torch.randn(16, 32, requires_grad=True)
        loss = fns[name](h, y)
        loss.backward()
        assert float(loss) > 0 and bool(torch.isfinite(h.grad).all()) and h.grad.abs().sum() > 0


def test_chunked_head_and_loss_match_the_plain_ones():
    """step_variants' chunked head + cross-entropy: the same loss and gradients as the head's
    logits through `lm_loss`, with a chunk that does not divide the rows."""
    import torch

    from benchmarks.step_variants import LinearCrossEntropy
    from tinylm.core.models.layers import lm_loss

    torch.manual_seed(0)
    h = torch.randn(50, 16, requires_grad=True)
    w = torch.randn(40, 16, requires_grad=True)
    y = torch.randint(0, 40, (50,))
    plain = lm_loss(h @ w.t(), y)
    plain.backward()
    want = h.grad.clone(), w.grad.clone()
    h.grad = w.grad = None
    loss = LinearCrossEntropy.apply(h, w, y, 16)
    (2 * loss).backward()  # a scaled upstream gradient reaches both inputs
    assert torch.allclose(loss, plain, atol=1e-5)
    assert torch.allclose(h.grad, 2 * want[0], atol=1e-5)
    assert torch.allclose(w.grad, 2 * want[1], atol=1e-5)


def test_cuda_check_refuses_without_a_gpu_and_runs_its_steps_on_a_cpu(tmp_path, monkeypatch):
    """The prepared GPU script (run only where there is a GPU) stays runnable: here on the CPU,
    with a shorter calibrate probe and the tests' small data."""
    import torch

    from benchmarks import cuda_check
    from tinylm.tuning.calibrate import LADDER, calibrate

    if not torch.cuda.is_available():
        assert cuda_check.main(["--out", str(tmp_path)]) == 2
    monkeypatch.setattr(cuda_check, "calibrate", lambda budget, progress: calibrate(
        budget, progress=progress, seconds_per_size=0.1, threads=1))
    small = ["--vocab", "512", "--max-train-bytes", "1000000", "--max-val-bytes", "60000",
             "--final-eval-tokens", "4096", "--threads", "1", "--compile", "off"]
    code = cuda_check.main(["--allow-cpu", "--budgets", "2", "--out", str(tmp_path), "--",
                            *small])
    assert code == 0
    report = json.loads((tmp_path / "cuda-check.json").read_text())
    assert report["machine"]["torch"] == torch.__version__
    (entry,) = report["runs"]
    pick, trained = entry["calibrate"], entry["train"]
    assert tuple(pick["choice"].values()) in LADDER and pick["device"] == trained["device"]
    assert trained["argv"][trained["argv"].index("--width") + 1] == str(pick["choice"]["width"])
    assert trained["status"] == "completed" and 0 < trained["val_bpb"] < 8
    assert trained["tokens_per_s"] > 0 and trained["tokens_seen"] > 0


def test_calibrate_check_scores_each_shape_by_the_median_of_its_repeats():
    from benchmarks.calibrate_check import scores_by_shape
    from tinylm.lab.results import Study

    def run(recipe, width, bpb):
        return {"recipe": recipe, "settings": {"width": width, "layers": 2, "heads": 2},
                "metrics": {"val_bpb": bpb}}

    # width 64's last repeat is its best and beats 96's last: the medians still put 96 first
    runs = [run("default:width=64", 64, 1.0723), run("default", 96, 1.0516),
            run("default:width=64", 64, 1.0551), run("default", 96, 1.0554),
            run("gpt2", 96, 0.5), run("default:width=64", 64, 1.0600)]
    summary = {"rows": [{"recipe": "default:width=64", "val_bpb": 1.0600, "n": 3},
                        {"recipe": "default", "val_bpb": (1.0516 + 1.0554) / 2, "n": 2},
                        {"recipe": "gpt2", "val_bpb": 0.5, "n": 1}]}
    medians = {k: {"val_bpb": v["val_bpb"], "n": v["n"]}
               for k, v in scores_by_shape(Study("sweep", summary, runs)).items()}
    assert medians == {(64, 2, 2): {"val_bpb": 1.0600, "n": 3},
                       (96, 2, 2): {"val_bpb": (1.0516 + 1.0554) / 2, "n": 2}}
    assert min(medians, key=lambda k: medians[k]["val_bpb"]) == (96, 2, 2)
