"""Sensor measurements as subclasses of CARLA's data classes (so isinstance checks pass)."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import carla
import numpy as np



class _SensorDataFields:
    """frame / timestamp / transform shared by every measurement."""

    def _init_common(self, frame: int, timestamp: float, transform: carla.Transform) -> None:
        self._frame = int(frame)
        self._timestamp = float(timestamp)
        self._transform = transform

    @property
    def frame(self) -> int:
        """World frame that produced the data."""
        return self._frame

    @property
    def frame_number(self) -> int:
        """Alias of frame (older CARLA name)."""
        return self._frame

    @property
    def timestamp(self) -> float:
        """Simulation time in seconds."""
        return self._timestamp

    @property
    def transform(self) -> carla.Transform:
        """Sensor's world transform when measured."""
        return self._transform


class CollisionEvent(_SensorDataFields, carla.CollisionEvent):
    """A collision of the sensor's parent with another actor."""

    def __init__(self, frame: int, timestamp: float, transform: carla.Transform, actor: carla.Actor,
                 other_actor: carla.Actor, normal_impulse: carla.Vector3D):
        self._init_common(frame, timestamp, transform)
        self._actor, self._other_actor, self._normal_impulse = actor, other_actor, normal_impulse

    @property
    def actor(self) -> carla.Actor:
        """The actor the sensor is attached to."""
        return self._actor

    @property
    def other_actor(self) -> carla.Actor:
        """The actor it hit."""
        return self._other_actor

    @property
    def normal_impulse(self) -> carla.Vector3D:
        """Impulse of the hit along the contact normal, N·s."""
        return self._normal_impulse

    def __str__(self) -> str:
        return f"CollisionEvent(frame={self._frame}, other_actor={self._other_actor.id})"

    __repr__ = __str__


class LaneInvasionEvent(_SensorDataFields, carla.LaneInvasionEvent):
    """The parent crossed one or more lane markings."""

    def __init__(self, frame: int, timestamp: float, transform: carla.Transform, actor: carla.Actor,
                 crossed_lane_markings: list[carla.LaneMarking]):
        self._init_common(frame, timestamp, transform)
        self._actor, self._markings = actor, list(crossed_lane_markings)

    @property
    def actor(self) -> carla.Actor:
        """The actor the sensor is attached to."""
        return self._actor

    @property
    def crossed_lane_markings(self) -> list[carla.LaneMarking]:
        """The markings crossed (CARLA's LaneMarking objects from the map)."""
        return list(self._markings)

    def __str__(self) -> str:
        return f"LaneInvasionEvent(frame={self._frame}, markings={[str(m.type) for m in self._markings]})"

    __repr__ = __str__


class GnssMeasurement(_SensorDataFields, carla.GnssMeasurement):
    """Geodetic position from the map's OpenDRIVE geoReference."""

    def __init__(self, frame: int, timestamp: float, transform: carla.Transform,
                 latitude: float, longitude: float, altitude: float):
        self._init_common(frame, timestamp, transform)
        self._lat, self._lon, self._alt = float(latitude), float(longitude), float(altitude)

    @property
    def latitude(self) -> float:
        """Degrees north."""
        return self._lat

    @property
    def longitude(self) -> float:
        """Degrees east."""
        return self._lon

    @property
    def altitude(self) -> float:
        """Metres."""
        return self._alt

    def __str__(self) -> str:
        return f"GnssMeasurement(frame={self._frame}, lat={self._lat:.7f}, lon={self._lon:.7f}, alt={self._alt:.2f})"

    __repr__ = __str__


class IMUMeasurement(_SensorDataFields, carla.IMUMeasurement):
    """Accelerometer (m/s², gravity included), gyroscope (rad/s), compass (rad, 0 = north)."""

    def __init__(self, frame: int, timestamp: float, transform: carla.Transform,
                 accelerometer: carla.Vector3D, gyroscope: carla.Vector3D, compass: float):
        self._init_common(frame, timestamp, transform)
        self._accel, self._gyro, self._compass = accelerometer, gyroscope, float(compass)

    @property
    def accelerometer(self) -> carla.Vector3D:
        """Linear acceleration in the sensor frame, m/s²."""
        return self._accel

    @property
    def gyroscope(self) -> carla.Vector3D:
        """Angular velocity in the sensor frame, rad/s."""
        return self._gyro

    @property
    def compass(self) -> float:
        """Heading in radians, 0 = north (-y in CARLA), clockwise."""
        return self._compass

    def __str__(self) -> str:
        return f"IMUMeasurement(frame={self._frame}, compass={self._compass:.4f})"

    __repr__ = __str__


class Image(_SensorDataFields, carla.Image):
    """A camera image: BGRA uint8, CARLA's layout, `raw_data` as bytes."""

    def __init__(self, frame: int, timestamp: float, transform: carla.Transform, bgra: np.ndarray, fov: float):
        self._init_common(frame, timestamp, transform)
        if bgra.dtype != np.uint8 or bgra.ndim != 3 or bgra.shape[2] != 4:
            raise ValueError(f"camera image must be HxWx4 uint8 BGRA, got {bgra.dtype} {bgra.shape}")
        self._bgra = np.ascontiguousarray(bgra)
        self._fov = float(fov)

    @property
    def width(self) -> int:
        """Pixels."""
        return int(self._bgra.shape[1])

    @property
    def height(self) -> int:
        """Pixels."""
        return int(self._bgra.shape[0])

    @property
    def fov(self) -> float:
        """Horizontal field of view, degrees."""
        return self._fov

    @property
    def raw_data(self) -> memoryview:
        """BGRA bytes, row-major (height, width, 4)."""
        return memoryview(self._bgra.reshape(-1))

    def to_array(self) -> np.ndarray:
        """(H, W, 4) uint8 BGRA view (read-only)."""
        view = self._bgra.view()
        view.flags.writeable = False
        return view

    def convert(self, color_converter: carla.ColorConverter) -> None:
        """Convert in place like CARLA: Depth → grey, LogarithmicDepth → log grey, CityScapesPalette → colours."""
        from recon_carla_bridge.sensors.camera_encoding import convert_bgra

        self._bgra = convert_bgra(self._bgra, color_converter)

    def save_to_disk(self, path: str, color_converter: carla.ColorConverter = carla.ColorConverter.Raw) -> None:
        """Write the image as PNG/JPEG (a `%06d` or `{}` in path is replaced by the frame number)."""
        from PIL import Image as PILImage

        from recon_carla_bridge.sensors.camera_encoding import convert_bgra

        target = str(path)
        if "%" in target:
            target = target % self._frame
        elif "{}" in target:
            target = target.format(self._frame)
        if not Path(target).suffix:
            target += ".png"
        Path(target).parent.mkdir(parents=True, exist_ok=True)
        bgra = convert_bgra(self._bgra, color_converter)
        PILImage.fromarray(bgra[:, :, [2, 1, 0]]).save(target)

    def __len__(self) -> int:
        return self.width * self.height

    def __iter__(self) -> Iterator[carla.Color]:
        for index in range(len(self)):
            yield self[index]

    def __getitem__(self, index: int) -> carla.Color:
        row, col = divmod(int(index), self.width)
        b, g, r, a = (int(v) for v in self._bgra[row, col])
        return carla.Color(r, g, b, a)

    def __str__(self) -> str:
        return f"Image(frame={self._frame}, timestamp={self._timestamp:.3f}, size={self.width}x{self.height})"

    __repr__ = __str__


class GenericMeasurement(_SensorDataFields):
    """Pseudo-sensor data (speedometer, OpenDRIVE map) as the leaderboard defines it: `.data`."""

    def __init__(self, frame: int, timestamp: float, transform: carla.Transform, data: Any):
        self._init_common(frame, timestamp, transform)
        self.data = data

    def __str__(self) -> str:
        return f"GenericMeasurement(frame={self._frame}, data={str(self.data)[:60]})"

    __repr__ = __str__
