"""Reinforcement learning in reconstructed scenes (ReconDreamer-RL / RAD): a Gymnasium environment over the episode
loop with DAA adversaries, RAD's decoupled anchor actions, imitation pre-training and a decoupled PPO.

    python -m recon_carla_bridge.cli train il --config configs/rl/daa_teacher.yaml
    python -m recon_carla_bridge.cli train rl --config configs/rl/daa_teacher.yaml
"""
from recon_carla_bridge.rl.config import RLConfig, load_rl_config
from recon_carla_bridge.rl.env import ReconDrivingEnv

__all__ = ["RLConfig", "ReconDrivingEnv", "load_rl_config"]
