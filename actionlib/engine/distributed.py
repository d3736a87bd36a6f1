"""Multi-process training (torchrun / DDP) and the resumable epoch sampler.

`torchrun --nproc_per_node N -m actionlib train ...` sets RANK / WORLD_SIZE / LOCAL_RANK; we
start one process group (NCCL on GPUs, gloo on CPU), give every rank a disjoint shard of each
epoch's order, and let only rank 0 log and write files.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator

import torch
import torch.distributed as dist
from torch.utils.data import Sampler


def env_world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def init_distributed(device: str | None = None) -> tuple[int, int, torch.device]:
    """Start the process group if launched by torchrun; return (rank, world_size, device)."""
    world = env_world_size()
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if device is None:
        device = f"cuda:{local}" if torch.cuda.is_available() else "cpu"
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo", rank=rank, world_size=world)
    return rank, world, device


def is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    return dist.get_rank() if is_distributed() else 0


def world_size() -> int:
    return dist.get_world_size() if is_distributed() else 1


def is_main() -> bool:
    return rank() == 0


def barrier() -> None:
    if is_distributed():
        dist.barrier()


def all_reduce_sum(tensor: torch.Tensor) -> torch.Tensor:
    """Sum a tensor over ranks (a no-op in one process); NCCL needs it on the GPU, gloo takes either."""
    if not is_distributed():
        return tensor
    device = tensor.device
    work = tensor.to(torch.device("cuda", torch.cuda.current_device())) if dist.get_backend() == "nccl" else tensor
    work = work.clone()
    dist.all_reduce(work)
    return work.to(device)


def all_gather_objects(obj) -> list:
    if not is_distributed():
        return [obj]
    out = [None] * world_size()
    dist.all_gather_object(out, obj)
    return out


def broadcast_object(obj, src: int = 0):
    if not is_distributed():
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=src)
    return box[0]


def cleanup() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


class EpochSampler(Sampler):
    """The sample order of an epoch as a pure function of (seed, epoch), sharded over ranks.

    Like DistributedSampler, the order is padded (by repeating its start) to a multiple of the
    world size for training so every rank runs the same number of steps; for evaluation
    (`pad=False`) the shards are disjoint and cover each sample once. `start` skips the first
    samples of this rank's shard: a run resumed mid-epoch continues with the next batch.

    It yields `(epoch, index)` keys, which `repro.SeededDataset` turns into a per-sample seed.
    """

    def __init__(
        self,
        length: int,
        seed: int = 0,
        shuffle: bool = True,
        rank: int = 0,
        world_size: int = 1,
        pad: bool = True,
    ):
        self.length = length
        self.seed = seed
        self.shuffle = shuffle
        self.rank = rank
        self.world_size = world_size
        self.pad = pad
        self.epoch = 0
        self.start = 0

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        self.epoch = epoch
        self.start = start

    def order(self) -> list[int]:
        if self.shuffle:
            generator = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
            order = torch.randperm(self.length, generator=generator).tolist()
        else:
            order = list(range(self.length))
        if self.pad and self.world_size > 1:
            total = math.ceil(self.length / self.world_size) * self.world_size
            order += order[: total - len(order)]
        return order[self.rank :: self.world_size]

    def __iter__(self) -> Iterator[tuple[int, int]]:
        for index in self.order()[self.start :]:
            yield self.epoch, index

    def __len__(self) -> int:
        return len(self.order()) - self.start
