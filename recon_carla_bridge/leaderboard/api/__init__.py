"""The leaderboard's public modules, importable as `leaderboard.*` through `..alias`.

Only the modules agent files import are provided: `autoagents.autonomous_agent`, `autoagents.agent_wrapper`,
`envs.sensor_interface` and `utils.route_manipulation`. They follow the interfaces of
carla-simulator/leaderboard (branches leaderboard-1.0 and master/2.0) and are written for this project.
"""
