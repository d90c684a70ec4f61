"""Ingest real driving logs into SceneLogs: readers, ego odometry, LiDAR actor tracking, the format."""
