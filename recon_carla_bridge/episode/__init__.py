"""One episode loop for every way of driving in a world: the evaluator, ScenarioRunner runs with an agent,
the demo, and environments that step it from outside (`EpisodeRunner`: reset, step, close; callbacks for
recording, criteria, scenarios, metrics and video)."""
from recon_carla_bridge.episode.callbacks import EpisodeCallback, TimeLimit
from recon_carla_bridge.episode.runner import EpisodeRunner, EpisodeTask, Observation, StepResult

__all__ = ["EpisodeCallback", "EpisodeRunner", "EpisodeTask", "Observation", "StepResult", "TimeLimit"]
