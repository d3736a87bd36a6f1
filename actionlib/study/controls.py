"""The synthetic data's class groups and the controls built on them: the claims tested again on one group's test
videos, and on control datasets of some groups only."""

from __future__ import annotations

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
