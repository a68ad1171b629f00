"""Leitstand collector: ingest, storage, tenancy and the HTTP API."""

__version__ = "0.1.0"
