"""Leitstand's terminal UI: the admin's view of the fleet, over the collector's HTTP API only.

Layout: ``source.py`` (HTTP client, typed errors), ``model.py`` (pure row models,
filtering, sorting, aggregation), ``i18n.py`` (every visible string), ``app.py``
(the Textual app and its ``make_app`` factory), ``screens/`` and ``widgets/``.
Only ``app.py``, ``commands.py``, ``messages.py``, ``screens/`` and ``widgets/``
import Textual (an import-linter contract keeps it that way).
"""

__version__ = "0.1.0"
