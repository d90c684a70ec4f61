"""`recon-carla demo`: BasicAgent through a reconstructed scene on the episode loop (`run`), and the figures
it writes (`figures`: the BEV plot and the camera-beside-BEV video)."""
from recon_carla_bridge.demo.run import DemoConfig, DemoResult, run_demo

__all__ = ["DemoConfig", "DemoResult", "run_demo"]
