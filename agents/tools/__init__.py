"""Helpers shared by the navigation agents: geometry on carla types (`misc`) and result types (`hints`)."""
