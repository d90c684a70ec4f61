"""ScenarioRunner on the server-less world: the `recon-carla scenario` command's engine."""
