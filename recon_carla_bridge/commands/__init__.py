"""Sub-commands of the `recon-carla` CLI, one module each, each exposing `register(subparsers)`."""
