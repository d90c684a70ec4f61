"""Sensors of the server-less world, returning CARLA's data types and layouts."""
