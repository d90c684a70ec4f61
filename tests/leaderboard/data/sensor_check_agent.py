"""A hand-written leaderboard agent: rgb camera, GNSS, IMU and speedometer; it checks their data and drives.

Written as agents for the CARLA leaderboard are (TransFuser's and LAV's route planners use the same
conventions): GNSS latitude/longitude are turned into local metres with the leaderboard's Mercator scale
(x east, y south, as CARLA's world frame), the IMU compass gives the heading (0 rad = north = CARLA -y,
clockwise), and the sparse GNSS global plan is followed with pure pursuit at a speed held with the
speedometer. The camera is checked for shape and content; the agent brakes while the camera is blank.

Each step it writes what it received to the JSON file named by its config file: the shapes, the frames,
the GNSS fix and local position, and the speeds it measured.
"""
import json
import math

import carla
import numpy as np
from leaderboard.autoagents import autonomous_agent

EARTH_RADIUS_EQUA = 6378137.0  # m, as the leaderboard's route_manipulation uses
LOOKAHEAD = 6.0  # m ahead on the plan polyline
TARGET_SPEED = 6.0  # m/s
REACHED = 3.0  # m: a plan point this close counts as passed


def get_entry_point():
    return "SensorCheckAgent"


def gps_to_local(lat, lon, lat_ref, lon_ref):
    """(x east, y south) in metres of (lat, lon) from (lat_ref, lon_ref), the leaderboard's Mercator inverse."""
    scale = math.cos(math.radians(lat_ref))
    x = math.radians(lon - lon_ref) * EARTH_RADIUS_EQUA * scale
    my = EARTH_RADIUS_EQUA * scale * math.log(math.tan(math.radians(90.0 + lat) / 2.0))
    my_ref = EARTH_RADIUS_EQUA * scale * math.log(math.tan(math.radians(90.0 + lat_ref) / 2.0))
    return np.array([x, -(my - my_ref)])


class SensorCheckAgent(autonomous_agent.AutonomousAgent):
    def setup(self, path_to_conf_file):
        self.track = autonomous_agent.Track.SENSORS
        self.log_path = path_to_conf_file
        self.log = {"frames": 0, "speeds": []}
        self.plan_local = None
        self.next_index = 1
        self.heading = None

    def sensors(self):
        return [
            {"type": "sensor.camera.rgb", "x": 1.3, "y": 0.0, "z": 2.3, "roll": 0.0, "pitch": 0.0, "yaw": 0.0,
             "width": 160, "height": 96, "fov": 100, "id": "front"},
            {"type": "sensor.other.gnss", "x": 0.0, "y": 0.0, "z": 1.6, "id": "gps"},
            {"type": "sensor.other.imu", "x": 0.0, "y": 0.0, "z": 1.6, "roll": 0.0, "pitch": 0.0, "yaw": 0.0,
             "id": "imu"},
            {"type": "sensor.speedometer", "reading_frequency": 20, "id": "speed"},
        ]

    def _reference(self):
        first = self._global_plan[0][0]
        return first["lat"], first["lon"]

    def _target(self, position):
        """The point LOOKAHEAD m ahead of the closest point of the plan polyline still ahead."""
        points = self.plan_local
        while self.next_index < len(points) - 1 and np.linalg.norm(points[self.next_index] - position) < REACHED:
            self.next_index += 1
        start, end = points[self.next_index - 1], points[self.next_index]
        segment = end - start
        length = max(float(np.linalg.norm(segment)), 1e-6)
        along = float(np.clip(np.dot(position - start, segment) / length, 0.0, length))
        remaining = LOOKAHEAD
        index, offset = self.next_index, along
        while True:
            a, b = points[index - 1], points[index]
            span = float(np.linalg.norm(b - a))
            if offset + remaining <= span or index == len(points) - 1:
                t = min((offset + remaining) / max(span, 1e-6), 1.0)
                return a + t * (b - a)
            remaining -= span - offset
            offset = 0.0
            index += 1

    def run_step(self, input_data, timestamp):
        frame_ids = {value[0] for value in input_data.values()}
        image = input_data["front"][1]
        gps = input_data["gps"][1]
        imu = input_data["imu"][1]
        speed = input_data["speed"][1]["speed"]
        assert image.shape == (96, 160, 4) and image.dtype == np.uint8
        assert gps.shape == (3,) and gps.dtype == np.float64 and imu.shape == (7,) and imu.dtype == np.float64
        assert isinstance(speed, float)

        lat_ref, lon_ref = self._reference()
        if self.plan_local is None:
            self.plan_local = np.array([gps_to_local(p["lat"], p["lon"], lat_ref, lon_ref)
                                        for p, _ in self._global_plan])
        position = gps_to_local(gps[0], gps[1], lat_ref, lon_ref)
        if not math.isnan(imu[6]):
            self.heading = imu[6] - math.pi / 2.0  # compass (0 = north = -y, clockwise) -> CARLA yaw
        camera_blank = int(image[..., :3].max()) == int(image[..., :3].min())

        target = self._target(position)
        direction = target - position
        error = math.atan2(direction[1], direction[0]) - self.heading
        error = math.atan2(math.sin(error), math.cos(error))
        last_direction = self.plan_local[-1] - self.plan_local[-2]
        past_end = np.dot(position - self.plan_local[-1], last_direction) / max(np.linalg.norm(last_direction), 1e-6)
        at_end = past_end > REACHED  # keep driving until clearly past the last plan point

        control = carla.VehicleControl()
        control.steer = float(np.clip(1.2 * error, -1.0, 1.0))
        if at_end or camera_blank:
            control.throttle, control.brake = 0.0, 1.0
        else:
            control.throttle = float(np.clip(0.25 * (TARGET_SPEED - speed) + 0.3, 0.0, 0.75))
            control.brake = 0.0 if speed < TARGET_SPEED + 1.0 else 0.3

        self.log.update({"front": list(image.shape), "gps": list(gps.shape), "imu": list(imu.shape),
                         "speed": type(speed).__name__, "frames_per_step": len(frame_ids),
                         "camera_blank": camera_blank, "first_gps_local": self.log.get("first_gps_local",
                                                                                         position.tolist()),
                         "last_gps_local": position.tolist(), "plan_start_local": self.plan_local[0].tolist()})
        self.log["frames"] += 1
        self.log["speeds"].append(round(speed, 3))
        with open(self.log_path, "w") as stream:
            json.dump(self.log, stream)
        return control
