"""Leitstand agent: samples host utilisation, spools it on disk, posts it to the collector.

Kept import-free on purpose: thin clients run the agent under a tight RSS budget,
and ``import agent.wire`` (which the collector does too) must not drag in psutil,
sqlite3 or ssl through this package's ``__init__``.
"""

__all__ = ["__version__"]

__version__ = "0.1.0"
