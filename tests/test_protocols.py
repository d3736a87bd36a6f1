"""Every thesis row as the full profile runs it (`actionlib recipes --json`) against the protocol transcribed by
hand from the thesis, with the section each setting comes from (the authors' scripts where the thesis is silent).

The transcription is written independently of `actionlib.recipes`: rules per table, then the rows that differ.
"""

import json
import re

import pytest

from actionlib import recipes

# Test protocol per table: (clips, crops) and where the thesis says so.
TEST = {
    **dict.fromkeys(["3.2", "3.3", "3.4", "3.5", "3.6", "3.7"], ("single", "ten")),  # Table 3.2 "Ten Crop Test";
    # Section 3.3.1: "16 frames are selected with equal intervals during the inference" (one set of TSN segments)
    **dict.fromkeys(["3.8", "3.9", "3.10"], ("multi", "ten")),  # Section 3.4.1 "multiple crops and multiple clips";
    # Tables 3.9 and 3.10 print the multi-clip ten-crop column of Tables C.1 and C.2
    **dict.fromkeys(["4.1", "4.2", "4.3", "4.4", "4.5", "4.6", "4.7", "5.1", "5.2"], ("multi", "ten")),
    # Section 4.2.2: multi-scale cropping "for fine-tuning and testing of all architectures", scores of
    # non-overlapping clips averaged; Table C.3's split-1 values equal the multi-clip ten-crop column of C.1/C.2
}
THREE_SPLITS = {"3.2", "3.3", "3.4", "3.5", "3.6", "3.7", "4.1", "4.2", "4.7", "5.2"}  # Sections 3.3, 4.2.1; 5.2 text

IMAGENET = {18: "resnet18-f37072fd.pth", 34: "resnet34-b627a593.pth", 50: "resnet50-0676ba61.pth",
            101: "resnet101-63fe2227.pth"}  # fmt: skip
RX64, RX16, RX_FLOW = "resnext-101-64f-kinetics.pth", "resnext-101-kinetics.pth", "Flow_Kinetics_64f.pth"
R2P1D = "r2plus1d_34_clip32_ig65m_from_scratch-449a7af9.pth"  # IG65M, Section 4.2.4.4


def expected_stream(table: str, row: str, stream: dict) -> dict:
    """What the thesis says one stream of `row` is: frames, stride, crop, frame, initialisation, optimizer, lr."""
    model, modality, head = stream["model"], stream["modality"], stream["options"].get("head")
    # the Kinetics MARS row starts from the MARS authors' Kinetics-distilled checkpoint (Table 5.2's dataset column)
    mars_kinetics = "MARS" in row and "(Kinetics)" in row or row.startswith("MARS")
    row = row.split("<-")[0]  # a distilled row names its student first, then its teacher
    bert = head == "bert"
    if model.startswith("resnet") and model[6:].isdigit():  # Chapter 3's 2D ResNets
        # Section 3.3.1: ImageNet, 16 frames (No Pooling: one), AdamW 1e-4; Table 3.2 compares optimizers
        # (Section 3.2.3: SGD starts at 1e-2, the others at 1e-4); 224 crops from 256x340 frames (the authors' scripts)
        optimizer = (
            {"ADAM": "adam", "SWAT": "swats", "SGD": "sgd"}.get(row.split()[1], "adamw") if table == "3.2" else "adamw"
        )
        return {"frames": 1 if "No Pooling" in row else 16, "stride": 1, "size": 224, "frame_size": [256, 340],
                "init": IMAGENET[int(model[6:])], "optimizer": optimizer, "lr": 1e-2 if optimizer == "sgd" else 1e-4,
                "batch": 128}  # fmt: skip
    size = (
        224
        if (model in ("i3d", "i3d_r50", "slowfast_r50", "mfnet3d", "repflow_50", "tsm_r50") or "224" in row)
        else 112
    )
    named = re.search(r"\b(\d+)(?:x\d+)?f\b", row)  # "64f", "32x2f" (32 frames), "8x8f" (8 frames)
    frames = int(named.group(1)) if named else None
    if frames is None:  # Chapter 4-5 rows: ResNeXt101, I3D and SlowFast 64 frames, R(2+1)D 32 (Sections 4.2.4.1-4)
        frames = 32 if model == "r2plus1d_34" else 64
    if model == "tsm_r50" and "8x8f" in row:
        stride = 8  # 8 frames 8 apart (TSM's dense sampling); "8f": 8 consecutive frames
    else:
        stride = 2 if "x2f" in row else 1  # "32x2f": 32 frames, every second one
    if model == "i3d":  # Sections 3.4.2 and 4.2.2: I3D SGD 1e-1, I3D-BERT AdamW 1e-4
        optimizer, lr = ("adamw", 1e-4) if bert else ("sgd", 1e-1)
    elif bert or "ADAMW" in row or "FRMB" in row:  # Section 4.2.2 and Table 4.1's optimizer column: AdamW 1e-5
        optimizer, lr = "adamw", 1e-5
    else:  # Sections 3.2.3 and 4.2.2: standard 3D architectures SGD 1e-2
        optimizer, lr = "sgd", 1e-2
    init = {
        "resnext3d_101": RX_FLOW if modality == "flow" else (RX16 if "16f" in row else RX64),
        "resnet3d_101": "resnet-101-kinetics.pth",  # Table 3.8: only 16-frame Kinetics weights for ResNet101
        "i3d": "flow_imagenet.pth" if modality == "flow" else "rgb_imagenet.pth",
        "slowfast_r50": "SLOWFAST_8x8_R50_torch.pth",
        "r2plus1d_34": R2P1D,
        "mfnet3d": "MFNet3D_Kinetics-400_72.8.pth",
        "repflow_50": "rep_flow_kinetics.pth",
        "i3d_r50": "i3d_r50_nl_kinetics.pth" if "Non-local" in row else "i3d_r50_kinetics.pth",
        # Table 3.10's footnoted row was pre-trained with segment sampling; the others use the dense checkpoint
        "tsm_r50": "TSM_kinetics_RGB_resnet50_shift8_blockres_avg_segment16_e50.pth"
        if "segment" in row
        else "TSM_kinetics_RGB_resnet50_shift8_blockres_avg_segment8_e100_dense.pth",
    }[model]
    if mars_kinetics:
        init = "MARS_Kinetics_64f.pth"
    frame_size = [256, 340] if size == 224 else [128, 170]  # the authors resize to 340x256 for 224 px models
    batch = 24 if model == "repflow_50" else 128  # Section 3.2.4 (Rep-Flow: the authors' scripts)
    return {"frames": frames, "stride": stride, "size": size, "frame_size": frame_size, "init": init,
            "optimizer": optimizer, "lr": lr, "batch": batch}  # fmt: skip


@pytest.fixture(scope="module")
def rows():
    import contextlib
    import io

    from actionlib.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["recipes", "--json"]) == 0
    return json.loads(out.getvalue())


def test_every_row_runs_the_thesis_protocol(rows):
    assert len(rows) == len(recipes.RECIPES)
    main = [row for row in rows if not row["table"].startswith("C.")]  # Appendix C: the main tables' runs
    assert len(main) == 126 and sum(row["thesis_top1"] is None for row in main) == 6  # 120 thesis rows, 6 of ours
    for row in main:
        where = (row["table"], row["row"], row["dataset"])
        assert row["status"] == "run", where
        clips, crops = TEST[row["table"]]
        assert (row["test"]["clips"], row["test"]["crops"]) == (clips, crops), where
        # Section 3.3.1: No Pooling is trained on one frame and tested on 16, like average pooling
        test_frames = 16 if row["row"].endswith("No Pooling") else row["streams"][0]["frames"]
        assert row["test"]["frames"] == test_frames, where
        assert row["splits"] == ("1, 2, 3 (mean)" if row["table"] in THREE_SPLITS else "1"), where
        assert (row["fusion"] is not None) == (len(row["streams"]) > 1), where
        for stream in row["streams"]:
            got = {k: stream[k] for k in ("frames", "stride", "size", "frame_size", "init", "optimizer", "lr", "batch")}
            assert got == expected_stream(row["table"], row["row"], stream), (where, stream["key"])


def test_the_six_protocol_findings(rows):
    by_row = {(r["table"], r["row"], r["dataset"]): r for r in rows}
    # Chapters 4-5 and Table 4.7: ten crops
    assert {r["test"]["crops"] for r in rows if r["table"][0] in "45"} == {"ten"}
    # Table 3.3's No Pooling: 16 frames at test
    assert by_row["3.3", "ResNet18 No Pooling", "hmdb51"]["test"]["frames"] == 16
    # Table 3.7's RGB stream: concatenation with triple fusion
    for depth in (18, 101):
        (rgb,) = by_row["3.7", f"ResNet{depth} RGB Concatenation", "hmdb51"]["streams"]
        assert rgb["options"] == {"head": "concat", "fusion": "triple"}
    # 224 px crops cut from 256x340 frames, not from Hara's 128x170
    (big,) = by_row["3.8", "3D ResNeXt101 64f 224 (64f-112 pre-trained)", "hmdb51"]["streams"]
    assert (big["size"], big["frame_size"]) == (224, [256, 340])
    # TSM: every row defined, each with its checkpoint
    tsm = {r["row"]: r["streams"][0] for r in rows if r["row"].startswith("TSM")}
    assert tsm["TSM-50 224x224 8f"]["stride"] == 1 and tsm["TSM-50 224x224 8x8f"]["stride"] == 8
    assert (
        "dense" in tsm["TSM-50 224x224 8x8f"]["init"]
        and "segment16" in tsm["TSM-50 224x224 8x8f (segment pre-training)"]["init"]
    )


def test_distillation_rows_name_their_teacher(rows):
    for row in rows:
        # the Kinetics MARS row starts from the MARS authors' checkpoint, distilled on Kinetics by them
        if row["table"] == "5.1" or "<-" in row["row"] and "(Kinetics)" not in row["row"]:
            (stream,) = row["streams"]
            assert stream["teacher"], row["row"]
            if row["table"] == "5.1":  # lambda in thousands, as the row says
                assert stream["distill_weight"] == int(row["row"].split()[1][:-1]) * 1000


def test_appendix_rows_are_the_main_tables_runs_under_their_protocols(rows):
    main_streams = {s["key"] for r in rows if not r["table"].startswith("C.") for s in r["streams"]}
    appendix = [r for r in rows if r["table"].startswith("C.")]
    assert {s["key"] for r in appendix for s in r["streams"]} <= main_streams  # no extra training run
    for table in ("C.1", "C.2"):  # Appendix C.2: every model under the four protocols
        protocols = {(r["row"], r["test"]["clips"], r["test"]["crops"]) for r in appendix if r["table"] == table}
        assert len(protocols) == 4 * len({r["row"] for r in appendix if r["table"] == table})
    for r in appendix:
        if r["table"] in ("C.3", "C.4"):  # per split: 1, 2 and 3, multi-clip ten-crop
            assert r["splits"].startswith("1, 2, 3") and (r["test"]["clips"], r["test"]["crops"]) == ("multi", "ten")


def test_each_stream_lists_its_regularisation_and_the_rows_that_share_its_run(rows):
    """Classifier dropout (Section 3.2.1), the frozen 2D stages, weight decay, the scheduler and the training crop
    are in every stream; rows that train the same streams name each other with the thesis value each expects."""
    for row in rows:
        for stream in row["streams"]:
            thesis = 0.7 if stream["modality"] == "flow" else 0.8
            assert stream["dropout"] == (0.0 if "no dropout" in row["row"] else thesis)
            assert stream["weight_decay"] == 1e-3 and "5 epochs" in stream["scheduler"]
            assert "random flip" in stream["training_crop"]
            if stream["model"] == "resnet18" and stream["options"].get("head") == "bert":
                assert stream["frozen_stages"] == 2
    bert = next(r for r in rows if r["table"] == "3.3" and r["row"] == "ResNet18 BERT")
    assert {"table": "3.2", "row": "RGB-ResNet18-BERT ADAMW ten-crop", "protocol": "single-ten",
            "thesis_top1": 52.42} in bert["same_streams_as"] and bert["thesis_top1"] == 49.17  # fmt: skip
