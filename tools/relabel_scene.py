"""Re-derive a trained scene's background semantic tags and road plane with the current export code.

The export of `recon-carla reconstruct` ends with `recon.train.relabel_scene`; this runs that step
alone on a scene file (no training, no GPU), e.g. after the tagging heuristics changed:

  python tools/relabel_scene.py SCENE_LOG_DIR SCENE.gs [--out OUT.gs]
"""
from __future__ import annotations

import argparse


def main() -> None:
    """Relabel SCENE.gs from its SceneLog and write it (in place unless --out)."""
    from recon_carla_bridge.ingest.scenelog import load_scene_log
    from recon_carla_bridge.recon.render import GROUND_PLANE_KEY
    from recon_carla_bridge.recon.scene_file import load_scene, save_scene
    from recon_carla_bridge.recon.train import TrainConfig, relabel_scene

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scene_log")
    parser.add_argument("scene")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    scene = relabel_scene(load_scene(args.scene), load_scene_log(args.scene_log), TrainConfig().init)
    size = save_scene(scene, args.out or args.scene)
    tags, counts = scene.background.semantic.unique(return_counts=True)
    print(f"wrote {args.out or args.scene} ({size / 2**20:.2f} MiB); background tags "
          f"{dict(zip(tags.tolist(), counts.tolist()))}; {GROUND_PLANE_KEY} {scene.metadata.get(GROUND_PLANE_KEY)}")


if __name__ == "__main__":
    main()
