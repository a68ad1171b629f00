"""Host sampling: one module per metric family (each with a FIELDS table), and the Sampler."""

from agent.sampling.role import detect_role
from agent.sampling.sampler import Sampler

__all__ = ["Sampler", "detect_role"]
