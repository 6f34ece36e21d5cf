"""config.json: the top-level ``Spec`` and the platform-neutral parts (root, mounts, hooks)."""

from typing import Annotated, Any, ClassVar, Self

from pydantic import Field

from libcontainer_py.spec._base import Bool, Document, OCIModel, Str, StrList, StrMap
from libcontainer_py.spec.linux import IDMapping, Linux
from libcontainer_py.spec.process import Process

#: The spec version this package models (and what a Spec built from scratch should declare).
OCI_VERSION = "1.3.0"


class Root(OCIModel):
    """``root``: the rootfs, relative to the bundle unless absolute."""

    path: Str
    readonly: Bool | None = None


class Mount(OCIModel):
    """``mounts[]``. ``uidMappings``/``gidMappings`` make it an idmapped mount (with ``idmap``/``ridmap``
    in ``options``)."""

    destination: Str
    source: Str | None = None
    options: StrList | None = None
    type: Str | None = None
    uid_mappings: list[IDMapping] | None = None
    gid_mappings: list[IDMapping] | None = None


class Hook(OCIModel):
    """One hook: ``path`` is executed with ``args`` (argv, including argv[0]) and ``env``; ``timeout``
    is in seconds."""

    path: Str
    args: StrList | None = None
    env: StrList | None = None
    timeout: Annotated[int, Field(strict=True, ge=1)] | None = None


class Hooks(OCIModel):
    """``hooks``: the lifecycle hooks in the order the runtime calls them. ``prestart`` is deprecated
    (it runs at the same point as ``createRuntime``) but still honoured."""

    prestart: list[Hook] | None = None
    create_runtime: list[Hook] | None = None
    create_container: list[Hook] | None = None
    start_container: list[Hook] | None = None
    poststart: list[Hook] | None = None
    poststop: list[Hook] | None = None


class Spec(Document):
    """config.json. Load with ``Spec.load(bundle_or_file)``; dump with ``to_dict``/``to_json``/``save``.

    The other platforms' sections are kept as plain dicts: this runtime only runs Linux containers,
    but a config written for several platforms must round-trip unchanged.
    """

    default_filename: ClassVar[str | None] = "config.json"

    def join_namespaces_of(self, container: Any, *types: str) -> Self:
        """Make this container join `types` ("network", "user", "ipc", ...) of another, running
        container (a libcontainer_py Container, or its init's pid) by path: /proc/PID/ns/...
        Joining "user" drops this spec's uid/gid mappings (the joined namespace has its own).
        Returns self, changed in place."""
        from libcontainer_py.spec.linux import Linux, LinuxNamespace

        pid = container if isinstance(container, int) else int(container.pid)
        if pid <= 0:
            raise ValueError(f"container {container!r} has no running init to join")
        names = {"network": "net", "mount": "mnt", "pid": "pid", "ipc": "ipc", "uts": "uts",
                 "user": "user", "cgroup": "cgroup", "time": "time"}  # fmt: skip
        unknown = [t for t in types if t not in names]
        if unknown or not types:
            raise ValueError(f"namespace types to join: {', '.join(names)} (got {', '.join(unknown) or 'none'})")
        if self.linux is None:
            self.linux = Linux()
        kept = [ns for ns in (self.linux.namespaces or []) if str(ns.type) not in types]
        joined = [LinuxNamespace.model_validate({"type": t, "path": f"/proc/{pid}/ns/{names[t]}"}) for t in types]
        self.linux.namespaces = kept + joined
        if "user" in types:
            self.linux.uid_mappings = None
            self.linux.gid_mappings = None
        return self

    @classmethod
    def default(cls, rootless: bool = False) -> Self:
        """What `runc spec` (or `runc spec --rootless`) writes, with this runtime's ociVersion."""
        from libcontainer_py.spec.defaults import default_dict

        return cls.from_dict(default_dict(rootless))

    oci_version: Str = Field(alias="ociVersion")
    process: Process | None = None
    root: Root | None = None
    hostname: Str | None = None
    domainname: Str | None = None
    mounts: list[Mount] | None = None
    hooks: Hooks | None = None
    annotations: StrMap | None = None
    linux: Linux | None = None
    solaris: dict[str, Any] | None = None
    windows: dict[str, Any] | None = None
    vm: dict[str, Any] | None = None
    zos: dict[str, Any] | None = None
    freebsd: dict[str, Any] | None = None
