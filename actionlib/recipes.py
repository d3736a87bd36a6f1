"""The thesis's experiments as training recipes: what the `full` profile trains and tests for each table row.

A `Stream` is one fine-tuning run (model, modality, public initialisation, optimizer settings, teacher); a
`Recipe` is one row of a thesis table: the streams whose test scores it fuses, the test protocol, the dataset.
Streams are shared between rows (Table 3.3's BERT row and Table 3.2's AdamW row are the same run), so each is
trained once per split and seed. `train_stream` trains what is missing through `engine.train.run` (resuming an
interrupted run from its last.pt) and tests each stream with `engine.evaluate.evaluate_checkpoint` (scores
cached beside the checkpoint); `actionlib.study` runs the rows on every profile (fusion, tables).

Where the text and the authors' code leave a row undefined it says so in `Recipe.unsupported` rather than
guessing. Data layout under the profile's `data_root` (see README, "Full profile"): the videos and split files in
the published layouts (`hmdb51/`, `UCF-101/` + `ucfTrainTestlist/`), TV-L1 flow frame folders in
`<dataset>_flow/<class>/<video>/flow_{x,y}_00001.jpg` and pose frames in `<dataset>_pose/<class>/<video>/`.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd


@dataclass(frozen=True)
class Stream:
    """One fine-tuning run of the thesis: a model on one modality from a public initialisation."""

    model: str
    modality: str = "rgb"
    options: dict = field(default_factory=dict)  # registry options: head, reduction, fusion, frames, size, ...
    weights: str | None = None  # public checkpoint file under weights_dir
    train: dict = field(default_factory=dict)  # TrainConfig fields: optimizer, lr, stride, distill, ...
    teacher: str | None = None  # key of the stream whose best.pt is the distillation teacher
    frame_size: tuple[int, int] | None = None  # (H, W) frames are resized to before cropping; None: the family's


@dataclass(frozen=True)
class Recipe:
    table: str
    row: str  # as in accuracy_reference.csv
    streams: tuple[str, ...] = ()  # keys of STREAMS; several: late fusion of their scores
    protocol: str = "multi-center"
    dataset: str = "hmdb51"
    three_splits: bool = False  # the thesis reports the mean over the three splits
    unsupported: str | None = None  # why this row cannot be run as the thesis ran it
    test_frames: int | None = None  # frames (2D: segments) at test time where they differ from training


# Public initialisations (README, "Full profile", says where each comes from).
IMAGENET = {18: "resnet18-f37072fd.pth", 34: "resnet34-b627a593.pth", 50: "resnet50-0676ba61.pth",
            101: "resnet101-63fe2227.pth"}  # fmt: skip
RX_RGB, RX_RGB16, RX_FLOW = "resnext-101-64f-kinetics.pth", "resnext-101-kinetics.pth", "Flow_Kinetics_64f.pth"
R3D_16, MARS = "resnet-101-kinetics.pth", "MARS_Kinetics_64f.pth"
I3D_RGB, I3D_FLOW = "rgb_imagenet.pth", "flow_imagenet.pth"
SLOWFAST, R2P1D = "SLOWFAST_8x8_R50_torch.pth", "r2plus1d_34_clip32_ig65m_from_scratch-449a7af9.pth"
# TSM's Kinetics checkpoints: dense 8x8 sampling (the authors' first scripts) and TSN-style segment sampling, the
# "segment pre-training" of Table 3.10's footnoted row (the authors' later utils/model_path.py)
TSM_DENSE = "TSM_kinetics_RGB_resnet50_shift8_blockres_avg_segment8_e100_dense.pth"
TSM_SEGMENT = "TSM_kinetics_RGB_resnet50_shift8_blockres_avg_segment16_e50.pth"
# Frames resized to 256x340 before a 224 crop: what the authors' scripts do whenever a model runs at 224 px
FRAME_224 = (256, 340)

FRMB = {"head": "bert", "reduction": "frmb"}
FRAB = {"head": "bert", "reduction": "frab"}
BERT_DISTILL = {"distill": "bert"}


def _r2d(depth: int = 18, modality: str = "rgb", **options) -> Stream:
    return Stream(f"resnet{depth}", modality, {"frames": 16, **options}, IMAGENET[depth])


def _rx(modality: str = "rgb", weights: str | None = None, train: dict | None = None, teacher=None, **options):
    weights = weights or (RX_FLOW if modality == "flow" else RX_RGB)
    return Stream("resnext3d_101", modality, {"frames": 64, **options}, weights, train or {}, teacher)


STREAMS: dict[str, Stream] = {
    # Chapter 3, 2D ResNets (16 TSN segments, 224 px, ImageNet)
    **{
        f"r18_bert_{opt}": _r2d(head="bert")
        if opt == "adamw"
        else Stream("resnet18", "rgb", {"frames": 16, "head": "bert"}, IMAGENET[18], {"optimizer": opt})
        for opt in ("adam", "swats", "adamw", "sgd")
    },
    "r18_single_frame": _r2d(frames=1),
    **{f"r18_{head}": _r2d(head=head) for head in ("avg", "nl_avg", "concat", "nl_concat", "lstm", "convgru")},
    # ours: average pooling without the classifier's dropout 0.8 (see rx101_rgb_no_dropout)
    "r18_avg_no_dropout": _r2d(head="avg", dropout=0.0),
    **{f"r18_concat_{fusion}": _r2d(head="concat", fusion=fusion) for fusion in ("dual", "triple", "quadruplet")},
    **{f"r{d}_concat_triple": _r2d(d, head="concat", fusion="triple") for d in (34, 50, 101)},
    **{
        f"r18_{m}_{name}": _r2d(18, m, **o)
        for m in ("flow", "pose")
        for name, o in (
            ("avg", {"head": "avg"}),
            ("concat", {"head": "concat"}),
            ("concat_triple", {"head": "concat", "fusion": "triple"}),
            ("bert", {"head": "bert"}),
        )
    },
    "r18_bert_l2": _r2d(head="bert", normalize_input=True),  # ours: L2-normalised tokens, as the authors' I3D-BERT
    "r101_flow_bert": _r2d(101, "flow", head="bert"),
    "r101_pose_bert": _r2d(101, "pose", head="bert"),
    # Chapter 3, 3D CNNs (Kinetics; Table 3.8 clip length and resolution, 3.9 two streams, 3.10 architectures)
    "r3d101_16f": Stream("resnet3d_101", "rgb", {"frames": 16}, R3D_16),
    "rx101_16f": _rx(weights=RX_RGB16, frames=16),
    "r3d101_64f_from16": Stream("resnet3d_101", "rgb", {"frames": 64}, R3D_16),
    "rx101_64f_from16": _rx(weights=RX_RGB16),
    "rx101_rgb": _rx(),
    # ours: TGAP without the classifier's dropout 0.8 (a linear classifier on frozen features reaches its
    # logistic-regression ceiling only without it on the CPU profiles: the baseline BERT is tested against again)
    "rx101_rgb_no_dropout": _rx(dropout=0.0),
    "rx101_rgb_224": dataclasses.replace(_rx(size=224), frame_size=FRAME_224),
    "rx101_flow": _rx("flow"),
    "i3d_rgb": Stream("i3d", "rgb", {"frames": 64}, I3D_RGB),
    "i3d_flow": Stream("i3d", "flow", {"frames": 64}, I3D_FLOW),
    "mfnet_16f": Stream("mfnet3d", "rgb", {"frames": 16}, "MFNet3D_Kinetics-400_72.8.pth"),
    "repflow_32f": Stream("repflow_50", "rgb", {"frames": 32}, "rep_flow_kinetics.pth"),
    # 8f: 8 consecutive frames; 8x8f: 8 frames 8 apart from a 64-frame window (TSM's dense sampling)
    "tsm_8f": Stream("tsm_r50", "rgb", {"frames": 8}, TSM_DENSE, {"stride": 1}),
    "tsm_8x8f": Stream("tsm_r50", "rgb", {"frames": 8}, TSM_DENSE, {"stride": 8}),
    "tsm_8x8f_segment": Stream("tsm_r50", "rgb", {"frames": 8}, TSM_SEGMENT, {"stride": 8}),
    **{
        f"i3dr50{nl}_{f}": Stream(
            "i3d_r50",
            "rgb",
            {"frames": n, **({"nonlocal_blocks": True} if nl else {})},
            f"i3d_r50{nl}_kinetics.pth",
            {"stride": s},
        )
        for nl in ("", "_nl")
        for f, n, s in (("32x2f", 32, 2), ("64f", 64, 1))
    },
    "slowfast": Stream("slowfast_r50", "rgb", {"frames": 64}, SLOWFAST),
    "mars_kinetics": _rx(weights=MARS),
    "r2plus1d_32f": Stream("r2plus1d_34", "rgb", {"frames": 32}, R2P1D),
    # Chapter 4: BERT on the 3D backbones (AdamW 1e-5; I3D 1e-4: the engine's defaults for BERT heads)
    "rx101_rgb_adamw": _rx(train={"optimizer": "adamw", "lr": 1e-5}),
    **{
        f"rx101_{head}_frmb": _rx(head=head, reduction="frmb", train={"optimizer": "adamw", "lr": 1e-5})
        for head in ("avg", "concat", "lstm", "concat_fc", "nl_concat_fc")
    },
    "rx101_rgb_bert_frmb": _rx(**FRMB),
    "rx101_rgb_bert_frab": _rx(**FRAB),
    "rx101_flow_bert_frmb": _rx("flow", **FRMB),
    **{
        f"rx101_bert_{name}": _rx(**FRMB, **o)
        for name, o in (
            ("mean_8h", {"layers": 1, "heads": 8, "cls": "mean"}),
            ("cls_1h", {"layers": 1, "heads": 1}),
            ("cls_2l", {"layers": 2, "heads": 8}),
        )
    },
    "i3d_rgb_bert": Stream("i3d", "rgb", {"frames": 64, "head": "bert"}, I3D_RGB),
    "i3d_rgb_bert_frab": Stream("i3d", "rgb", {"frames": 64, **FRAB}, I3D_RGB),
    "i3d_flow_bert": Stream("i3d", "flow", {"frames": 64, "head": "bert"}, I3D_FLOW),
    "i3d_flow_bert_frab": Stream("i3d", "flow", {"frames": 64, **FRAB}, I3D_FLOW),
    **{
        f"slowfast_bert_{f}": Stream("slowfast_r50", "rgb", {"frames": 64, **FRAB, "fusion": f}, SLOWFAST)
        for f in ("early", "late")
    },
    "r2plus1d_32f_bert": Stream("r2plus1d_34", "rgb", {"frames": 32, "head": "bert"}, R2P1D),
    "r2plus1d_32x2f_bert": Stream("r2plus1d_34", "rgb", {"frames": 32, "head": "bert"}, R2P1D, {"stride": 2}),
    "r2plus1d_64f_bert": Stream("r2plus1d_34", "rgb", {"frames": 64, "head": "bert"}, R2P1D),
    # UCF101 streams for Table 4.7 are the same runs on the other dataset (`run` keys runs by dataset).
    # Chapter 5: distillation (Eq. 5.1 with lambda; MARS: 50 x MSE of the pooled features)
    **{
        f"rx101_frmb_from_flow_{k}k": _rx(
            **FRMB, train={**BERT_DISTILL, "distill_weight": k * 1e3}, teacher="rx101_flow_bert_frmb"
        )
        for k in (25, 50, 100, 250, 500)
    },
    "rx101_frab_from_flow": _rx(**FRAB, train={**BERT_DISTILL, "distill_weight": 1e5}, teacher="rx101_flow_bert_frmb"),
    "rx101_frab_from_r2plus1d": _rx(
        **FRAB, train={**BERT_DISTILL, "distill_weight": 1e5}, teacher="r2plus1d_32x2f_bert"
    ),
    "rx101_mars_from_flow": _rx(train={"distill": "mars"}, teacher="rx101_flow"),
    # the other direction, not in the thesis: RGB (the pose frames on CPU) teaching flow, at the thesis's lambda
    "rx101_flow_frmb_from_rgb": _rx(
        "flow", **FRMB, train={**BERT_DISTILL, "distill_weight": 1e5}, teacher="rx101_rgb_bert_frmb"
    ),
}

# The test protocol per chapter: 2D models one set of 16 TSN segments with ten crops (Table 3.2's "Ten Crop
# Test", Section 3.3.1); 3D models multiple non-overlapping clips with ten crops (Section 3.4.1 and Appendix C.2;
# Chapters 4-5: Section 4.2.2's multi-scale cropping "for fine-tuning and testing", and every split-1 value of
# Table C.3 equals the multi-clip ten-crop column of Tables C.1/C.2).
_2D, _3D, _CH4 = "single-ten", "multi-ten", "multi-ten"


def _rows(table: str, protocol: str, rows: dict, test_frames: dict | None = None, **common) -> list[Recipe]:
    """Recipes of one table: {row name: stream key, tuple of keys (fused) or an `unsupported` reason};
    `test_frames`: {row name: frames at test} where they differ from training."""
    recipes = []
    for row, streams in rows.items():
        frames = (test_frames or {}).get(row)
        if isinstance(streams, str) and streams not in STREAMS:
            recipes.append(Recipe(table, row, (), protocol, unsupported=streams, test_frames=frames, **common))
        else:
            keys = (streams,) if isinstance(streams, str) else streams
            recipes.append(Recipe(table, row, keys, protocol, test_frames=frames, **common))
    return recipes


RECIPES: list[Recipe] = [
    *_rows(
        "3.2",
        _2D,
        {
            f"RGB-ResNet18-BERT {name} ten-crop": f"r18_bert_{opt}"
            for name, opt in (("ADAM", "adam"), ("SWAT", "swats"), ("ADAMW", "adamw"), ("SGD", "sgd"))
        },
        three_splits=True,
    ),
    *_rows(
        "3.3",
        _2D,
        {
            "ResNet18 No Pooling": "r18_single_frame",
            "ResNet18 Average Pooling": "r18_avg",
            "ResNet18 Non-local + Average Pooling": "r18_nl_avg",
            "ResNet18 Concatenation": "r18_concat",
            "ResNet18 Non-local + Concatenation": "r18_nl_concat",
            "ResNet18 LSTM": "r18_lstm",
            "ResNet18 Convolutional GRU": "r18_convgru",
            "ResNet18 BERT": "r18_bert_adamw",
            "ResNet18 BERT, L2-normalised input (not in the thesis)": "r18_bert_l2",
            "ResNet18 Average Pooling, no dropout (not in the thesis)": "r18_avg_no_dropout",
        },
        # trained on one frame, tested on 16 like average pooling (Section 3.3.1)
        test_frames={"ResNet18 No Pooling": 16},
        three_splits=True,
    ),
    *_rows(
        "3.4",
        _2D,
        {
            "ResNet18 concat No fusion": "r18_concat",
            "ResNet18 concat Dual Fusion": "r18_concat_dual",
            "ResNet18 concat Triple Fusion": "r18_concat_triple",
            "ResNet18 concat Quadruplet Fusion": "r18_concat_quadruplet",
        },
        three_splits=True,
    ),
    *_rows(
        "3.5",
        _2D,
        {f"ResNet{d} concat + triple fusion": f"r{d}_concat_triple" for d in (18, 34, 50, 101)},
        three_splits=True,
    ),
    *_rows(
        "3.6",
        _2D,
        {
            f"ResNet18 {m.title()} {name}": f"r18_{m}_{key}"
            for m in ("flow", "pose")
            for name, key in (
                ("Average Pooling", "avg"),
                ("Concatenation No Fusion", "concat"),
                ("Concatenation Triple Fusion", "concat_triple"),
                ("BERT", "bert"),
            )
        },
        three_splits=True,
    ),
    *_rows(
        "3.7",
        _2D,
        {
            f"ResNet{d} {name}": streams
            for d, (rgb, flow, pose) in (
                # the RGB stream is concatenation with triple fusion: Table 3.7's 52.02 and 58.80 are Tables
                # 3.4's and 3.5's triple-fusion values (plain concatenation: 51.04)
                (18, ("r18_concat_triple", "r18_flow_bert", "r18_pose_bert")),
                (101, ("r101_concat_triple", "r101_flow_bert", "r101_pose_bert")),
            )
            for name, streams in (
                ("RGB Concatenation", rgb),
                ("Flow BERT", flow),
                ("Pose BERT", pose),
                ("Two-Stream (RGB concat + Flow BERT)", (rgb, flow)),
                ("Three-Stream (+ Pose BERT)", (rgb, flow, pose)),
            )
        }
        | {"ResNet18 Flow + Pose BERT (not in the thesis)": ("r18_flow_bert", "r18_pose_bert")},
        three_splits=True,
    ),
    *_rows(
        "3.8",
        _3D,
        {
            "3D ResNet101 16f": "r3d101_16f",
            "3D ResNeXt101 16f": "rx101_16f",
            "3D ResNet101 64f (16f pre-trained)": "r3d101_64f_from16",
            "3D ResNeXt101 64f (16f pre-trained)": "rx101_64f_from16",
            "3D ResNeXt101 64f": "rx101_rgb",
            "3D ResNeXt101 64f 224 (64f-112 pre-trained)": "rx101_rgb_224",
        },
    ),
    *_rows(
        "3.9",
        _3D,
        {
            "ResNeXt101 RGB": "rx101_rgb",
            "ResNeXt101 Flow": "rx101_flow",
            "ResNeXt101 Two-Stream": ("rx101_rgb", "rx101_flow"),
            "I3D RGB": "i3d_rgb",
            "I3D Flow": "i3d_flow",
            "I3D Two-Stream": ("i3d_rgb", "i3d_flow"),
        },
    ),
    *_rows(
        "3.10",
        _3D,
        {
            "ResNeXt101 112x112 16f": "rx101_16f",
            "ResNeXt101 112x112 64f": "rx101_rgb",
            "MFNET 224x224 16f": "mfnet_16f",
            "Rep-Flow-50 224x224 32f": "repflow_32f",
            "TSM-50 224x224 8f": "tsm_8f",
            "TSM-50 224x224 8x8f": "tsm_8x8f",
            "TSM-50 224x224 8x8f (segment pre-training)": "tsm_8x8f_segment",
            "Modified ResNet50 224x224 32x2f": "i3dr50_32x2f",
            "Modified ResNet50 Non-local 224x224 32x2f": "i3dr50_nl_32x2f",
            "Modified ResNet50 224x224 64f": "i3dr50_64f",
            "Modified ResNet50 Non-local 224x224 64f": "i3dr50_nl_64f",
            "I3D 224x224 64f": "i3d_rgb",
            "SlowFast-50 (8x8) 224x224 64f": "slowfast",
            "MARS ResNext101 112x112 64f": "mars_kinetics",
            "R(2+1)D ResNet34 112x112 32f": "r2plus1d_32f",
        },
    ),
    *_rows(
        "4.1",
        _CH4,
        {
            "ResNeXt101 Average Pooling (baseline) SGD": "rx101_rgb",
            "ResNeXt101 Average Pooling ADAMW": "rx101_rgb_adamw",
            "ResNeXt101 Average Pooling FRMB ADAMW": "rx101_avg_frmb",
            "ResNeXt101 Concatenation FRMB": "rx101_concat_frmb",
            "ResNeXt101 LSTM FRMB": "rx101_lstm_frmb",
            "ResNeXt101 Concatenation + FC FRMB": "rx101_concat_fc_frmb",
            "ResNeXt101 Non-local + Concatenation + FC FRMB": "rx101_nl_concat_fc_frmb",
            "ResNeXt101 BERT pooling FRMB": "rx101_rgb_bert_frmb",
            "ResNeXt101 Average Pooling SGD, no dropout (not in the thesis)": "rx101_rgb_no_dropout",
        },
        three_splits=True,
    ),
    *_rows(
        "4.2",
        _CH4,
        {
            "BERT 1 layer 8 heads pooled features": "rx101_bert_mean_8h",
            "BERT 1 layer 1 head classification token": "rx101_bert_cls_1h",
            "BERT 1 layer 8 heads classification token": "rx101_rgb_bert_frmb",
            "BERT 2 layers 8 heads classification token": "rx101_bert_cls_2l",
        },
        three_splits=True,
    ),
    *_rows(
        "4.3",
        _CH4,
        {
            "ResNeXt101 RGB": "rx101_rgb",
            "ResNeXt101 RGB BERT (FRMB)": "rx101_rgb_bert_frmb",
            "ResNeXt101 Flow": "rx101_flow",
            "ResNeXt101 Flow BERT (FRMB)": "rx101_flow_bert_frmb",
            "ResNeXt101 Two-stream": ("rx101_rgb", "rx101_flow"),
            "ResNeXt101 Two-stream BERT (FRMB)": ("rx101_rgb_bert_frmb", "rx101_flow_bert_frmb"),
        },
    ),
    *_rows(
        "4.4",
        _CH4,
        {
            "I3D RGB": "i3d_rgb",
            "I3D RGB BERT FRAB": "i3d_rgb_bert_frab",
            "I3D RGB BERT": "i3d_rgb_bert",
            "I3D Flow": "i3d_flow",
            "I3D Flow BERT FRAB": "i3d_flow_bert_frab",
            "I3D Flow BERT": "i3d_flow_bert",
            "I3D Two-stream": ("i3d_rgb", "i3d_flow"),
            "I3D Two-stream BERT FRAB": ("i3d_rgb_bert_frab", "i3d_flow_bert_frab"),
            "I3D Two-stream BERT": ("i3d_rgb_bert", "i3d_flow_bert"),
        },
    ),
    *_rows(
        "4.5",
        _CH4,
        {
            "SlowFast-50": "slowfast",
            "SlowFast-50 BERT early-fusion": "slowfast_bert_early",
            "SlowFast-50 BERT late-fusion": "slowfast_bert_late",
        },
    ),
    *_rows("4.6", _CH4, {"R(2+1)D-34": "r2plus1d_32f", "R(2+1)D-34 BERT": "r2plus1d_32f_bert"}),
    *[
        recipe
        for dataset in ("hmdb51", "ucf101")
        for recipe in _rows(
            "4.7",
            _CH4,
            {
                "ResNeXt101 two-stream": ("rx101_rgb", "rx101_flow"),
                "ResNeXt101 BERT two-stream": ("rx101_rgb_bert_frmb", "rx101_flow_bert_frmb"),
                "R(2+1)D (32f) IG65M": "r2plus1d_32f",
                "R(2+1)D BERT (32f) IG65M": "r2plus1d_32f_bert",
                "R(2+1)D BERT (64f) IG65M": "r2plus1d_64f_bert",
            },
            dataset=dataset,
            three_splits=True,
        )
    ],
    *_rows("5.1", _CH4, {f"lambda {k}k": f"rx101_frmb_from_flow_{k}k" for k in (25, 50, 100, 250, 500)}),
    *_rows(
        "5.2",
        _CH4,
        {
            "RGB-ResNeXt101-BERT-FRMB no distillation": "rx101_rgb_bert_frmb",
            "RGB-ResNeXt101-BERT-FRAB no distillation": "rx101_rgb_bert_frab",
            "RGB-ResNeXt101-BERT-FRMB <- Flow-ResNeXt101-BERT-FRMB": "rx101_frmb_from_flow_100k",
            "RGB-ResNeXt101-BERT-FRAB <- Flow-ResNeXt101-BERT-FRMB": "rx101_frab_from_flow",
            "RGB-ResNeXt101-BERT-FRAB <- RGB-R(2+1)D-BERT-(32x2f)": "rx101_frab_from_r2plus1d",
            "RGB-ResNeXt101 no distillation": "rx101_rgb",
            "RGB-ResNeXt101 MARS <- Flow-ResNeXt101 (HMDB51)": "rx101_mars_from_flow",
            "RGB-ResNeXt101 MARS <- Flow-ResNeXt101 (Kinetics)": "mars_kinetics",
            # a teacher stronger than its student on the CPU profiles, where the pose frames teach the weaker flow
            "Flow-ResNeXt101-BERT-FRMB no distillation (not in the thesis)": "rx101_flow_bert_frmb",
            "Flow-ResNeXt101-BERT-FRMB <- RGB-ResNeXt101-BERT-FRMB (not in the thesis)": "rx101_flow_frmb_from_rgb",
        },
        three_splits=True,
    ),
]

# Appendix C: the same runs under other test protocols (C.1, C.2: every protocol of Appendix C.2) and per split
# (C.3 HMDB51, C.4 UCF101). Their rows are named as the appendix prints them; the streams are the main tables'.
_C1 = {
    "ResNeXt101 RGB 112x112 64f": "rx101_rgb",
    "ResNeXt101 Flow 112x112 64f": "rx101_flow",
    "ResNeXt101 Two-stream 112x112 64f": ("rx101_rgb", "rx101_flow"),
    "I3D 224x224 64f": "i3d_rgb",
    "I3D Flow 224x224 64f": "i3d_flow",
    "I3D Two-stream 224x224 64f": ("i3d_rgb", "i3d_flow"),
}
_C2 = {
    "ResNeXt101 112x112 16f": "rx101_16f",
    "ResNeXt101 112x112 64f": "rx101_rgb",
    "MFNET 224x224 16f": "mfnet_16f",
    "Rep-Flow-50 224x224 64f": "repflow_32f",  # Table 3.10 prints this network as 32f
    "TSM 224x224 8f": "tsm_8f",
    "TSM 224x224 8x8f": "tsm_8x8f",
    "TSM 224x224 8x8f (segment pre-training)": "tsm_8x8f_segment",
    "Modified ResNet50 224x224 32x2f": "i3dr50_32x2f",
    "Modified ResNet50 Non-Local 224x224 32x2f": "i3dr50_nl_32x2f",
    "Modified ResNet50 224x224 64f": "i3dr50_64f",
    "Modified ResNet50 Non-Local 224x224 64f": "i3dr50_nl_64f",
    "I3D 224x224 64f": "i3d_rgb",
    "SlowFast-50 224x224 64f": "slowfast",
    "MARS ResNext101 112x112 64f": "mars_kinetics",
    "R(2+1)D ResNet34 112x112 32f": "r2plus1d_32f",
}
_C3 = {
    "R(2+1)D ResNet34 112x112 32f": "r2plus1d_32f",
    "R(2+1)D ResNet34 112x112 32f BERT": "r2plus1d_32f_bert",
    "ResNeXt101 RGB 112x112 64f": "rx101_rgb",
    "ResNeXt101 RGB 112x112 64f BERT": "rx101_rgb_bert_frmb",
    "ResNeXt101 Flow 112x112 64f": "rx101_flow",
    "ResNeXt101 Flow 112x112 64f BERT": "rx101_flow_bert_frmb",
    "ResNeXt101 Two-Stream 112x112 64f": ("rx101_rgb", "rx101_flow"),
    "ResNeXt101 Two-Stream 112x112 64f BERT": ("rx101_rgb_bert_frmb", "rx101_flow_bert_frmb"),
}
APPENDIX_PROTOCOLS = ("multi-ten", "multi-center", "single-ten", "single-center")
RECIPES += [
    *[
        recipe
        for table, rows in (("C.1", _C1), ("C.2", _C2))
        for p in APPENDIX_PROTOCOLS
        for recipe in _rows(table, p, rows)
    ],
    *_rows("C.3", _CH4, _C3, three_splits=True),
    *_rows("C.4", _CH4, _C3, dataset="ucf101", three_splits=True),
]


# The complexity row (actionlib/reference/complexity.csv id) each row counts as, where its name there differs;
# rows named alike in both files are matched by `complexity_id` itself.
COMPLEXITY_IDS = {
    ("3.2", f"RGB-ResNet18-BERT {name} ten-crop"): "t3.3/bert" for name in ("ADAM", "SWAT", "ADAMW", "SGD")
} | {
    ("3.4", "ResNet18 concat No fusion"): "t3.3/concat",
    ("3.4", "ResNet18 concat Triple Fusion"): "t3.5/r18",
    ("3.8", "3D ResNet101 64f (16f pre-trained)"): "t3.8/r101_64f",
    ("3.8", "3D ResNeXt101 64f (16f pre-trained)"): "t3.8/rx101_64f",
    ("3.8", "3D ResNeXt101 64f 224 (64f-112 pre-trained)"): "t3.8/rx101_64f_224",
    ("3.10", "ResNeXt101 112x112 16f"): "t3.8/rx101_16f",
    ("3.10", "ResNeXt101 112x112 64f"): "t3.8/rx101_64f",
    ("3.10", "TSM-50 224x224 8x8f"): "t3.10/tsm50_8f",
    ("3.10", "TSM-50 224x224 8x8f (segment pre-training)"): "t3.10/tsm50_8f",
    ("3.10", "MARS ResNext101 112x112 64f"): "t3.8/rx101_64f",
    ("4.1", "ResNeXt101 Average Pooling (baseline) SGD"): "t4.1/avg",
    ("4.1", "ResNeXt101 Average Pooling ADAMW"): "t4.1/avg",
    ("4.1", "ResNeXt101 Average Pooling FRMB ADAMW"): "t4.1/avg_frmb",
    ("4.2", "BERT 1 layer 8 heads classification token"): "t4.1/bert_frmb",
    ("4.5", "SlowFast-50 BERT early-fusion"): "t4.5/slowfast_bert_early",
    ("4.5", "SlowFast-50 BERT late-fusion"): "t4.5/slowfast_bert_late",
    ("4.7", "ResNeXt101 two-stream"): "t4.3/both",
    ("4.7", "ResNeXt101 BERT two-stream"): "t4.3/both_bert",
    ("4.7", "R(2+1)D (32f) IG65M"): "t4.6/r2plus1d34",
    ("4.7", "R(2+1)D BERT (32f) IG65M"): "t4.6/r2plus1d34_bert",
    ("5.2", "RGB-ResNeXt101-BERT-FRMB no distillation"): "t4.1/bert_frmb",
    ("5.2", "RGB-ResNeXt101 no distillation"): "t4.1/avg",
}


@functools.cache
def _complexity_ids_by_name() -> dict[tuple[str, str], str]:
    """(table, row) -> id of every complexity row, read once."""
    import csv

    from . import reference

    with open(reference.COMPLEXITY, newline="") as f:
        return {(r["table"], r["row"]): r["id"] for r in csv.DictReader(f)}


def complexity_id(recipe: Recipe) -> str | None:
    """The id of the complexity row that counts this row's network(s), or None where the thesis counts none."""
    key = (recipe.table, recipe.row)
    return COMPLEXITY_IDS.get(key) or _complexity_ids_by_name().get(key)


def thesis_line(recipe: Recipe, thesis: pd.DataFrame | None = None) -> pd.DataFrame:
    """The thesis's line for a row (empty for a row of ours): its protocol's where the table has several (Appendix
    C.1/C.2), the three-split mean where the row averages splits and the table lists each (C.3/C.4), else the
    one printed. `thesis`: `reference.accuracy()` read once by a caller that asks for many rows."""
    from . import reference

    thesis = reference.accuracy(recipe.table) if thesis is None else thesis
    match = thesis[(thesis["table"] == recipe.table) & (thesis["row"] == recipe.row)
                   & (thesis["dataset"] == recipe.dataset)]  # fmt: skip
    if len(match) > 1 and (match["protocol"] != "").any():
        match = match[match["protocol"] == recipe.protocol]
    if len(match) > 1:
        match = match[match["split"].astype(str) == ("avg3" if recipe.three_splits else "1")]
    return match


def recipes_for(tables, dataset: str | None = None) -> list[Recipe]:
    """The recipes of the given thesis tables (e.g. ["4.3", "4.4"]), in table order; `dataset` filters 4.7."""
    tables = [tables] if isinstance(tables, str) else list(tables)
    unknown = sorted(set(tables) - {r.table for r in RECIPES})
    if unknown:
        raise ValueError(f"no recipes for table(s) {', '.join(unknown)}")
    return [r for t in tables for r in RECIPES if r.table == t and (dataset is None or r.dataset == dataset)]


def _with_teachers(keys) -> list[str]:
    """Stream keys in training order: every teacher before its students."""
    ordered: list[str] = []

    def visit(key):
        teacher = STREAMS[key].teacher
        if teacher:
            visit(teacher)
        if key not in ordered:
            ordered.append(key)

    for key in keys:
        visit(key)
    return ordered


def stream_keys(recipes) -> list[str]:
    """Every stream the runnable recipes train, teachers included, teachers first."""
    return _with_teachers(k for r in recipes if not r.unsupported for k in r.streams)


def needs(recipes) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(datasets, checkpoint files) the recipes read: what `actionlib reproduce --profile full` checks first."""
    datasets = tuple(dict.fromkeys(r.dataset for r in recipes if not r.unsupported))
    weights = tuple(dict.fromkeys(STREAMS[k].weights for k in stream_keys(recipes) if STREAMS[k].weights))
    return datasets, weights


def modalities(recipes) -> set[str]:
    return {STREAMS[k].modality for k in stream_keys(recipes)}


def splits_of(recipe: Recipe, cfg) -> tuple[int, ...]:
    """The profile's splits for a three-split row; split 1 (if chosen, else the first chosen) where the thesis
    reports split 1."""
    return cfg.splits if recipe.three_splits else tuple(s for s in cfg.splits if s == 1) or cfg.splits[:1]


def run_name(key: str, dataset: str, split: int, seed: int) -> str:
    """A stream's run folder name under the runs folder (the notebooks and `actionlib recipes` share it)."""
    return f"{key}_{dataset}_s{split}_seed{seed}"


# ------------------------------------------------------------------------------------------------ layout
def frame_root(data_root: str | Path, dataset: str, modality: str) -> Path:
    """Where a non-RGB modality's frame folders are expected (module docstring)."""
    return Path(data_root) / f"{dataset}_{modality}"


# Pose frames here come from MediaPipe, which finds one person per frame; the thesis rendered OpenPose's skeletons
# of everyone in the frame (Section 3.2.6, Appendix B).
POSE_NOTE = "pose: MediaPipe (one person per frame), where the thesis used OpenPose (everyone in the frame)"


# ------------------------------------------------------------------------------------------------ the tables
@dataclass(frozen=True)
class Claim:
    """A comparison the thesis draws a conclusion from: row A against row B of one table, tested as the paired
    difference A - B on the same test videos of the same runs (`study.claims`), whatever the thesis's direction
    (its values say which way it found). Its rows run `Profile.claim_repeats` times."""

    name: str
    row_a: str
    row_b: str
    protocols: tuple[str, str] | None = None  # (A's, B's) where the claim compares two test protocols of one row
    control_sets: bool = False  # also trained and tested on the control datasets (`study.CONTROL_SETS`)
    # rows the thesis does not have take the thesis's values, and so its direction, from this claim of the table
    direction_of: str | None = None
    # row B is, in each run, whichever of these rows has the higher validation Top-1 (`row_b` names the thesis's
    # choice and gives its value): "the better single stream" chosen on validation, not by name
    row_b_choices: tuple[str, ...] = ()
    # a claim of ours beyond the thesis's, whose rows only a profile with breadth runs (`Profile.breadth`)
    breadth: bool = False
    table: str = ""  # set by its `Table`


@dataclass(frozen=True)
class Table:
    """One thesis table: its rows are the `RECIPES` lines with its number, the rest of its facts are here."""

    number: str
    name: str  # its results' files: <notebook>_table<number>_<name>.{csv,md,png}
    notebook: str  # notebooks/<notebook>_*.py runs it, on every profile
    # the default CPU profile runs it: the tables of the thesis's claims, and those that reuse their networks at no
    # extra training (3.9, 4.7, C.3); `cpu` runs every table
    default: bool = False
    # it compares networks (clip length, grouped convolutions, initialisation, architectures), not heads: on the CPU
    # each stream is the CPU network trained end to end; every other table's rows are heads on a frozen backbone
    compares_networks: bool = False
    claims: tuple[Claim, ...] = ()

    def __post_init__(self):
        object.__setattr__(self, "claims", tuple(dataclasses.replace(c, table=self.number) for c in self.claims))


_BERT_AVG_2D = "BERT against average pooling on ResNet18"
_TGAP_3D = "BERT against TGAP (average pooling, SGD) on the 3D network"
_FLOW_INTO_RGB = "distilled from flow against not distilled (BERT, FRMB)"
TABLES = {t.number: t for t in (
    Table("3.2", "optimizers", "01"),
    Table("3.3", "pooling", "01", default=True, claims=(
        Claim(_BERT_AVG_2D, "ResNet18 BERT", "ResNet18 Average Pooling", control_sets=True),
        Claim("BERT against the thesis's best 2D head (concatenation)", "ResNet18 BERT", "ResNet18 Concatenation"),
        # the baseline at its best, as on the 3D network
        Claim("BERT against average pooling without dropout on ResNet18 (not in the thesis)", "ResNet18 BERT",
              "ResNet18 Average Pooling, no dropout (not in the thesis)", control_sets=True,
              direction_of=_BERT_AVG_2D),
    )),
    Table("3.4", "fusion", "01"),
    Table("3.5", "depth", "01"),
    Table("3.6", "flow_pose", "01"),
    Table("3.7", "streams", "01"),
    Table("3.8", "clip_length", "02", compares_networks=True),
    Table("3.9", "two_stream", "03", default=True),
    Table("C.1", "protocols", "03", default=True, claims=(
        Claim("multi-clip ten-crop against single-clip centre-crop testing (two streams)",
              "ResNeXt101 Two-stream 112x112 64f", "ResNeXt101 Two-stream 112x112 64f",
              ("multi-ten", "single-center")),
        # the clips alone, both centre-cropped: on the CPU profiles' 64-frame videos, two 32-frame clips against one
        Claim("multi-clip against single-clip testing, centre crop (two streams)",
              "ResNeXt101 Two-stream 112x112 64f", "ResNeXt101 Two-stream 112x112 64f",
              ("multi-center", "single-center")),
    )),
    Table("3.10", "architectures", "04", compares_networks=True),
    Table("C.2", "protocols", "04", compares_networks=True),
    Table("4.1", "pooling_3d", "05", default=True, claims=(
        Claim(_TGAP_3D, "ResNeXt101 BERT pooling FRMB", "ResNeXt101 Average Pooling (baseline) SGD",
              control_sets=True),
        Claim("BERT against the runner-up 3D head (concatenation + FC)", "ResNeXt101 BERT pooling FRMB",
              "ResNeXt101 Concatenation + FC FRMB"),
        # the baseline at its best: TGAP's dropout 0.8 keeps a linear head on frozen features under its ceiling
        Claim("BERT against TGAP without dropout on the 3D network (not in the thesis)",
              "ResNeXt101 BERT pooling FRMB", "ResNeXt101 Average Pooling SGD, no dropout (not in the thesis)",
              control_sets=True, direction_of=_TGAP_3D),
    )),
    Table("4.2", "bert_variants", "05", default=True, claims=(
        Claim("BERT's classification token against mean pooling of its outputs",
              "BERT 1 layer 8 heads classification token", "BERT 1 layer 8 heads pooled features"),
    )),
    Table("4.3", "bert_3d", "06", default=True, claims=(
        Claim("BERT against TGAP, RGB stream", "ResNeXt101 RGB BERT (FRMB)", "ResNeXt101 RGB"),
        Claim("BERT against TGAP, flow stream", "ResNeXt101 Flow BERT (FRMB)", "ResNeXt101 Flow"),
        Claim("BERT against TGAP, two streams", "ResNeXt101 Two-stream BERT (FRMB)", "ResNeXt101 Two-stream"),
        Claim("two streams against the better single stream (BERT, chosen on validation in each run)",
              "ResNeXt101 Two-stream BERT (FRMB)", "ResNeXt101 Flow BERT (FRMB)",
              row_b_choices=("ResNeXt101 RGB BERT (FRMB)", "ResNeXt101 Flow BERT (FRMB)")),
    )),
    Table("4.4", "bert_i3d", "06"),
    Table("4.5", "bert_slowfast", "06"),
    Table("4.6", "bert_r2plus1d", "06"),
    Table("5.1", "lambda", "07"),
    Table("5.2", "distillation", "07", default=True, claims=(
        Claim(_FLOW_INTO_RGB, "RGB-ResNeXt101-BERT-FRMB <- Flow-ResNeXt101-BERT-FRMB",
              "RGB-ResNeXt101-BERT-FRMB no distillation"),
        # the weaker stream teaching the stronger (`study.teacher_sentences`): the default profile's flow, the
        # stronger stream there, teaches RGB as in the thesis, and the default leaves this one to `--profile cpu`
        Claim("flow distilled from RGB against not distilled (BERT, FRMB; the other direction, not in the thesis)",
              "Flow-ResNeXt101-BERT-FRMB <- RGB-ResNeXt101-BERT-FRMB (not in the thesis)",
              "Flow-ResNeXt101-BERT-FRMB no distillation (not in the thesis)", direction_of=_FLOW_INTO_RGB,
              breadth=True),
    )),
    Table("4.7", "state_of_the_art", "08", default=True),
    Table("C.3", "splits_hmdb51", "08", default=True),
    Table("C.4", "splits_ucf101", "08"),
)}  # fmt: skip

# Derived from TABLES: the tables of each notebook, and every claim in notebook order.
NOTEBOOK_TABLES = {n: tuple(t.number for t in TABLES.values() if t.notebook == n)
                   for n in dict.fromkeys(t.notebook for t in TABLES.values())}  # fmt: skip
CLAIMS = tuple(c for t in TABLES.values() for c in t.claims)


def gpu_hours(path: str | Path | None = None) -> dict[tuple[str, str], tuple[float, str]]:
    """{(stream, dataset): (GPU-hours of one run, device)} from `make gpu-check`'s gpu_runs.csv, or {} before it ran."""
    from . import paths

    path = Path(path) if path else paths.repo_root() / "results" / "benchmarks" / "gpu_runs.csv"
    if not path.is_file():
        return {}
    table = pd.read_csv(path).dropna(subset=["hours_per_run"])
    return {(r.stream, r.dataset): (float(r.hours_per_run), str(r.device)) for r in table.itertuples()}


def slurm_script(command: str, name: str, gpus: int, hours: float | None, log_dir: Path) -> str:
    """An sbatch script for one run: `gpus` GPUs, 8 CPU cores each for the video loaders, a time limit of twice the
    measured estimate (3 days without one); the run resumes from its last.pt if the job is cut and resubmitted."""
    limit = max(1, math.ceil(2 * hours / max(gpus, 1))) if hours else 72
    return "\n".join([
        "#!/bin/bash",
        f"#SBATCH --job-name={name}",
        f"#SBATCH --gres=gpu:{gpus}",
        "#SBATCH --nodes=1",
        f"#SBATCH --cpus-per-task={8 * gpus}",
        f"#SBATCH --time={limit}:00:00",
        f"#SBATCH --output={log_dir / name}.%j.out",
        "set -euo pipefail",
        command,
        "",
    ])  # fmt: skip


def cmd_recipes(args) -> int:
    import json
    import shlex

    from . import paths, profiles, reference
    from .command_line import printable
    from .study.training import describe, train_command

    if args.overwrite and not args.slurm:
        raise ValueError("--overwrite needs --slurm DIR: it lets recipes replace the scripts in DIR")
    for option, value in (("--slurm", args.slurm), ("--gpus", args.gpus), ("--runs", args.runs)):
        if args.json and value is not None:
            raise ValueError(f"{option} has no effect with --json: pass one of them")
    if args.notebook and args.tables:
        raise ValueError("--tables has no effect with --notebook (the notebook's tables are printed): pass one of them")
    if args.gpus is not None and args.gpus < 1:
        raise ValueError(f"--gpus must be at least 1 (got {args.gpus})")
    gpus = args.gpus or 1
    tables = recipes_for_notebook_or_tables(args.notebook, args.tables)
    cfg = profiles.resolve("full", data_root=args.data_root, weights_dir=args.weights_dir)
    if args.json:
        thesis = reference.accuracy()  # read once for every row
        print(json.dumps([describe(r, cfg, thesis) for r in tables], indent=1))
        return 0
    runs_dir = Path(args.runs) if args.runs else paths.runs_dir() / "full"
    estimates = gpu_hours()
    jobs = []
    for recipe in tables:
        if recipe.unsupported:
            print(f"# Table {recipe.table} {recipe.row}: not run ({recipe.unsupported})")
            continue
        for key in _with_teachers(recipe.streams):
            jobs += [(key, recipe.dataset, split, seed) for split in splits_of(recipe, cfg) for seed in cfg.seeds]
    slurm = Path(args.slurm) if args.slurm else None
    submit = ["#!/bin/bash", "# Submits every run; students wait for their teacher (afterok).", "set -euo pipefail"]
    scripts, lines, total = {}, [], 0.0
    for key, dataset, split, seed in dict.fromkeys(jobs):
        name = run_name(key, dataset, split, seed)
        out = runs_dir / name
        state = "to do"
        if (out / "last.pt").is_file():
            state = "has a best.pt (finished, or resumable)" if (out / "best.pt").is_file() else "started (resumable)"
        hours, device = estimates.get((key, dataset), (None, None))
        cost = f"; about {hours:.1f} GPU-hours on {device} (make gpu-check)" if hours is not None else ""
        total += hours or 0.0
        command = train_command(cfg, key, dataset, split, seed, runs_dir, gpus)
        lines += [f"# {key} ({dataset}, split {split}, seed {seed}): {state}{cost}", command]
        if slurm is not None:
            scripts[slurm / f"{name}.sbatch"] = slurm_script(command, name, gpus, hours, slurm)
            teacher = STREAMS[key].teacher  # run names are shell identifiers: stream keys are [a-z0-9_]
            after = f" --dependency=afterok:${{job_{run_name(teacher, dataset, split, seed)}}}" if teacher else ""
            submit.append(f"job_{name}=$(sbatch --parsable{after} {shlex.quote(str(slurm / f'{name}.sbatch'))})")
    if slurm is not None:
        scripts[slurm / "submit.sh"] = "\n".join(submit) + "\n"
        # a script of the user's (or one edited since) is never replaced unasked; an identical one may be
        for path, text in scripts.items():
            if not args.overwrite and path.exists() and (not path.is_file() or path.read_bytes() != text.encode()):
                raise ValueError(
                    f"{printable(path)}: exists and differs from the script recipes would write: pass --overwrite "
                    "to replace it, or choose another --slurm folder"
                )
    if lines:
        print("\n".join(lines))
    if estimates:
        print(f"# total: about {total:.0f} GPU-hours for {len(dict.fromkeys(jobs))} runs (make gpu-check's rates)")
    if slurm is not None:
        slurm.mkdir(parents=True, exist_ok=True)
        for path, text in scripts.items():
            path.write_text(text)
        print(f"# wrote {len(dict.fromkeys(jobs))} sbatch scripts and {slurm / 'submit.sh'} (bash it to submit all)")
    return 0


def recipes_for_notebook_or_tables(notebook: str | None, tables: str | None) -> list[Recipe]:
    if notebook:
        if notebook not in NOTEBOOK_TABLES:
            raise ValueError(f"unknown notebook {notebook!r}; allowed: {', '.join(NOTEBOOK_TABLES)}")
        return recipes_for(NOTEBOOK_TABLES[notebook])
    if tables:
        return recipes_for([t.strip() for t in tables.split(",") if t.strip()])
    return list(RECIPES)


def add_parser(subparsers) -> None:
    """Add `recipes`; its parser is actionlib.parsers', which `actionlib recipes --help` builds without pandas."""
    from .parsers import add_recipes_parser

    add_recipes_parser(subparsers).set_defaults(func=cmd_recipes)
