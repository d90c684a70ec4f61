"""Small host-to-GPU copies that do not wait for the GPU.

A copy from ordinary (pageable) host memory to a CUDA device first waits until the stream has
finished all the work queued before it, so each per-frame copy of a few poses would stall the CPU
until the previous frame's render is done and nothing would overlap. A copy from page-locked memory
is queued like a kernel; PyTorch's caching host allocator keeps the staging block alive until the
copy has run.
"""
from __future__ import annotations

import torch


def to_device(tensor: torch.Tensor, device: torch.device | str) -> torch.Tensor:
    """`tensor` on `device`, copied without a stream synchronisation when it goes from host to CUDA
    (the same tensor when it is there already)."""
    device = torch.device(device)
    if device.type != "cuda" or tensor.device.type != "cpu":
        return tensor.to(device)
    return tensor.pin_memory().to(device, non_blocking=True)
