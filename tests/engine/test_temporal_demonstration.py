"""The temporal-order demonstration at CI scale: on time-reversed pairs, concatenation sees frame order, averaging
cannot.

Pose frames of two reversed pairs (sit down / stand up, raise / lower arm); a narrow ResNet18 over 8 TSN
segments trained from scratch with the one training loop, the epoch chosen on held-out training videos. Averaging
the segments gives the same input for a video and its reverse, so its pairwise accuracy is 50 % in expectation;
concatenation keeps the order. BERT is not asserted here: at this scale (4 classes, 20 epochs) it stayed at
47-56 % on the pairs whether trained end to end or as a head on the averaging network's features (measured); the
16-class CPU profile shows it (results/tables/01_table3.3_pooling.md, notebook 01).
"""

import pytest

from actionlib.data.memory import ensure_synthetic, load_synthetic
from actionlib.study.features import train_and_test

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def pairs_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("pairs") / "synthetic"
    classes = ["sit_down", "stand_up", "raise_arm", "lower_arm"]
    ensure_synthetic(root, classes=classes, videos_per_class=30, frames=24, size=(64, 48), jobs=2)
    return load_synthetic(root, "pose", size=(64, 48))


def test_concatenation_separates_reversed_pairs_and_averaging_does_not(pairs_data, tmp_path):
    common = dict(frames=8, epochs=20, width=8, frozen_stages=0, dropout=0.5, lr=2e-3)
    concat = train_and_test("resnet18", pairs_data, out=tmp_path / "concat", head="concat", **common)
    average = train_and_test("resnet18", pairs_data, out=tmp_path / "avg", head="avg", **common)
    found = {name: round(r["reversed_pairs"], 1) for name, r in (("concat", concat), ("avg", average))}
    print(f"reversed-pair accuracy (%): {found}")
    assert concat["reversed_pairs"] >= 80, found
    assert 25 <= average["reversed_pairs"] <= 75, found
