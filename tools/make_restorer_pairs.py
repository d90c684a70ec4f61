"""Render the restorer's training pairs from a JSON spec of render passes (`recon_carla_bridge.restore.pairs`):

  python tools/make_restorer_pairs.py configs/restorer/pairs_cpu_310.json OUT.npz [--only-log NAME]

The spec: {"forbidden": {SceneLog name: "A-B"}, "passes": [RenderPass fields, ...]}; "$VARS" in paths are expanded
from the environment (e.g. $SCENES, $RESTORER_OUT). A pass that renders or reads a forbidden frame (the evaluation
frames) is refused. Rendering runs on the CPU.
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path


def main() -> None:
    """Build and save the pair file."""
    import torch

    from recon_carla_bridge.restore.pairs import PairSet, RenderPass

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("spec", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    spec = json.loads(args.spec.read_text(encoding="utf-8"))
    passes = []
    for entry in spec["passes"]:
        fields = {k: os.path.expandvars(v) if k in ("scene_log", "scene") else v for k, v in entry.items()}
        passes.append(RenderPass(**fields))
    started = time.monotonic()
    pairs = PairSet.build(passes, spec.get("forbidden"))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    pairs.save(args.out)
    print(f"wrote {args.out}: {len(pairs.frame)} pairs at {pairs.size[0]}x{pairs.size[1]} from {len(passes)} passes "
          f"in {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
