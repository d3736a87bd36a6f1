"""`actionlib predict` runs like `evaluate`: under inference_mode, with channels-last weights and clips."""

import argparse
import json

import av
import numpy as np
import pytest
import torch

from actionlib.engine import checkpointing
from actionlib.engine.checkpointing import save_checkpoint
from actionlib.engine.cli import add_parsers
from actionlib.engine.train import TrainConfig
from actionlib.models import create

OPTIONS = {"blocks": (1, 1, 1, 1), "width": 16, "frames": 4, "size": 32}


def write_video(path, frames=12, width=64, height=48):
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=25)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for i in range(frames):
            image = np.full((height, width, 3), 10 * i, dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def test_predict_uses_inference_mode_and_channels_last(tmp_path, monkeypatch, capsys):
    model = create("resnext3d_101", num_classes=3, **OPTIONS)
    config = TrainConfig(model="resnext3d_101", options=OPTIONS, num_classes=3, class_names=["a", "b", "c"])
    save_checkpoint({"model": model.state_dict(), "config": config.to_dict()}, tmp_path / "best.pt")
    video = tmp_path / "clip.avi"
    write_video(video)

    seen = []
    load_model = checkpointing.load_model

    def spying_load_model(path, *args, **kwargs):
        loaded, values = load_model(path, *args, **kwargs)

        def record(module, inputs):
            (clip,) = inputs
            seen.append(
                {
                    "inference_mode": torch.is_inference_mode_enabled(),
                    "clip_channels_last": clip.is_contiguous(memory_format=torch.channels_last_3d),
                    "weight_channels_last": module.backbone.conv1.weight.is_contiguous(
                        memory_format=torch.channels_last_3d
                    ),
                }
            )

        loaded.register_forward_pre_hook(record)
        return loaded, values

    monkeypatch.setattr(checkpointing, "load_model", spying_load_model)
    parser = argparse.ArgumentParser()
    add_parsers(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["predict", str(video), "--checkpoint", str(tmp_path / "best.pt"), "--json"])
    assert args.func(args) == 0
    result = json.loads(capsys.readouterr().out)
    assert result[0]["predictions"][0]["class"] in ("a", "b", "c")
    assert seen and all(s == dict.fromkeys(s, True) for s in seen)


@pytest.mark.slow
def test_evaluate_compiled_gives_the_same_scores(tmp_path):
    from actionlib.data.synthetic import generate
    from actionlib.engine.evaluate import evaluate_checkpoint

    root = tmp_path / "synthetic"
    classes = ["sit_down", "stand_up"]
    generate(root, classes=classes, videos_per_class=2, frames=16, size=(64, 48), splits=1, pose=False)
    model = create("resnext3d_101", num_classes=2, **OPTIONS)
    config = TrainConfig(
        model="resnext3d_101", options=OPTIONS, dataset="synthetic", root=str(root), num_classes=2, class_names=classes
    )
    save_checkpoint({"model": model.state_dict(), "config": config.to_dict()}, tmp_path / "best.pt")
    _, eager, _ = evaluate_checkpoint(tmp_path / "best.pt", workers=0, device="cpu")
    _, compiled, _ = evaluate_checkpoint(tmp_path / "best.pt", workers=0, device="cpu", compile=True)
    torch.testing.assert_close(compiled["scores"], eager["scores"], rtol=1e-3, atol=1e-4)
