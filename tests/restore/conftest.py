"""Restorer tests run torch on one thread: on a shared 2-core machine more threads only contend (3x slower)."""
from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def one_thread():
    """torch on one thread for the test, the previous count restored after it."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
