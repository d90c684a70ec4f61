"""Navigation: route planning (global), waypoint following (local), PID control and the agents."""
