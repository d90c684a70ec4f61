"""Sensor plumbing between the world and the agent (`sensor_interface`)."""
