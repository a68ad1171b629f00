"""Reusable widgets of the TUI."""

from .banner import ConnectionBanner
from .virtual_table import Column, VirtualTable

__all__ = ["Column", "ConnectionBanner", "VirtualTable"]
