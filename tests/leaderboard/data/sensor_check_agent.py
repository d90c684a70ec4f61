"""A hand-written leaderboard agent: rgb camera, GNSS, IMU and speedometer; it checks their data and drives.

It steers towards the next point of its GNSS global plan using the IMU compass, holds ~5 m/s with the
speedometer, and writes the shapes it received to the file named by its config file (one line per sensor).
"""
import json
import math

import carla
import numpy as np
from leaderboard.autoagents import autonomous_agent


def get_entry_point():
    return "SensorCheckAgent"


class SensorCheckAgent(autonomous_agent.AutonomousAgent):
    def setup(self, path_to_conf_file):
        self.track = autonomous_agent.Track.SENSORS
        self.log_path = path_to_conf_file
        self.seen = {}

    def sensors(self):
        return [
            {"type": "sensor.camera.rgb", "x": 1.3, "y": 0.0, "z": 2.3, "roll": 0.0, "pitch": 0.0, "yaw": 0.0,
             "width": 160, "height": 96, "fov": 100, "id": "front"},
            {"type": "sensor.other.gnss", "x": 0.0, "y": 0.0, "z": 1.6, "id": "gps"},
            {"type": "sensor.other.imu", "x": 0.0, "y": 0.0, "z": 1.6, "roll": 0.0, "pitch": 0.0, "yaw": 0.0,
             "id": "imu"},
            {"type": "sensor.speedometer", "reading_frequency": 20, "id": "speed"},
        ]

    def run_step(self, input_data, timestamp):
        image = input_data["front"][1]
        gps = input_data["gps"][1]
        imu = input_data["imu"][1]
        speed = input_data["speed"][1]["speed"]
        assert image.shape == (96, 160, 4) and image.dtype == np.uint8
        assert gps.shape == (3,) and imu.shape == (7,)
        self.seen = {"front": list(image.shape), "gps": list(gps.shape), "imu": list(imu.shape),
                     "speed": type(speed).__name__, "frames": len({v[0] for v in input_data.values()})}
        with open(self.log_path, "w") as stream:
            json.dump(self.seen, stream)
        target = next((p for p, _ in self._global_plan if _distance(gps, p) > 4.0), self._global_plan[-1][0])
        # GNSS to local metres (x east, y south like CARLA) around the current position.
        dx = (target["lon"] - gps[1]) * 111319.5 * math.cos(math.radians(gps[0]))
        dy = -(target["lat"] - gps[0]) * 111319.5
        heading = imu[6] - math.pi / 2  # compass 0 = north (-y); CARLA yaw 0 = +x
        error = math.atan2(dy, dx) - heading
        error = math.atan2(math.sin(error), math.cos(error))
        control = carla.VehicleControl()
        control.steer = float(np.clip(1.5 * error, -1, 1))
        control.throttle = 0.5 if speed < 5.0 else 0.0
        control.brake = 0.0
        return control


def _distance(gps, point):
    return math.hypot((point["lat"] - gps[0]) * 111319.5, (point["lon"] - gps[1]) * 111319.5)
