"""The thesis tables' facts the study reads besides their rows (`recipes.RECIPES`): the claims drawn from them,
their file names, which of them compare networks, and the class groups and control sets of the synthetic data."""

from __future__ import annotations

from ..recipes import Recipe

# The comparisons the thesis draws its conclusions from, as (claim, table, row A, row B, protocol): each is tested
# as the paired difference A - B on the same test videos of the same runs (`claims`), whatever the thesis's
# direction (its values say which way it found). Their rows run `Profile.claim_repeats` times.
CLAIMS = (
    ("BERT against average pooling on ResNet18", "3.3", "ResNet18 BERT", "ResNet18 Average Pooling", None),
    ("BERT against the thesis's best 2D head (concatenation)", "3.3", "ResNet18 BERT", "ResNet18 Concatenation",
     None),
    ("BERT against TGAP (average pooling, SGD) on the 3D network", "4.1", "ResNeXt101 BERT pooling FRMB",
     "ResNeXt101 Average Pooling (baseline) SGD", None),
    ("BERT against the runner-up 3D head (concatenation + FC)", "4.1", "ResNeXt101 BERT pooling FRMB",
     "ResNeXt101 Concatenation + FC FRMB", None),
    ("BERT's classification token against mean pooling of its outputs", "4.2",
     "BERT 1 layer 8 heads classification token", "BERT 1 layer 8 heads pooled features", None),
    ("BERT against TGAP, RGB stream", "4.3", "ResNeXt101 RGB BERT (FRMB)", "ResNeXt101 RGB", None),
    ("BERT against TGAP, flow stream", "4.3", "ResNeXt101 Flow BERT (FRMB)", "ResNeXt101 Flow", None),
    ("BERT against TGAP, two streams", "4.3", "ResNeXt101 Two-stream BERT (FRMB)", "ResNeXt101 Two-stream", None),
    ("two streams against the better single stream (BERT, flow)", "4.3", "ResNeXt101 Two-stream BERT (FRMB)",
     "ResNeXt101 Flow BERT (FRMB)", None),
    ("distilled from flow against not distilled (BERT, FRMB)", "5.2",
     "RGB-ResNeXt101-BERT-FRMB <- Flow-ResNeXt101-BERT-FRMB", "RGB-ResNeXt101-BERT-FRMB no distillation", None),
    ("flow distilled from RGB against not distilled (BERT, FRMB; the other direction, not in the thesis)", "5.2",
     "Flow-ResNeXt101-BERT-FRMB <- RGB-ResNeXt101-BERT-FRMB (not in the thesis)",
     "Flow-ResNeXt101-BERT-FRMB no distillation (not in the thesis)", None),
    ("multi-clip ten-crop against single-clip centre-crop testing (two streams)", "C.1",
     "ResNeXt101 Two-stream 112x112 64f", "ResNeXt101 Two-stream 112x112 64f", ("multi-ten", "single-center")),
)  # fmt: skip


# A claim on rows the thesis does not have takes the thesis's values, and so its direction, from the thesis's claim
# named here: distillation into the other stream is expected to help as the thesis's flow-into-RGB one did. On the
# CPU profiles it is the setting with a teacher stronger than its student (`teacher_sentences` says which it was).
DIRECTION_OF = {CLAIMS[-2][0]: CLAIMS[-3][0]}


def is_compared(recipe: Recipe) -> bool:
    """Whether a claim compares this row (under this test protocol, for claims between protocols)."""
    for _, table, row_a, row_b, protocols in CLAIMS:
        for row, protocol in zip((row_a, row_b), protocols or (None, None), strict=True):
            if (table, row) == (recipe.table, recipe.row) and protocol in (None, recipe.protocol):
                return True
    return False


# The file name of each thesis table's results: <notebook>_table<T>_<name>.{csv,md,png}.
TABLE_NAMES = {
    "3.2": "optimizers", "3.3": "pooling", "3.4": "fusion", "3.5": "depth", "3.6": "flow_pose", "3.7": "streams",
    "3.8": "clip_length", "3.9": "two_stream", "C.1": "protocols", "3.10": "architectures", "C.2": "protocols",
    "4.1": "pooling_3d", "4.2": "bert_variants", "4.3": "bert_3d", "4.4": "bert_i3d", "4.5": "bert_slowfast",
    "4.6": "bert_r2plus1d", "4.7": "state_of_the_art", "C.3": "splits_hmdb51", "C.4": "splits_ucf101",
    "5.1": "lambda", "5.2": "distillation",
}  # fmt: skip


# Tables that compare networks (clip length, grouped convolutions, initialisation, architectures), not heads: on the
# CPU profiles each of their streams is the CPU network trained end to end with TGAP on the target's training split.
# The other tables' 3D rows, Tables 3.9 and C.1 (the two streams and their test protocols) included, are heads on
# the frozen pretrained network, the stand-in for the thesis's Kinetics-pretrained one.
NETWORK_TABLES = ("3.8", "3.10", "C.2")


# The synthetic classes' groups (`data.synthetic`): "appearance" (one frame tells the class), "reversed" (only frame
# order separates a class from its partner) and "speed" (only cadence and stride). A head that wins only on the
# reversed pairs has learned order, not a better summary of appearance; the full profile's datasets have no groups.
CLASS_GROUPS = ("appearance", "reversed", "speed")


# The control of the claims (`claims`): each claim is tested again on the test videos of the appearance classes
# only, where one frame tells the class and frame order is not needed (no reversed or speed pairs). A head that
# still wins there is not winning by reading order alone.
CONTROL_CLASSES = "appearance"


# Control datasets: the target dataset restricted to some class groups (`SyntheticSplit.only`: the dataset that
# `actionlib synth --classes` makes), with the heads of the headline claims trained and tested on them alone, on the
# same frozen backbones. "no reversed pairs" (appearance and speed classes): no two classes need frame order to be
# told apart, the HMDB51-like regime; "order only" (the reversed pairs): only frame order separates a class from its
# partner, the regime the thesis says it never tested (Section 6.3).
CONTROL_SETS = {"no reversed pairs": ("appearance", "speed"), "order only": ("reversed",)}


CONTROL_CLAIMS = (CLAIMS[0][0], CLAIMS[2][0])  # BERT against average pooling (2D) and TGAP (3D)
