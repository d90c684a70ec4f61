"""CARLA-compatible `agents` package: the public interface of CARLA 0.9.16's PythonAPI agents.

`agents.navigation` holds the planners, controllers and agents (BasicAgent, BehaviorAgent,
ConstantVelocityAgent, LocalPlanner, GlobalRoutePlanner and the 0.9.11-era GlobalRoutePlannerDAO
that ScenarioRunner 0.9.11 imports); `agents.tools` holds the helpers (`misc`, `hints`).
Everything talks to the world only through the `carla` client API, so it runs the same on a CARLA
server and on recon_carla_bridge's server-less world.
"""
