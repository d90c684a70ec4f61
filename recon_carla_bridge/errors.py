"""Errors raised by recon_carla_bridge for bad input; each message names the file or field at fault."""
from __future__ import annotations


class ReconCarlaError(Exception):
    """Base class of every error this package raises on purpose."""


class InputError(ReconCarlaError, ValueError):
    """Input (a file, a field, an argument) is malformed; the message names it."""


class MapNotFoundError(ReconCarlaError, RuntimeError):
    """No OpenDRIVE file exists for a requested town/map name."""
