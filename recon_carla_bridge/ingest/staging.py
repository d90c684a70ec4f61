"""Write a folder all-or-nothing: build it in a temporary sibling, rename it into place when complete."""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from recon_carla_bridge.errors import InputError


@contextlib.contextmanager
def staged_directory(target: Path, overwrite: bool = False) -> Iterator[Path]:
    """Yield an empty temporary folder beside `target`; on success it becomes `target`.

    If the body raises, the temporary folder is deleted and `target` is left as it was (absent, or the
    previous content). An existing `target` raises `InputError` unless `overwrite` is True, in which case
    it is replaced only after the new content is complete.
    """
    target = Path(target)
    if target.exists() and not overwrite:
        raise InputError(f"{target}: output folder already exists (pass --overwrite to replace it)")
    if target.exists() and not target.is_dir():
        raise InputError(f"{target}: exists and is not a folder")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=target.parent))
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if target.exists():
        previous = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
        os.rmdir(previous)
        os.replace(target, previous)
        os.replace(staging, target)
        shutil.rmtree(previous, ignore_errors=True)
    else:
        os.replace(staging, target)
