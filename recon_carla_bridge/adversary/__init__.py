"""The Dynamic Adversary Agent (DAA): adversary trajectories planned relative to the ego.

Pure planning maths (`frenet`, `polynomials`, `trajectory`, `parameters`, `manoeuvres`,
`avoidability`) apart from the CARLA/py_trees glue (`lanes`, `behaviours`, `scenarios`).
"""
