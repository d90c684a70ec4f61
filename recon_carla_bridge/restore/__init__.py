"""The diffusion prior: a small video restorer of Gaussian-splat renders (ReconDreamer's DriveRestorer, built with
diffusers; see `pipeline` for the model, its temporal state and its files). It imports no `carla`.

Public entry: `Restorer` (build from a `config.RestorerConfig`, `Restorer.load(dir)`, `restore`, `save`).
Training pairs come from `pairs`, the training loop from `training`.
"""
from recon_carla_bridge.restore.pipeline import Restorer

__all__ = ["Restorer"]
