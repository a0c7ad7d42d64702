"""The same trainer under torchrun: two CPU processes, gloo backend, DistributedDataParallel."""

import json
import os
import subprocess
import sys

from fast import SMALL
from fast import TINY_MODEL_FLAGS as TINY_MODEL


def test_torchrun_two_cpu_processes(tmp_path):
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "1"}
    r = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                        "--standalone", "-m", "tinylm", "train", *SMALL, *TINY_MODEL,
                        "--budget", "4", "--device", "cpu", "--quiet"],
                       capture_output=True, text=True, timeout=180, env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.count("completed: val_bpb") == 1  # rank 0 alone reports
    folders = list((tmp_path / "runs").iterdir())
    assert len(folders) == 1, folders  # one run folder, rank 0's; rank 1 makes none
    metrics = json.loads((folders[0] / "metrics.json").read_text())
    assert metrics["world_size"] == 2 and metrics["threads"] == 1
    assert metrics["tokens_seen"] == metrics["steps"] * 2 * 8 * 64  # both ranks' batches
    assert metrics["val_loss"] < metrics["history"][0]["train_loss"]
