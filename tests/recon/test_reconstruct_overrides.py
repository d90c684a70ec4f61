"""`recon-carla reconstruct --set FIELD=VALUE`: TrainConfig overrides and their errors."""
from __future__ import annotations

import pytest

from recon_carla_bridge.commands.reconstruct import apply_overrides
from recon_carla_bridge.errors import InputError
from recon_carla_bridge.recon.train import TrainConfig


def test_overrides_take_each_fields_type() -> None:
    config = apply_overrides(TrainConfig(), ["camera_reg=0.01", "cap_max=300000", " shadow_every =0"])
    assert config.camera_reg == 0.01 and config.cap_max == 300_000 and config.shadow_every == 0
    assert isinstance(config.cap_max, int) and TrainConfig().camera_reg == 0.1


@pytest.mark.parametrize("item, message", [
    ("camera_regg=0.01", "unknown or not settable field 'camera_regg'"),
    ("camera_reg", "expected FIELD=VALUE"),
    ("cap_max=lots", "'lots' is not a valid int for cap_max"),
    ("init=1", "not settable field 'init'"),
])
def test_bad_overrides_name_the_field(item: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        apply_overrides(TrainConfig(), [item])


def test_init_overrides_reach_the_lidar_initialisation() -> None:
    config = apply_overrides(TrainConfig(), ["init.max_background_points=80000", "cap_max=120000"])
    assert config.init.max_background_points == 80_000 and config.cap_max == 120_000
    with pytest.raises(InputError, match="unknown or not settable field 'init.voxels'"):
        apply_overrides(TrainConfig(), ["init.voxels=1"])
