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


@pytest.fixture
def one_thread():
    """One torch thread: fast and steady on a shared 2-core machine (two threads stall when the other core is busy)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
