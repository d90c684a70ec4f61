"""Schematic camera for maps without a reconstruction: road surface, lane markings and actor boxes."""
from __future__ import annotations

from recon_carla_bridge.schematic.backend import SchematicBackend
from recon_carla_bridge.schematic.render import ActorBox, CameraView, render_schematic
from recon_carla_bridge.schematic.scene import SchematicScene

__all__ = ["ActorBox", "CameraView", "SchematicBackend", "SchematicScene", "render_schematic"]
