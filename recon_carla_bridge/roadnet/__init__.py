"""Road networks for ingested scenes: lane evidence in, an OpenDRIVE file that carla.Map loads out."""
