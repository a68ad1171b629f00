"""Metering: pure math (counters, coverage, periods) and the usage model.

Nothing in this package does I/O except `ledger`, which books contributions
into SQLite inside the writer's transaction.
"""
