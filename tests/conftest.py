import os
import random

import numpy as np
import pytest
import torch

from actionlib import reference

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SPEC = str(reference.COMPLEXITY)


@pytest.fixture(autouse=True)
def _seed():
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)
