import os
import socket

import torch
import torch.multiprocessing as mp

from actionlib.engine import distributed
from actionlib.engine.distributed import EpochSampler
from actionlib.engine.records import read_metrics
from actionlib.engine.train import TrainConfig, fit, resolve

from .conftest import TinyClips, tiny_model


def test_sampler_order_is_a_function_of_seed_and_epoch():
    a, b = EpochSampler(10, seed=1), EpochSampler(10, seed=1)
    a.set_epoch(3)
    b.set_epoch(3)
    assert list(a) == list(b) and all(epoch == 3 for epoch, _ in a)
    b.set_epoch(4)
    assert [i for _, i in a] != [i for _, i in b]
    a.set_epoch(3, start=4)
    full = EpochSampler(10, seed=1)
    full.set_epoch(3)
    assert list(a) == list(full)[4:] and len(a) == 6


def test_sampler_shards_cover_the_data():
    train = [EpochSampler(11, seed=0, rank=r, world_size=2) for r in range(2)]
    assert len(train[0]) == len(train[1]) == 6  # padded so every rank runs the same steps
    assert {i for s in train for _, i in s} == set(range(11))
    test = [EpochSampler(11, seed=0, shuffle=False, rank=r, world_size=2, pad=False) for r in range(2)]
    assert sorted(i for s in test for _, i in s) == list(range(11))


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _config(out, world):
    return resolve(
        TrainConfig(
            model="tiny",
            epochs=3,
            batch_size=8,
            effective_batch=16,
            optimizer="adamw",
            lr=1e-2,
            workers=0,
            out=str(out),
            progress=False,
            tensorboard=False,
            seed=5,
        ),
        world_size=world,
    )


def _worker(rank, world, port, out):
    os.environ.update(
        RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank), MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port)
    )
    torch.set_num_threads(1)
    distributed.init_distributed("cpu")
    try:
        torch.manual_seed(0)
        fit(_config(out, world), tiny_model(), TinyClips(48), TinyClips(24, seed=1))
        # many unreadable videos: some rank gets a batch with nothing in it, and no rank may hang
        config = _config(out.parent / "bad", world)
        config.batch_size, config.epochs = 2, 1
        fit(config, tiny_model(), TinyClips(48, bad=range(0, 48, 3)), TinyClips(24, seed=1, bad=(0, 1)))
    finally:
        distributed.cleanup()


def test_two_gloo_processes_match_one(tmp_path):
    torch.manual_seed(0)
    single = fit(_config(tmp_path / "one", 1), tiny_model(), TinyClips(48), TinyClips(24, seed=1))
    mp.spawn(_worker, args=(2, _free_port(), tmp_path / "two"), nprocs=2, join=True)
    lines = read_metrics(tmp_path / "two")
    assert [line["epoch"] for line in lines] == [0, 1, 2]  # only rank 0 wrote
    assert not (tmp_path / "two" / "run.lock").exists()  # rank 0 held the folder's lock and released it
    assert all(line["train_clips"] == 48 for line in lines)  # the two shards cover the epoch once
    assert torch.load(tmp_path / "two" / "last.pt", weights_only=True)["config"]["accumulation"] == 1
    assert abs(lines[-1]["val_top1"] - single["last"]["val_top1"]) <= 15
    assert lines[-1]["val_top1"] >= 75
    bad = read_metrics(tmp_path / "bad")[0]
    assert (
        bad["train_clips"] + bad["skipped_train"] == 48 and bad["skipped_train"] > 16
    )  # 16 unreadable + the clips dropped with an empty rank
    assert bad["skipped_val"] == 2
