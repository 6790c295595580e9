"""The multi-GPU configs in the repo parse and point at files that exist."""

import json

import yaml

from conftest import REPO_ROOT


def test_accelerate_and_deepspeed_configs():
    multi = yaml.safe_load((REPO_ROOT / "configs/accelerate/multi_gpu.yaml").read_text())
    assert multi["distributed_type"] == "MULTI_GPU"
    zero = yaml.safe_load((REPO_ROOT / "configs/accelerate/deepspeed_zero3.yaml").read_text())
    assert zero["distributed_type"] == "DEEPSPEED"
    ds_file = REPO_ROOT / zero["deepspeed_config"]["deepspeed_config_file"]
    assert json.loads(ds_file.read_text())["zero_optimization"]["stage"] == 3
