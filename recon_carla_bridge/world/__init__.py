"""The server-less CARLA world: state, kinematics, collisions, maps, actors and the CARLA API facade."""
