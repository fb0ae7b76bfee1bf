import pytest
import torch

from pairsift.device import CPU_TILE, Compute


def test_auto_resolves_to_an_available_device():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert Compute.resolve("auto").device.type == expected


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_half_precision_is_refused_on_cpu(precision):
    with pytest.raises(ValueError, match="GPUs only"):
        Compute.resolve("cpu", precision)


def test_unknown_device_and_precision_are_refused():
    with pytest.raises(ValueError, match="unknown device"):
        Compute.resolve("tpu")
    with pytest.raises(ValueError, match="unknown precision"):
        Compute.resolve("cpu", "fp8")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU tile")
def test_cpu_tile_is_fixed():
    assert Compute.resolve("cpu").tile(10**6) == CPU_TILE
