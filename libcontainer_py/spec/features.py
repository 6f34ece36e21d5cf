"""The features document (features.md, features-linux.md): what ``pyrunc features`` prints, so that
higher-level engines can tell which spec fields this runtime understands."""

from typing import Annotated

from pydantic import Field

from libcontainer_py.spec._base import Bool, Document, OCIModel, Str, StrList, StrMap
from libcontainer_py.spec.enums import (
    MemoryPolicyFlag,
    MemoryPolicyMode,
    NamespaceType,
    SeccompAction,
    SeccompArch,
    SeccompFlag,
    SeccompOperator,
)

CAPABILITY_NAME_PATTERN = r"^CAP_[A-Z_]+$"


class CgroupFeatures(OCIModel):
    """``linux.cgroup``: which cgroup managers/controllers the runtime implements."""

    v1: Bool | None = None
    v2: Bool | None = None
    systemd: Bool | None = None
    systemd_user: Bool | None = None
    rdma: Bool | None = None


class SeccompFeatures(OCIModel):
    """``linux.seccomp``: recognized actions, operators, architectures and filter flags."""

    enabled: Bool | None = None
    actions: list[SeccompAction] | None = None
    operators: list[SeccompOperator] | None = None
    archs: list[SeccompArch] | None = None
    known_flags: list[SeccompFlag] | None = None
    supported_flags: list[SeccompFlag] | None = None


class EnabledFeature(OCIModel):
    """An ``{"enabled": bool}`` object: apparmor, selinux, netDevices, mountExtensions.idmap."""

    enabled: Bool | None = None


class IntelRdtFeatures(OCIModel):
    """``linux.intelRdt``: Intel RDT support, the ``schemata`` field and monitoring groups."""

    enabled: Bool | None = None
    schemata: Bool | None = None
    monitoring: Bool | None = None


class MemoryPolicyFeatures(OCIModel):
    """``linux.memoryPolicy``: the recognized set_mempolicy(2) modes and flags."""

    modes: list[MemoryPolicyMode] | None = None
    flags: list[MemoryPolicyFlag] | None = None


class MountExtensionsFeatures(OCIModel):
    """``linux.mountExtensions``."""

    idmap: EnabledFeature | None = None


class LinuxFeatures(OCIModel):
    """``linux`` of the features document."""

    namespaces: list[NamespaceType] | None = None
    capabilities: list[Annotated[str, Field(strict=True, pattern=CAPABILITY_NAME_PATTERN)]] | None = None
    cgroup: CgroupFeatures | None = None
    seccomp: SeccompFeatures | None = None
    apparmor: EnabledFeature | None = None
    selinux: EnabledFeature | None = None
    intel_rdt: IntelRdtFeatures | None = None
    memory_policy: MemoryPolicyFeatures | None = None
    mount_extensions: MountExtensionsFeatures | None = None
    net_devices: EnabledFeature | None = None


class Features(Document):
    """The runtime's features document."""

    oci_version_min: Str = Field(alias="ociVersionMin")
    oci_version_max: Str = Field(alias="ociVersionMax")
    hooks: StrList | None = None
    mount_options: StrList | None = None
    annotations: StrMap | None = None
    potentially_unsafe_config_annotations: StrList | None = None
    linux: LinuxFeatures | None = None
