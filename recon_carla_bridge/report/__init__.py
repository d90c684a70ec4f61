"""`recon-carla report`: one HTML page from a results JSON (scores, per-route infractions, videos, plots)."""
