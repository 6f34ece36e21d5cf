"""The OCI state document (runtime.md "State", state-schema.json): what ``pyrunc state`` prints and
what hooks receive on stdin. The on-disk bookkeeping of a container (libcontainer_py.state) is a
superset written by the runtime; this is only the spec's public shape."""

from typing import Annotated, ClassVar

from pydantic import Field

from libcontainer_py.spec._base import Document, Str, StrMap
from libcontainer_py.spec.enums import ContainerStatus


class State(Document):
    """The state of a container, as defined by the runtime spec."""

    default_filename: ClassVar[str | None] = "state.json"

    oci_version: Str = Field(alias="ociVersion")
    id: Str
    status: ContainerStatus
    # The schema puts no upper bound on pid; pid_t is an int32, but keep to the schema.
    pid: Annotated[int, Field(strict=True, ge=0)] | None = None
    bundle: Str
    annotations: StrMap | None = None
