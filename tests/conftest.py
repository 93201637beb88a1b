"""Fixtures shared by test folders."""
from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def one_torch_thread():
    """One torch intra-op thread for a test module (restored afterwards). The networks in these tests are small:
    on a shared 2-core machine a second spinning OpenMP thread made such files several times slower."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
