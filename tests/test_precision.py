"""train.matmul_precision reaches torch, and the CPU default computes float32 matmuls."""

import torch

from charff.config import Config
from charff.run import start_run
from tests.conftest import tiny_config


def test_the_default_is_float32_and_a_setting_reaches_torch(tmp_path):
    before = torch.get_float32_matmul_precision()
    try:
        assert Config().train.matmul_precision == "highest"
        start_run(tiny_config(matmul_precision="high"), tmp_path / "a").release()
        assert torch.get_float32_matmul_precision() == "high"
        start_run(tiny_config(), tmp_path / "b").release()
        assert torch.get_float32_matmul_precision() == "highest"
    finally:
        torch.set_float32_matmul_precision(before)
