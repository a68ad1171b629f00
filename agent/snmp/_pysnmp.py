"""pysnmp, imported in one place.

pysnmp 7.1 imports names pysmi deprecated when pysmi happens to be installed
(snmpsim needs it in development); that warning is silenced here, narrowly.
"""

import warnings

with warnings.catch_warnings():
    # pysmi 1.6 renamed its camelCase API; pysnmp 7.1 still imports the old names.
    warnings.filterwarnings("ignore", r"\w+ is deprecated\. Please use \w+ instead", DeprecationWarning)
    from pysnmp.entity.rfc3413 import cmdgen
    from pysnmp.hlapi.v3arch.asyncio import (
        CommunityData,
        ContextData,
        SnmpEngine,
        Udp6TransportTarget,
        UdpTransportTarget,
        UsmUserData,
        bulk_cmd,
        get_cmd,
        usmAesCfb128Protocol,
        usmAesCfb256Protocol,
        usmHMAC192SHA256AuthProtocol,
        usmHMAC384SHA512AuthProtocol,
        usmHMACSHAAuthProtocol,
        usmNoAuthProtocol,
        usmNoPrivProtocol,
    )
    from pysnmp.hlapi.v3arch.asyncio.lcd import CommandGeneratorLcdConfigurator
    from pysnmp.proto import api, rfc1902, rfc1905
    from pysnmp.proto.rfc1902 import Null, ObjectName
    from pysnmp.smi import builder, view
    from pysnmp.smi.rfc1902 import ObjectIdentity, ObjectType

__all__ = [
    "CommandGeneratorLcdConfigurator",
    "CommunityData",
    "ContextData",
    "Null",
    "ObjectIdentity",
    "ObjectName",
    "ObjectType",
    "SnmpEngine",
    "Udp6TransportTarget",
    "UdpTransportTarget",
    "UsmUserData",
    "api",
    "builder",
    "bulk_cmd",
    "cmdgen",
    "get_cmd",
    "rfc1902",
    "rfc1905",
    "usmAesCfb128Protocol",
    "usmAesCfb256Protocol",
    "usmHMAC192SHA256AuthProtocol",
    "usmHMAC384SHA512AuthProtocol",
    "usmHMACSHAAuthProtocol",
    "usmNoAuthProtocol",
    "usmNoPrivProtocol",
    "view",
]
