"""Which role a host plays: ``vm`` when virtualised, else ``server``.

``thin-client`` cannot be told from the hardware (a thin client is a small PC), so it
only ever comes from the agent's configuration, which also overrides detection.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Final, get_args

from agent import wire

__all__ = ["DETECT_VIRT", "DMI_DIR", "DMI_HYPERVISORS", "ROLES", "detect_role", "dmi_hypervisor", "systemd_detect_virt"]

log = logging.getLogger(__name__)

ROLES: Final[tuple[wire.Role, ...]] = get_args(wire.Role)
DMI_DIR: Final = Path("/sys/class/dmi/id")
DETECT_VIRT: Final = ("systemd-detect-virt", "--vm")

# (DMI file, case-insensitive prefix of its content) that only a hypervisor reports.
DMI_HYPERVISORS: Final = (
    ("sys_vendor", "QEMU"),  # also Proxmox VE and most KVM hosts
    ("product_name", "KVM"),
    ("sys_vendor", "VMware"),
    ("product_name", "VMware"),
    ("sys_vendor", "innotek"),  # VirtualBox
    ("product_name", "VirtualBox"),
    ("sys_vendor", "Xen"),
    ("product_name", "HVM domU"),
    ("product_name", "Virtual Machine"),  # Microsoft Hyper-V and Azure
    ("sys_vendor", "Amazon EC2"),
    ("sys_vendor", "Google"),
    ("product_name", "Google Compute Engine"),
    ("sys_vendor", "Proxmox"),
    ("product_name", "Proxmox"),
    ("sys_vendor", "Parallels"),
    ("sys_vendor", "Bochs"),
    ("product_name", "Bochs"),
    ("sys_vendor", "BHYVE"),
    ("product_name", "BHYVE"),
    ("product_name", "OpenStack"),
    ("sys_vendor", "DigitalOcean"),
    ("sys_vendor", "Alibaba Cloud"),
    ("sys_vendor", "Nutanix"),
    ("product_name", "AHV"),
)
# EC2 bare-metal instances carry the Amazon vendor string but are physical servers.
_NOT_VIRTUAL_PRODUCT_SUFFIXES: Final = (".metal",)


def systemd_detect_virt(command: Sequence[str] = DETECT_VIRT, timeout: float = 5.0) -> str | None:
    """The hypervisor systemd sees (``"none"`` on bare metal), or None when it cannot tell.

    ``--vm`` ignores containers on purpose: a container shares its host's hardware, so
    an agent in a container on a physical server reports ``server``.
    """
    # Imported here: detection runs once, and subprocess costs the agent RSS for its whole life.
    import subprocess

    try:
        # Not installed raises FileNotFoundError; no shutil.which, whose import costs RSS.
        done = subprocess.run(list(command), capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.SubprocessError):
        log.debug("%s failed", command[0], exc_info=True)
        return None
    answer = done.stdout.strip()
    if done.returncode == 0 and answer:
        return answer
    # Exit status 1 with "none" is its way of saying "no hypervisor"; any other failure
    # says nothing, and DMI gets its turn.
    if done.returncode == 1 and answer == "none":
        return "none"
    return None


def _read_dmi(dmi_dir: Path, name: str) -> str:
    try:
        return (dmi_dir / name).read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return ""


def dmi_hypervisor(dmi_dir: Path = DMI_DIR) -> str | None:
    """The DMI vendor/product string that names a hypervisor, or None."""
    values = {field: _read_dmi(dmi_dir, field) for field in ("sys_vendor", "product_name")}
    if values["product_name"].casefold().endswith(_NOT_VIRTUAL_PRODUCT_SUFFIXES):
        return None
    for field, prefix in DMI_HYPERVISORS:
        if values[field].casefold().startswith(prefix.casefold()):
            return values[field]
    return None


def detect_role(
    configured: str | None = None,
    *,
    detect_virt: Callable[[], str | None] = systemd_detect_virt,
    dmi_dir: Path = DMI_DIR,
) -> wire.Role:
    """The configured role if any, else ``vm`` or ``server`` from what the host reveals."""
    if configured:
        for role in ROLES:
            if configured == role:
                return role
        raise ValueError(f"unknown role {configured!r}; expected one of {', '.join(ROLES)}")
    virt = detect_virt()
    if virt is not None:
        return "server" if virt == "none" else "vm"
    return "vm" if dmi_hypervisor(dmi_dir) is not None else "server"
