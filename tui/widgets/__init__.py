"""Reusable widgets of the TUI (they never import screens or the app)."""

from .banner import ConnectionBanner
from .cut_line import CutLine
from .fit import Column
from .fit_table import FitTable
from .footer import KeyFooter
from .virtual_table import VirtualTable

__all__ = ["Column", "ConnectionBanner", "CutLine", "FitTable", "KeyFooter", "VirtualTable"]
