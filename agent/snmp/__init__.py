"""SNMP polling of devices that cannot run an agent: printers, UPS units, switches.

Importing this package is cheap: pysnmp is loaded only by
:mod:`agent.snmp.pysnmp_engine`, which :mod:`agent.snmp.engine` imports only
when a device needs it (SNMPv3, or ``engine = "pysnmp"``); v2c devices go
through the lean codec (:mod:`~agent.snmp.ber`, :mod:`~agent.snmp.lean`).

Layout: :mod:`~agent.snmp.devices` (device config and secrets, pure),
:mod:`~agent.snmp.values` (decoded SNMP values and the snapshot a poll
produces), one profile module per kind (:mod:`~agent.snmp.system`,
:mod:`~agent.snmp.printer`, :mod:`~agent.snmp.ups`, :mod:`~agent.snmp.switch`:
OID maps and fields tables as data, plus a pure ``parse``),
:mod:`~agent.snmp.profiles` (kind detection), :mod:`~agent.snmp.engine` (which
engine polls a device; :mod:`~agent.snmp.walk` holds the request logic both
share) and :mod:`~agent.snmp.poller` (concurrent polling).
"""
