"""A leaderboard agent file as users write them: it logs what its sensors deliver and creeps forward."""
import json

import carla
from leaderboard.autoagents import autonomous_agent


def get_entry_point():
    return "ShapeLoggingAgent"


class ShapeLoggingAgent(autonomous_agent.AutonomousAgent):
    def setup(self, path_to_conf_file):
        self.track = autonomous_agent.Track.SENSORS
        self.log_path = path_to_conf_file
        self.seen = {"steps": 0}

    def sensors(self):
        return [
            {"type": "sensor.camera.rgb", "x": 1.3, "y": 0.0, "z": 2.3, "roll": 0.0, "pitch": 0.0, "yaw": 0.0,
             "width": 64, "height": 32, "fov": 100, "id": "front"},
            {"type": "sensor.other.gnss", "x": 0.0, "y": 0.0, "z": 1.6, "id": "gps"},
            {"type": "sensor.other.imu", "x": 0.0, "y": 0.0, "z": 0.0, "roll": 0.0, "pitch": 0.0, "yaw": 0.0,
             "sensor_tick": 0.05, "id": "imu"},
            {"type": "sensor.speedometer", "reading_frequency": 20, "id": "speed"},
        ]

    def run_step(self, input_data, timestamp):
        self.seen["steps"] += 1
        self.seen["front"] = list(input_data["front"][1].shape)
        self.seen["gps"] = list(input_data["gps"][1].shape)
        self.seen["imu"] = list(input_data["imu"][1].shape)
        self.seen["speed"] = input_data["speed"][1]["speed"]
        self.seen["timestamp"] = timestamp
        with open(self.log_path, "w") as handle:
            json.dump(self.seen, handle)
        speed = input_data["speed"][1]["speed"]
        return carla.VehicleControl(throttle=0.4 if speed < 3.0 else 0.0, brake=0.0, steer=0.0)
