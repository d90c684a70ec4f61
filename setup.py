"""Install recon_carla_bridge: a server-less CARLA world over reconstructed real driving scenes."""
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).resolve().parent

# Pinned where an upgrade is known to break us (see ../shared/DESIGN.md):
#  - carla 0.9.16 is the client API we subclass; its native types change between releases.
#  - carla-scenario-runner 0.9.11 is the last PyPI release of srunner; it needs py_trees 0.8.x.
#  - torch 2.13.0 is the CPU build these machines carry (a looser range pulls CUDA wheels).
CORE_REQUIREMENTS = [
    "carla==0.9.16",
    "carla-scenario-runner==0.9.11",
    "py_trees==0.8.3",
    # ScenarioRunner's undeclared dependencies.
    "six>=1.16",
    "ephem>=4.1",
    "tabulate>=0.9",
    "simple-watchdog-timer>=0.1.1",
    "shapely>=2.0",
    "xmlschema>=3.0",
    "networkx>=3.0",
    "numpy>=1.26",
    "pyyaml>=6.0",
    "tqdm>=4.66",
    "filelock>=3.12",  # the checkpoint's lock against a second writer
    "scenariogeneration>=0.14",
    "matplotlib>=3.8",
    "imageio>=2.34",
    "imageio-ffmpeg>=0.5",
    "pillow>=10.0",
    "torch==2.13.0",
    "numba==0.68.1",  # the CPU Gaussian rasterizer
    "scipy>=1.10",
    # Ingest: LiDAR odometry, clustering, dataset decoders.
    "kiss-icp==1.3.0",
    "scikit-learn==1.9.1",
    "protobuf>=4.21,<5",
    "tfrecord==1.14.6",
    # The diffusion restorer (built from a config, trained here) and the RL environment/trainer.
    "diffusers>=0.30,<1",
    "safetensors>=0.4",
    "gymnasium>=1.0,<2",
    "tensorboardX>=2.6",  # TensorBoard event files without tensorboard itself (it needs protobuf>=6; we pin <5)
]

# Ray needs google.rpc (googleapis-common-protos); from 1.64 on that package wants protobuf >= 5, which our protobuf < 5
# pin forbids, and a Ray without it cannot start (`ray.init` fails on "No module named google.rpc").
RAY = ["ray>=2.30", "googleapis-common-protos>=1.56,<1.64"]

setup(
    name="recon_carla_bridge",
    version="0.1.0",
    description="Train and test CARLA agents in reconstructed real driving scenes, without a CARLA server.",
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    python_requires=">=3.10,<3.13",
    packages=find_packages(include=["recon_carla_bridge", "recon_carla_bridge.*", "agents", "agents.*"]),
    include_package_data=True,
    package_data={"recon_carla_bridge": ["data/*", "data/**/*"]},
    install_requires=CORE_REQUIREMENTS,
    extras_require={
        "test": ["pytest>=8.0", "pytest-xdist>=3.5", "hypothesis>=6.100", "ruff>=0.5",
                 "stable-baselines3>=2.3", *RAY],
        "rl": ["stable-baselines3>=2.3"],  # the independent check of the in-repo PPO
        "ray": RAY,  # evaluation and RL rollouts past one machine (--ray-address)
        "gpu": ["gsplat==1.5.3"],
    },
    entry_points={"console_scripts": ["recon-carla=recon_carla_bridge.cli:main"]},
)
