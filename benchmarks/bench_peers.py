"""Our thesis architectures against other libraries' builds of the same networks, in one process.

For every architecture of the thesis that a peer builds, at the thesis's clip size (batch 1) and 51 classes, this
times inference (eval mode, `torch.inference_mode`) and a training step (train mode, forward + backward) of ours
and of the peer's, round-robin (one pass of each per round, so that a drifting machine slows all alike), with the
same torch threads and the same memory layout for both (channels-last weights and clip by default, as the library
runs; `--layouts channels_last,default` for both). The ratio is in throughput terms:

    ratio = ours clips/s / peer clips/s = peer seconds / our seconds   (>= 1: ours is as fast or faster)

taken within each round; the median and [min, max] over the rounds are reported. Both models' multiply-adds and
parameters are counted (`actionlib.complexity.measure`) so that a reader sees they are the same network; a peer
whose count differs is timed for inference only and marked. Our inference is also timed with BatchNorm folded, as
`evaluate` and `predict` run it (`actionlib.models.fold`).

Peers: PyTorchVideo 0.1.5 (`pip install -e ".[bench]"`): `create_slowfast` (SlowFast-R50 8x8) and `create_resnet`
set to the thesis's "Modified ResNet50" (I3D-R50: 5x7x7 stem with temporal stride 2, 2x3x3 stem pool without
padding, 2x1x1 pool after res2, alternating 3x1x1 kernels); its R(2+1)D has bottleneck blocks only, not the
thesis's 34-layer basic-block network. torchvision: VideoResNet with (2+1)D blocks and layers [3, 4, 6, 3]
(R(2+1)D-34), as shipped and with the IG65M mid widths ig65m-pytorch patches in (the thesis's weights); r3d_18 and
mc3_18 are not thesis architectures. The authors' classes (artest08/LateTemporalModeling3DCNN) when `--authors-repo`
points at a checkout: imported from there at run time, never copied here.

    .venv/bin/python -m benchmarks.bench_peers                        # what `make bench` runs (bench_all.py)
    .venv/bin/python -m benchmarks.bench_peers --quick --out /tmp/p   # tiny clips, 1 round: a smoke run
    .venv/bin/python -m benchmarks.bench_peers --authors-repo ../LateTemporalModeling3DCNN

Writes results/benchmarks/peers.csv and peers.md.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import math
import statistics
import sys
import time
import types
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from actionlib.complexity import measure
from actionlib.engine.train import to_channels_last
from actionlib.models import create
from actionlib.models.fold import fold_batchnorm

from .bench_models import machine

REPO = Path(__file__).resolve().parents[1]

OUT = REPO / "results" / "benchmarks"
CLASSES = 51


class Unavailable(Exception):
    """A peer that cannot be built here (library missing, or it does not build this network)."""


@dataclass
class Peer:
    library: str
    build: object  # (frames, size) -> nn.Module taking (B, 3, T, H, W) and returning (B, 51) logits
    note: str = ""


@dataclass
class Architecture:
    name: str
    row_id: str  # the spec row of Table 3.10 (or 4.1) with this network and clip
    frames: int
    size: int
    ours: object  # (frames, size) -> nn.Module
    peers: list[Peer] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # peers that do not build it, and why


# ---------------------------------------------------------------------------------------------------- PyTorchVideo


def _pytorchvideo():
    try:
        import pytorchvideo.models as models
    except ImportError as error:
        raise Unavailable(f"pytorchvideo not installed ({error}): pip install -e '.[bench]'") from error
    return models


class TwoPathways(nn.Module):
    """PyTorchVideo's SlowFast takes [slow, fast] clips; ours takes the 64-frame clip and samples both itself (Fast:
    every 2nd frame, Slow: every 8th). This does the same sampling in front of the peer's network."""

    def __init__(self, net: nn.Module, fast_stride: int = 2, alpha: int = 4):
        super().__init__()
        self.net, self.fast_stride, self.alpha = net, fast_stride, alpha

    def forward(self, clip):
        fast = clip[:, :, :: self.fast_stride]
        return self.net([fast[:, :, :: self.alpha], fast])


def pytorchvideo_slowfast(frames: int, size: int) -> nn.Module:
    """`create_slowfast` defaults are SlowFast-R50 8x8; its fixed 8x7x7 / 32x7x7 head pools become adaptive (the
    same average at 224 pixels, any size otherwise). Dropout 0.8 as ours (RGB)."""
    models = _pytorchvideo()
    net = models.slowfast.create_slowfast(
        model_num_class=CLASSES, dropout_rate=0.8, head_pool=nn.AdaptiveAvgPool3d, head_output_size=((1, 1, 1),) * 2
    )
    return TwoPathways(net)


def _pool_without_padding(kernel_size, stride, padding):
    """PyTorchVideo pads its stem pool by kernel // 2; the thesis's I3D-R50 (Tushar-N's port) does not pad it."""
    return nn.MaxPool3d(kernel_size, stride)


def pytorchvideo_i3d_r50(frames: int, size: int) -> nn.Module:
    """`create_resnet` set to the thesis's Modified ResNet50: PyTorchVideo's `i3d_r50` hub config (5x7x7 stem,
    2x1x1 pool after res2, alternating 3x1x1 first kernels) with the authors' stem strides: temporal stride 2 in
    the stem convolution and a 2x3x3 stem pool of stride 2 without padding."""
    models = _pytorchvideo()
    return models.resnet.create_resnet(
        model_num_class=CLASSES,
        dropout_rate=0.8,
        stem_conv_kernel_size=(5, 7, 7),
        stem_conv_stride=(2, 2, 2),
        stem_pool=_pool_without_padding,
        stem_pool_kernel_size=(2, 3, 3),
        stem_pool_stride=(2, 2, 2),
        stage1_pool=nn.MaxPool3d,
        stage1_pool_kernel_size=(2, 1, 1),
        stage_conv_a_kernel_size=((3, 1, 1), [(3, 1, 1), (1, 1, 1)], [(3, 1, 1), (1, 1, 1)], [(1, 1, 1), (3, 1, 1)]),
        head_pool=nn.AdaptiveAvgPool3d,
        head_output_size=(1, 1, 1),
    )


# ----------------------------------------------------------------------------------------------------- torchvision


def torchvision_r2plus1d_34(frames: int, size: int, ig65m: bool = False) -> nn.Module:
    """torchvision's VideoResNet with (2+1)D blocks at depth 34; `ig65m`: with the mid widths of the downsampling
    blocks' second convolution that ig65m-pytorch patches in (288, 576, 1152: the Caffe2 layout of the thesis's
    IG65M weights, which ours keeps)."""
    from torchvision.models.video.resnet import Conv2Plus1D

    from .bench_speed import torchvision_r2plus1d

    model = torchvision_r2plus1d((3, 4, 6, 3), num_classes=CLASSES)
    if ig65m:
        for layer, planes, mid in ((model.layer2, 128, 288), (model.layer3, 256, 576), (model.layer4, 512, 1152)):
            layer[0].conv2[0] = Conv2Plus1D(planes, planes, mid)
    return model


# ----------------------------------------------------------------------------------------- the authors' own classes


def _authors_package(repo: Path) -> str:
    """Their `models` folder as a package named `authors_models`, without running its __init__ (which imports every
    model file and downloads nothing, but needs their whole environment)."""
    name = "authors_models"
    if name not in sys.modules:
        package = types.ModuleType(name)
        package.__path__ = [str(repo / "models")]
        sys.modules[name] = package
    return name


def _import_authors(repo: Path, module: str):
    if not (repo / "models" / "rgb_I3D.py").is_file():
        raise Unavailable(f"{repo}: not a checkout of artest08/LateTemporalModeling3DCNN (no models/rgb_I3D.py)")
    try:
        return importlib.import_module(f"{_authors_package(repo)}.{module}")
    except ImportError as error:
        raise Unavailable(f"the authors' {module} does not import here: {error}") from error


class Logits(nn.Module):
    """A network whose forward is not `logits = net(clip)`: calls the method that is."""

    def __init__(self, net: nn.Module, method: str):
        super().__init__()
        self.net, self.method = net, method

    def forward(self, clip):
        return getattr(self.net, self.method)(clip)


def authors_builders(repo: Path) -> dict[str, Peer]:
    """The authors' builds of each architecture (by our architecture name), as their training script makes them
    (`models.__dict__[arch](num_classes, length)`), without pretrained files. Their average pools have the final
    map's fixed size; off the thesis's clip size (--quick) they become adaptive (the same average)."""
    note = "authors' class, no pretrained file"

    def i3d(frames, size):
        model = _import_authors(repo, "rgb_I3D").rgb_I3D64f(CLASSES, frames)
        if (frames, size) != (64, 224):
            model.avgpool = nn.AdaptiveAvgPool3d(1)
        return model

    def resnext(frames, size):
        model = _import_authors(repo, "rgb_resneXt3D").rgb_resneXt3D64f101(CLASSES, frames)
        if (frames, size) != (64, 112):
            model.features[-1] = nn.AdaptiveAvgPool3d(1)
        return model

    def r2plus1d(frames, size):
        # their class rgb_r2plus1d_32f_34 downloads the IG65M file; this is the network it wraps, with 51 classes
        return _import_authors(repo, "r2plus1d.resnet").r2plus1d_34_32_ig65m(CLASSES, pretrained=False)

    def i3d_r50(frames, size, nonlocal_blocks=False):
        module = _import_authors(repo, "non_local.models.resnet")
        return Logits(module.I3Res50(num_classes=CLASSES, use_nl=nonlocal_blocks), "forward_single")

    def slowfast(frames, size):
        module = _import_authors(repo, "rgb_slowfast")
        argv, sys.argv = sys.argv, sys.argv[:1]  # their config loader parses the command line
        try:
            return module.rgb_slowfast64f_50(CLASSES, frames)
        finally:
            sys.argv = argv

    return {
        "I3D": Peer("authors", i3d, note),
        "ResNeXt101-3D": Peer("authors", resnext, note),
        "R(2+1)D-34": Peer("authors", r2plus1d, "r2plus1d_34_32_ig65m, the network their rgb_r2plus1d_32f_34 wraps"),
        "Modified ResNet50": Peer("authors", i3d_r50, "their copy of Tushar-N's I3Res50"),
        "Modified ResNet50 Non-local": Peer(
            "authors", lambda f, s: i3d_r50(f, s, nonlocal_blocks=True), "their copy of Tushar-N's I3Res50, use_nl"
        ),
        "SlowFast-R50 8x8": Peer("authors", slowfast, note),
    }


# ------------------------------------------------------------------------------------------------------ the list


def architectures(authors_repo: Path | None = None, quick: bool = False) -> list[Architecture]:
    """Every thesis architecture with a peer build, and those without (`skipped` says why). `quick`: tiny clips
    (same networks)."""

    def ours(name, **options):
        return lambda frames, size: create(name, num_classes=CLASSES, frames=frames, size=size, **options)

    archs = [
        Architecture(
            "SlowFast-R50 8x8",
            "t3.10/slowfast50_64f",
            64,
            224,
            ours("slowfast_r50"),
            [Peer("pytorchvideo", pytorchvideo_slowfast, "create_slowfast (R50 8x8 defaults)")],
        ),
        Architecture(
            "Modified ResNet50",
            "t3.10/r50_32x2f",
            32,
            224,
            ours("i3d_r50"),
            [Peer("pytorchvideo", pytorchvideo_i3d_r50, "create_resnet, i3d_r50 config with the thesis's stem")],
        ),
        Architecture(
            "Modified ResNet50 Non-local",
            "t3.10/r50nl_32x2f",
            32,
            224,
            ours("i3d_r50", nonlocal_blocks=True),
            [],
            ["pytorchvideo 0.1.5, torchvision: no non-local blocks"],
        ),
        Architecture(
            "R(2+1)D-34",
            "t3.10/r2plus1d34_32f",
            32,
            112,
            ours("r2plus1d_34"),
            [
                Peer(
                    "torchvision (IG65M widths)",
                    lambda f, s: torchvision_r2plus1d_34(f, s, ig65m=True),
                    "VideoResNet [3, 4, 6, 3] + ig65m-pytorch's mid widths",
                ),
                Peer("torchvision", torchvision_r2plus1d_34, "VideoResNet [3, 4, 6, 3] as shipped"),
            ],
            ["pytorchvideo: create_r2plus1d builds bottleneck blocks only (R(2+1)D-50 and deeper), not R(2+1)D-34"],
        ),
        Architecture(
            "I3D", "t3.10/i3d_64f", 64, 224, ours("i3d"), [], ["pytorchvideo, torchvision: no Inception-v1 I3D"]
        ),
        Architecture(
            "ResNeXt101-3D",
            "t4.1/avg",
            64,
            112,
            ours("resnext3d_101"),
            [],
            [
                "pytorchvideo: create_resnet makes every bottleneck a quarter of its output wide; Hara's ResNeXt is "
                "half as wide as its output (and 7x7x7 stem, 3x3x3 grouped convolutions); torchvision: no video "
                "ResNeXt"
            ],
        ),
    ]
    archs[0].skipped.append("torchvision: no SlowFast")
    archs[1].skipped.append("torchvision: no I3D-ResNet50 (r3d_18 and mc3_18 are other networks)")
    for arch in archs:
        if authors_repo is not None:
            arch.peers.append(authors_builders(Path(authors_repo))[arch.name])
        else:
            arch.skipped.append("authors: no --authors-repo given")
    if quick:
        tiny = {"SlowFast-R50 8x8": 8, "R(2+1)D-34": 4, "I3D": 8, "ResNeXt101-3D": 16}
        for arch in archs:
            arch.frames, arch.size = tiny.get(arch.name, 8), 64  # 64 pixels: BatchNorm needs > 1 value at the end
    return archs


# ---------------------------------------------------------------------------------------------------- measuring


def _passes(model: nn.Module, clip: torch.Tensor, train: bool):
    if not train:

        def infer():
            with torch.inference_mode():
                model(clip)

        return infer
    target = torch.zeros(len(clip), dtype=torch.long)

    def step():
        model.zero_grad(set_to_none=True)
        F.cross_entropy(model(clip), target).backward()

    return step


def round_robin(steps: dict[str, object], rounds: int, warmup: int) -> dict[str, list[float]]:
    """Seconds of each step in each round; one call of every step per round, in order."""
    times = {name: [] for name in steps}
    for r in range(warmup + rounds):
        for name, step in steps.items():
            start = time.perf_counter()
            step()
            if r >= warmup:
                times[name].append(time.perf_counter() - start)
    return times


def _spread(values: list[float]) -> tuple[float, float, float]:
    return statistics.median(values), min(values), max(values)


def compare(arch: Architecture, peer: Peer, rounds: int, warmup: int, layout: str, train: bool = True) -> dict | None:
    """One row: ours against one peer at the architecture's clip size, in one memory layout."""
    shape = (3, arch.frames, arch.size, arch.size)
    row = {
        "architecture": arch.name,
        "row_id": arch.row_id,
        "clip": f"{arch.frames}x{arch.size}x{arch.size}",
        "peer": peer.library,
        "layout": layout,
        "threads": torch.get_num_threads(),
        "classes": CLASSES,
        "note": peer.note,
    }
    try:
        theirs = peer.build(arch.frames, arch.size)
    except Unavailable as error:
        return {**row, "note": str(error)}
    except Exception as error:  # their code, their errors: say which and go on with the others
        return {**row, "note": f"the peer's build failed: {type(error).__name__}: {error}"[:300]}
    ours = arch.ours(arch.frames, arch.size)
    clip = torch.randn(1, *shape)
    for who, model in (("ours", ours), ("peer", theirs)):
        model.eval()
        with torch.no_grad():
            logits = model(clip)
        if tuple(logits.shape) != (1, CLASSES):
            return {**row, "note": f"{who}: logits of shape {tuple(logits.shape)}, not (1, {CLASSES})"}
        row[f"{who}_gmacs"] = measure(model, shape).multiply_adds / 1e9
        row[f"{who}_params_m"] = sum(p.numel() for p in model.parameters()) / 1e6
    row["same_network"] = math.isclose(row["ours_gmacs"], row["peer_gmacs"], rel_tol=1e-3) and math.isclose(
        row["ours_params_m"], row["peer_params_m"], rel_tol=1e-3
    )
    if layout == "channels_last":
        to_channels_last(ours)
        to_channels_last(theirs)
        clip = clip.contiguous(memory_format=torch.channels_last_3d)
    folded = fold_batchnorm(ours)
    steps = {"ours": _passes(ours, clip, False), "folded": _passes(folded, clip, False)}
    steps["peer"] = _passes(theirs, clip, False)
    times = round_robin(steps, rounds, warmup)
    del folded
    _record(row, "infer", times["ours"], times["peer"])
    row["infer_ours_folded_s"] = statistics.median(times["folded"])
    ratios = [p / f for p, f in zip(times["peer"], times["folded"], strict=True)]
    row["infer_folded_ratio"], row["infer_folded_ratio_min"], row["infer_folded_ratio_max"] = _spread(ratios)
    if train and row["same_network"]:
        ours.train()
        theirs.train()
        times = round_robin({"ours": _passes(ours, clip, True), "peer": _passes(theirs, clip, True)}, rounds, warmup)
        _record(row, "train", times["ours"], times["peer"])
    elif train:
        row["note"] += "; not the same network (multiply-adds or parameters differ): inference only"
    return row


def _record(row: dict, prefix: str, ours: list[float], peer: list[float]) -> None:
    row[f"{prefix}_ours_s"], row[f"{prefix}_ours_min_s"], row[f"{prefix}_ours_max_s"] = _spread(ours)
    row[f"{prefix}_peer_s"], row[f"{prefix}_peer_min_s"], row[f"{prefix}_peer_max_s"] = _spread(peer)
    ratios = [p / o for o, p in zip(ours, peer, strict=True)]  # ours clips/s over the peer's, per round
    row[f"{prefix}_ratio"], row[f"{prefix}_ratio_min"], row[f"{prefix}_ratio_max"] = _spread(ratios)


def run(
    authors_repo: Path | None = None,
    rounds: int = 3,
    warmup: int = 1,
    layouts=("channels_last",),
    quick: bool = False,
    train: bool = True,
    log=print,
) -> tuple[pd.DataFrame, list[str]]:
    """What the suite calls: (rows, notes on the peers that were skipped)."""
    rows, skipped = [], []
    for arch in architectures(authors_repo, quick):
        skipped += [f"{arch.name}: {s}" for s in arch.skipped]
        for peer in arch.peers:
            for layout in layouts:
                row = compare(arch, peer, rounds, warmup, layout, train)
                rows.append(row)
                if "infer_ratio" in row:
                    log(
                        f"peers: {arch.name} vs {peer.library} ({layout}): inference x{row['infer_ratio']:.3f}"
                        + (f", training x{row['train_ratio']:.3f}" if "train_ratio" in row else "")
                    )
                else:
                    log(f"peers: {arch.name} vs {peer.library}: skipped, {row['note']}")
    return pd.DataFrame(rows), skipped


# ------------------------------------------------------------------------------------------------------ writing


def _cell(row, prefix: str) -> str:
    if pd.isna(row.get(prefix)):
        return "-"
    return f"{row[prefix]:.3f} [{row[prefix + '_min']:.3f}, {row[prefix + '_max']:.3f}]"


def verdict(rows: pd.DataFrame) -> tuple[str, str]:
    """(measured, verdict) of the goal: no architecture slower than any peer's build of the same network."""
    same = rows["same_network"] if "same_network" in rows else pd.Series(False, rows.index)
    timed = rows[same.map(lambda v: str(v) == "True")]  # a bool, or its text in a CSV read back
    if timed.empty:
        return "no peer build of the same network was timed", "not measured"
    worst = []
    columns = {
        "infer_folded_ratio": "inference (ours BN folded, as evaluate runs)",
        "infer_ratio": "inference (not folded)",
        "train_ratio": "training step",
    }
    for column, what in columns.items():
        values = timed[column].dropna() if column in timed else pd.Series(dtype=float)
        if not values.empty:
            low = timed.loc[values.idxmin()]
            where = f"{low['architecture']} vs {low['peer']}, {low['layout']}"
            worst.append((values.min(), f"{what} {values.min():.3f} ({where})"))
    measured = "lowest ours / peer clips/s: " + "; ".join(text for _, text in worst)
    lowest = min(value for value, _ in worst)
    return measured, "met" if lowest >= 1.0 else f"missed: {100 * (1 - lowest):.0f} % slower at worst"


def markdown(rows: pd.DataFrame, skipped: list[str], info: dict, rounds: int, warmup: int) -> str:
    lines = ["# Our architectures against other libraries' builds (batch 1)", ""]
    lines += [f"- {k}: {v}" for k, v in info.items()]
    lines += [f"- each figure: median [min, max] of {rounds} round-robin rounds after {warmup} warm-up", ""]
    measured, result = verdict(rows)
    lines += [
        "Goal: no architecture slower than any peer's build of it, in throughput: "
        "**ratio = ours clips/s / peer clips/s = peer seconds / our seconds, >= 1.0**, for the peers that build "
        f"the same network (equal multiply-adds and parameters). Measured: {measured}. **{result}**.",
        "",
    ]
    timed = rows[rows["infer_ratio"].notna()] if "infer_ratio" in rows else rows.iloc[:0]
    if not timed.empty:
        table = pd.DataFrame(
            {
                "architecture": timed["architecture"],
                "clip": timed["clip"],
                "peer": timed["peer"],
                "layout": timed["layout"],
                "G mult-adds ours / peer": timed.apply(lambda r: f"{r.ours_gmacs:.2f} / {r.peer_gmacs:.2f}", axis=1),
                "M params ours / peer": timed.apply(lambda r: f"{r.ours_params_m:.2f} / {r.peer_params_m:.2f}", axis=1),
                "inference s ours / peer": timed.apply(
                    lambda r: f"{r.infer_ours_s:.3f} / {r.infer_peer_s:.3f}", axis=1
                ),
                "inference ratio": timed.apply(_cell, axis=1, prefix="infer_ratio"),
                "inference ratio, ours BN folded": timed.apply(_cell, axis=1, prefix="infer_folded_ratio"),
                "training ratio": timed.apply(_cell, axis=1, prefix="train_ratio"),
            }
        )
        lines += [table.to_markdown(index=False), ""]
    lines += [
        "Other Table 3.10 architectures (MFNet, TSM-50, Rep-Flow-50) have no peer build here; PyTorchVideo's X3D "
        "and torchvision's r3d_18 and mc3_18 are not thesis architectures.",
        "",
        "Ratios above 1: ours is faster. Both models run in the same process with the same threads and layout, "
        "one pass of each per round (ratios taken within a round); the clip and the 51-class classifier are the "
        "same. Inference in eval mode under `torch.inference_mode`; training is forward + backward in train mode. "
        "'ours BN folded': our inference as `evaluate` and `predict` run it (each BatchNorm folded into its "
        "convolution); the peers run theirs as they ship.",
        "",
    ]
    notes = [f"- {r.architecture} vs {r.peer} ({r.layout}): {r.note}" for r in rows.itertuples() if r.note]
    notes += [f"- {s}" for s in skipped]
    if notes:
        lines += ["## Notes", ""] + notes + [""]
    return "\n".join(lines)


def write(rows: pd.DataFrame, skipped: list[str], out: Path, info: dict, rounds: int, warmup: int) -> None:
    """peers.csv and peers.md (machine `info` on top, with the peers' versions)."""
    info = dict(info)
    for library in ("torchvision", "pytorchvideo"):
        with contextlib.suppress(ImportError):
            info.setdefault(library, importlib.import_module(library).__version__)
    out.mkdir(parents=True, exist_ok=True)
    rows.to_csv(out / "peers.csv", index=False, float_format="%.4g")
    (out / "peers.md").write_text(markdown(rows, skipped, info, rounds, warmup))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--authors-repo", type=Path, help="a checkout of artest08/LateTemporalModeling3DCNN")
    parser.add_argument("--rounds", type=int, default=3, help="timed round-robin rounds (after --warmup)")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--layouts", default="channels_last", help="channels_last, default, or both comma-separated")
    parser.add_argument("--no-train", action="store_true", help="inference only")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    parser.add_argument("--quick", action="store_true", help="tiny clips, 1 round, no warm-up: a smoke run")
    parser.add_argument("--out", type=Path, default=OUT, help="folder for peers.csv and peers.md")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.quick:
        args.rounds, args.warmup = 1, 0
    torch.manual_seed(0)
    layouts = tuple(args.layouts.split(","))
    rows, skipped = run(args.authors_repo, args.rounds, args.warmup, layouts, args.quick, not args.no_train)
    write(rows, skipped, args.out, machine(), args.rounds, args.warmup)
    print(f"wrote {args.out / 'peers.csv'} and peers.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
