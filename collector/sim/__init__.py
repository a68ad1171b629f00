"""The fleet simulator: a county IT provider in a box, simulated agents speaking wire format
v1 over real HTTP. `leitstand demo` runs its live fleet, the soak checks the metering ledger
exactly against what was sent, and the benchmarks in bench/ build their load from it.

Modules, from the bottom up:

- `model`: the fleet (tenants, sites, hosts, SNMP devices, KRITIS applications), deterministic for a seed
- `sampling`: one report of a host; synthesized SNMP readings where snmpsim does not serve the device
- `truth`: what the ledger must contain after a soak
- `snmp`: snmpsim serving recordings of real devices (package data), polled by the agent's poller
- `wire`: enrollment and batches over HTTP, retried as the agent does
- `soak`, `faults`: the soak and its fault injection; `live`: the demo's real-time fleet
- `kritis`: the collector config declaring the small fleet's KRITIS applications
- `cli`: `python -m collector.sim`

Importing this package imports nothing heavy; the modules bring their own dependencies
(httpx for the wire, snmpsim at run time for the SNMP side: extra `demo`).
"""
