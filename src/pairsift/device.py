"""Device, precision and tile-size decisions for the torch kernels."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

import torch

logger = logging.getLogger(__name__)
T = TypeVar("T")
R = TypeVar("R")

PRECISIONS = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}

#: Side of a float32 similarity tile on CPU for kernels with element-wise passes per tile
#: (negCLIPLoss). Each CPU thread works on its own tile (:meth:`Compute.map_blocks`); 768 x 768
#: (2.25 MiB, in the shared L3 beside the other thread's) measured fastest on 2 cores of 1 MiB L2 and
#: 32 MiB L3: 512 -> 84 %, 768 -> 92 %, 1024 -> 64 % of a thread's GEMM peak (docs/performance.md).
#: A constant, not a function of the thread count, so scores do not depend on the thread count.
CPU_TILE = 768
#: Tile of the kernels with one cheap reduction per tile (NormSim p != 2, decontamination) on CPU:
#: a block of CPU_REDUCE_ROWS rows per thread against CPU_TILE_REDUCE targets at a time (8 MiB per
#: thread). Measured on 2 cores at d = 768, GEMM + in-place abs + amax, share of the 2-thread GEMM peak:
#: 512 x 4096 -> 92 %, 1024 x 4096 -> 93 %, 1024 x 2048 -> 97 %, 2048 x 1024 -> 99 %, square
#: 1024 -> 87 %, 4096 -> 84 % (docs/performance.md).
CPU_TILE_REDUCE = 2048
CPU_REDUCE_ROWS = 1024
#: Fraction of free GPU memory one scorer may use for its working tiles.
GPU_MEMORY_SHARE = 0.25


@dataclass(frozen=True)
class Compute:
    """A resolved compute context, shared by every scorer of a run."""

    device: torch.device
    matmul_dtype: torch.dtype = torch.float32

    @classmethod
    def resolve(cls, device: str = "auto", precision: str = "fp32") -> Compute:
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        try:
            dev = torch.device(device)
        except RuntimeError as exc:
            raise ValueError(f"unknown device {device!r}; expected cpu, cuda, cuda:N or auto") from exc
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise ValueError("device 'cuda' was asked for but torch sees no CUDA device")
        if precision not in PRECISIONS:
            raise ValueError(f"unknown precision {precision!r}; expected one of {sorted(PRECISIONS)}")
        if precision != "fp32" and dev.type != "cuda":
            raise ValueError(
                f"precision {precision!r} is for GPUs only (half-precision matmuls are ~500x slower "
                "than float32 on CPUs); use --precision fp32 on cpu"
            )
        return cls(dev, PRECISIONS[precision])

    @property
    def is_cuda(self) -> bool:
        return self.device.type == "cuda"

    def tile(self, width: int, *, buffers: int = 3) -> int:
        """Side of a square float32 tile such that ``buffers`` tiles fit the memory we allow."""
        if not self.is_cuda:
            return CPU_TILE
        free, _ = torch.cuda.mem_get_info(self.device)
        side = int((free * GPU_MEMORY_SHARE / (4 * buffers)) ** 0.5)
        return max(256, min(side, 16384, max(width, 256)))

    def map_blocks(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
        """``[fn(x) for x in items]``, on CPU spread over ``torch.get_num_threads()`` threads.

        Each thread runs its blocks with single-threaded torch ops: a tile per core keeps the GEMM
        of every core busy, where a tile shared by all cores waits at each op for the slowest one.
        ``fn`` must only write to data its item owns; results come back in the items' order, so a
        caller that reduces them in that order gets the same bytes at any thread count.
        """
        workers = 1 if self.is_cuda else min(torch.get_num_threads(), len(items))
        if workers <= 1:
            return [fn(x) for x in items]
        with torch_threads(1), ThreadPoolExecutor(workers, thread_name_prefix="pairsift-tile") as pool:
            return list(pool.map(fn, items))

    def reduce_tiles(self, width: int) -> tuple[int, int]:
        """``(rows, columns)`` of a float32 tile for a kernel that makes one cheap reduction per tile."""
        if not self.is_cuda:
            return min(CPU_REDUCE_ROWS, CPU_TILE_REDUCE), CPU_TILE_REDUCE
        side = self.tile(width, buffers=1)
        return side, side

    def operand(self, array: torch.Tensor) -> torch.Tensor:
        """Move a matmul operand to the device, in the matmul precision (cast once, not per tile)."""
        return array.to(self.device, self.matmul_dtype)

    def matmul(self, a: torch.Tensor, b: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        """``out = a @ b`` into a float32 buffer; ``a`` and ``b`` come from :meth:`operand`."""
        if a.dtype == torch.float32:
            return torch.mm(a, b, out=out)
        out.copy_(torch.mm(a, b))  # half-precision product, float32 accumulation in cuBLAS
        return out


@contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """Run the block with ``count`` intra-op torch threads, then restore the previous count."""
    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)
