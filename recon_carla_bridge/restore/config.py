"""The restorer's settings (`RestorerConfig`) and their JSON form, stored beside the weights."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from recon_carla_bridge.errors import InputError

FORMAT = "recon_carla_bridge.restorer"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class RestorerConfig:
    """Architecture and sampling settings of a restorer.

    Attributes:
        width, height: the image size (pixels) the restorer was trained at and runs at.
        block_out_channels: channels of the UNet's resolution levels (one down/up block per level).
        layers_per_block: ResNet layers per UNet block.
        norm_num_groups: GroupNorm groups (divides every entry of block_out_channels).
        timesteps: the denoising timesteps, largest first (1-4 of them); the first step starts from the
            degraded render noised to timesteps[0], Difix-style.
        num_train_timesteps: the scheduler's training schedule length.
        use_alpha: condition on the render's accumulated opacity (where the splats leave holes).
        use_depth: condition on the render's depth (log-scaled).
        use_previous: condition on the previous restored frame of the same camera (the temporal state).
    """

    width: int
    height: int
    block_out_channels: tuple[int, ...] = (32, 64, 96)
    layers_per_block: int = 1
    norm_num_groups: int = 8
    timesteps: tuple[int, ...] = (199,)
    num_train_timesteps: int = 1000
    use_alpha: bool = True
    use_depth: bool = True
    use_previous: bool = True

    def __post_init__(self) -> None:
        if not (8 <= self.width <= 8192 and 8 <= self.height <= 8192):
            raise InputError(f"restorer config: width x height {self.width}x{self.height} must be within 8..8192")
        if not 1 <= len(self.timesteps) <= 4:
            raise InputError(f"restorer config: timesteps {list(self.timesteps)}: expected 1 to 4 steps")
        if list(self.timesteps) != sorted(set(self.timesteps), reverse=True) or not all(
                0 <= t < self.num_train_timesteps for t in self.timesteps):
            raise InputError(f"restorer config: timesteps {list(self.timesteps)}: expected distinct values in "
                             f"[0, {self.num_train_timesteps}), largest first")
        if not self.block_out_channels or any(c % self.norm_num_groups for c in self.block_out_channels):
            raise InputError(f"restorer config: block_out_channels {list(self.block_out_channels)} must be "
                             f"multiples of norm_num_groups {self.norm_num_groups}")

    @property
    def condition_channels(self) -> int:
        """Channels stacked beside the noisy sample: degraded RGB, then alpha, depth, previous RGB when used."""
        return 3 + int(self.use_alpha) + int(self.use_depth) + 3 * int(self.use_previous)

    @property
    def multiple(self) -> int:
        """Image sides are padded to a multiple of this (the UNet halves them once per level but the last)."""
        return 2 ** (len(self.block_out_channels) - 1)

    def to_json(self) -> dict[str, Any]:
        """The JSON document stored as config.json, with the format name and version."""
        document = dataclasses.asdict(self)
        document.update({"format": FORMAT, "format_version": FORMAT_VERSION})
        return document

    @classmethod
    def from_json(cls, document: dict[str, Any], source: str) -> RestorerConfig:
        """A config from `to_json`'s document; InputError naming `source` on another format, version or field."""
        if not isinstance(document, dict) or document.get("format") != FORMAT:
            got = document.get("format") if isinstance(document, dict) else type(document).__name__
            raise InputError(f"{source}: field format: expected {FORMAT!r}, got {got!r}")
        version = document.get("format_version")
        if version != FORMAT_VERSION:
            raise InputError(f"{source}: field format_version: this reader reads version {FORMAT_VERSION}, "
                             f"the file is version {version!r}; retrain or convert the restorer")
        names = {f.name for f in dataclasses.fields(cls)}
        fields = {k: v for k, v in document.items() if k not in ("format", "format_version")}
        unknown = sorted(set(fields) - names)
        if unknown:
            raise InputError(f"{source}: unknown field(s) {', '.join(unknown)}")
        try:
            for name in ("block_out_channels", "timesteps"):
                if name in fields:
                    fields[name] = tuple(int(v) for v in fields[name])
            return cls(**fields)
        except (TypeError, ValueError) as error:
            raise InputError(f"{source}: malformed restorer config ({error})") from None
