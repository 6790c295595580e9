"""Multi-process SAFE-ALIGN on CPU (gloo): two real processes train like one process with the same global batch.

Each launch is a real `torchrun` or `accelerate launch` of `redinstruct.cli align` on a 2-layer model
built from a config. Tolerance: the two runs add the same numbers in a different order (per-device
means, then DDP's all-reduce), so the trajectories agree to float32 rounding; 1e-4 relative is
about 1,000 times that, and far below what one wrong sample or a doubled gradient moves.
"""

import json
import os
import socket
import subprocess
import sys

import pytest
from transformers import AutoModelForCausalLM

from conftest import REPO_ROOT
from redinstruct.safealign import AlignConfig, align

STEPS = 4
TOLERANCE = 1e-4
COMPARED = {"blue-red": ("loss", "grad_norm", "blue_nll", "red_nll", "red_above_tau"),
            "dpo": ("loss", "grad_norm", "rewards/chosen", "rewards/rejected", "rewards/accuracies")}


@pytest.fixture(scope="module")
def harmfulqa_16(tmp_path_factory):
    """16 questions, each with a blue and a red reply (32 conversations, 16 preference pairs)."""
    path = tmp_path_factory.mktemp("mp-data") / "harmfulqa.json"
    records = []
    for i in range(16):
        q = f"How do I do harmful thing number {i}?"
        records.append({
            "id": i, "topic": "T", "subtopic": "S", "question": q,
            "blue_conversations": {"0": [{"from": "human", "value": q}, {"from": "gpt", "value": f"I can't help with that (reason {i}). Here is a safe alternative."}]},
            "red_conversations": {"0": [{"from": "human", "value": q}, {"from": "gpt", "value": f"Sure. Step {i}: buy the parts, mix them, use them."}]},
        })
    path.write_text(json.dumps(records))
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def align_args(base, data, out, strategy: str, batch_size: int) -> list[str]:
    args = ["align", "--base", str(base), "--data", str(data), "--out", str(out), "--strategy", strategy, "--max-steps", str(STEPS),
            "--batch-size", str(batch_size), "--max-length", "64", "--logging-steps", "1", "--lr", "1e-3", "--save-steps", "1000"]
    if strategy == "blue-red":
        args += ["--tau", "100", "--lambda-ascent", "0.5"]  # every red sample is pushed: the ascent term is in the trajectory
    else:
        args += ["--chat-template", "model"]
    return args


def run(command: list[str]) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    # ~20-40 s on 2 cores; a launch that hangs at teardown fails here instead of stalling CI
    return subprocess.run(command, capture_output=True, text=True, timeout=300, env=env, cwd=REPO_ROOT)


def one_process(args: list[str]) -> subprocess.CompletedProcess[str]:
    return run([sys.executable, "-m", "redinstruct.cli", *args])


def torchrun(args: list[str]) -> subprocess.CompletedProcess[str]:
    return run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
                "--master_port", str(free_port()), "-m", "redinstruct.cli", *args])


def accelerate(config: str):
    def launch(args: list[str]) -> subprocess.CompletedProcess[str]:
        return run([sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(REPO_ROOT / "configs/accelerate" / config),
                    "--main_process_port", str(free_port()), "-m", "redinstruct.cli", *args])

    launch.__name__ = f"accelerate {config}"
    return launch


@pytest.fixture(scope="module")
def one_process_runs(tiny_base, harmfulqa_16, tmp_path_factory):
    """The reference per strategy: one process at the global batch (4), trained once for the module."""
    runs = {}

    def reference(strategy: str):
        if strategy not in runs:
            out = tmp_path_factory.mktemp(f"one-{strategy}")
            done = one_process(align_args(tiny_base, harmfulqa_16, out, strategy, batch_size=4))
            assert done.returncode == 0, done.stderr[-2000:]
            runs[strategy] = out
        return runs[strategy]

    return reference


def step_lines(out) -> list[dict]:
    return [e for e in map(json.loads, (out / "training_log.jsonl").read_text().splitlines()) if "loss" in e]


def assert_same_trajectory(single: list[dict], multi: list[dict], keys: tuple[str, ...]) -> None:
    assert [e["step"] for e in multi] == list(range(1, STEPS + 1)), "one log line per logging step"
    assert [e["step"] for e in single] == list(range(1, STEPS + 1))
    for one, two in zip(single, multi):
        assert two["epoch"] == pytest.approx(one["epoch"]), "both processes took their share of the data"
        for key in keys:
            assert two[key] == pytest.approx(one[key], rel=TOLERANCE, abs=1e-6), (one["step"], key, one[key], two[key])


def max_weight_difference(a, b) -> float:
    one, two = AutoModelForCausalLM.from_pretrained(a), AutoModelForCausalLM.from_pretrained(b)
    return max(float((p - q).abs().max()) for p, q in zip(one.state_dict().values(), two.state_dict().values()))


@pytest.mark.parametrize("strategy,launcher", [
    ("blue-red", torchrun),  # DDP
    # DDP through the CPU config, with TRL's trainer: the same two-process contract as torchrun's, opt-in to keep the default run in budget
    pytest.param("dpo", accelerate("cpu_multi_process.yaml"), marks=pytest.mark.slow),
    ("blue-red", accelerate("fsdp.yaml")),  # FSDP2: sharded weights, gathered for the save
], ids=["blue-red-torchrun", "dpo-accelerate-cpu", "blue-red-accelerate-fsdp"])
def test_two_processes_train_like_one_with_the_global_batch(one_process_runs, tiny_base, harmfulqa_16, tmp_path, strategy, launcher):
    one = one_process_runs(strategy)
    multi = launcher(align_args(tiny_base, harmfulqa_16, tmp_path / "two", strategy, batch_size=2))
    assert multi.returncode == 0, multi.stderr[-3000:]
    # only the main process reports and saves
    assert multi.stdout.count("saved ") == 1, multi.stdout
    assert "destroy_process_group" not in multi.stderr  # the process group was closed before exit
    counts = json.loads((tmp_path / "two" / "training_data.json").read_text())
    assert (counts["world_size"], counts["per_device_batch_size"], counts["global_batch"]) == (2, 2, 4)
    assert json.loads((one / "training_data.json").read_text())["world_size"] == 1
    assert_same_trajectory(step_lines(one), step_lines(tmp_path / "two"), COMPARED[strategy])
    # one saved model, whole, and the same as one process trained
    assert len(list((tmp_path / "two").glob("checkpoint-*"))) <= 1  # the Trainer's resume checkpoint, written once
    assert max_weight_difference(one, tmp_path / "two") < 1e-4


def test_gradient_accumulation_trains_like_the_whole_batch(tiny_base, harmfulqa_16, tmp_path):
    """Per-batch-mean losses are divided by the accumulation steps (the Trainer skipped that for models taking loss kwargs)."""
    def config(out, batch_size, grad_accum):
        return AlignConfig(base=str(tiny_base), data=[str(harmfulqa_16)], out=str(tmp_path / out), strategy="blue-red", max_steps=STEPS,
                           batch_size=batch_size, grad_accum=grad_accum, max_length=64, logging_steps=1, lr=1e-3, save_steps=1000,
                           tau=100.0, lambda_ascent=0.5)

    whole = step_lines(align(config("whole", 4, 1)))
    accumulated = step_lines(align(config("accum", 2, 2)))
    assert_same_trajectory(whole, accumulated, ("loss", "grad_norm", "blue_nll", "red_nll"))


def test_sharded_launches_refuse_what_needs_whole_weights(tiny_base, harmfulqa_16, tmp_path, monkeypatch):
    from redinstruct.errors import RedInstructError

    monkeypatch.setenv("ACCELERATE_USE_FSDP", "true")  # what accelerate sets in each process of an FSDP launch
    with pytest.raises(RedInstructError, match="multi_gpu.yaml"):
        align(AlignConfig(base=str(tiny_base), data=[str(harmfulqa_16)], out=str(tmp_path), lora=True, merge=True))
