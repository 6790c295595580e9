"""The launch configs in the repo parse with accelerate's own loader and point at files that exist.

The CPU ones are also launched for real in tests/test_multiprocess_training.py.
"""

import json

import pytest
from accelerate.commands.config.config_args import load_config_from_file
from accelerate.utils import DistributedType

from conftest import REPO_ROOT

ACCELERATE = REPO_ROOT / "configs" / "accelerate"


@pytest.mark.parametrize("name,kind,processes", [
    ("cpu_multi_process.yaml", DistributedType.MULTI_GPU, 2),  # the launcher that starts N processes; gloo where no GPU is visible
    ("fsdp.yaml", DistributedType.FSDP, 2),
    ("multi_gpu.yaml", DistributedType.MULTI_GPU, 8),
    ("deepspeed_zero3.yaml", DistributedType.DEEPSPEED, 8),
])
def test_accelerate_configs_load(name, kind, processes):
    config = load_config_from_file(str(ACCELERATE / name))
    assert (config.distributed_type, config.num_processes, config.num_machines) == (kind, processes, 1)
    # "cpu" anywhere in a config makes accelerate use its one-process launcher: none of these may say it
    assert not config.use_cpu


def test_fsdp_config_is_fsdp2_with_a_full_state_dict():
    fsdp = load_config_from_file(str(ACCELERATE / "fsdp.yaml")).fsdp_config
    assert fsdp["fsdp_version"] == 2 and fsdp["fsdp_state_dict_type"] == "FULL_STATE_DICT"


def test_deepspeed_zero3_config():
    zero = load_config_from_file(str(ACCELERATE / "deepspeed_zero3.yaml"))
    ds_file = REPO_ROOT / zero.deepspeed_config["deepspeed_config_file"]
    ds = json.loads(ds_file.read_text())
    assert ds["zero_optimization"]["stage"] == 3
    # the save gathers the shards into one checkpoint (the Trainer's save_model under ZeRO-3)
    assert ds["zero_optimization"]["stage3_gather_16bit_weights_on_model_save"] is True
    # batch sizes come from the Trainer's arguments, so --batch-size / --grad-accum mean the same under DeepSpeed
    assert {ds[k] for k in ("train_batch_size", "train_micro_batch_size_per_gpu", "gradient_accumulation_steps")} == {"auto"}
