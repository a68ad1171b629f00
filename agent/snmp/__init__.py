"""SNMP polling of devices that cannot run an agent: printers, UPS units, switches.

Importing this package is cheap: pysnmp is loaded only by :mod:`agent.snmp.engine`,
which the agent imports only when devices are configured.

Layout: :mod:`~agent.snmp.devices` (device config and secrets, pure),
:mod:`~agent.snmp.values` (decoded SNMP values and the snapshot a poll
produces), one profile module per kind (:mod:`~agent.snmp.system`,
:mod:`~agent.snmp.printer`, :mod:`~agent.snmp.ups`, :mod:`~agent.snmp.switch`:
OID maps and fields tables as data, plus a pure ``parse``),
:mod:`~agent.snmp.profiles` (kind detection), :mod:`~agent.snmp.engine` (pysnmp 7
asyncio client) and :mod:`~agent.snmp.poller` (concurrent polling).
"""
