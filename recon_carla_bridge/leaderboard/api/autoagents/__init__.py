"""Agent base class (`autonomous_agent`) and the sensor-suite rules (`agent_wrapper`)."""
