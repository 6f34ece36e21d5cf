"""The spec as the runtime's internals get it: objects of spec/fast.py, loaded without pydantic.

Why: `pyrunc create`, `run` and `exec` are short-lived processes, and importing pydantic alone costs
80-90 ms on the project's machine, four times a whole `runc run`. The pydantic models stay the one
definition of the spec and the library's public types; spec/fast.py checks a document against a
table generated from them and gives objects with the same attributes and values. The internals
(namespaces, rootfs, cgroups, process setup, hooks, seccomp) only read attributes, so they are
typed with the models' names; everything reaches them through here, so inside there is one kind of
object, and what they build (the default device rules, an exec's process) is of that kind too.

pydantic is imported only when the fast path declines: an invalid document (pydantic then raises
the one-line ConfigError naming the file and the JSON path) or one it cannot vouch for (pydantic
accepts it, and its dump is rebuilt as fast objects).
"""

from __future__ import annotations

from libcontainer_py import _json
from libcontainer_py.errors import ConfigError

TYPE_CHECKING = False  # not `typing`: its import costs ~3 ms of every pyrunc call
if TYPE_CHECKING:
    import os
    from typing import Any

    from libcontainer_py.spec import LinuxResources, Process, Spec


def load_spec(path: str | os.PathLike[str]) -> Spec:
    """config.json at `path`, validated: the runtime's object, or a ConfigError."""
    from libcontainer_py.spec import fast

    loaded = fast.load(path)
    if loaded is None:
        from libcontainer_py.spec import Spec as SpecModel

        loaded = fast.build(SpecModel.load(path).to_dict())
    return loaded  # type: ignore[return-value]  # a fast.Spec mirrors the model


def as_runtime(obj: Any, model: str = "Spec") -> Any:
    """A library caller's model (a pydantic Spec, Process, LinuxResources...) as the runtime's object
    (rebuilt from its dump: a copy); a fast object as it is. The runtime does not modify what it is
    given: whoever changes the result must copy it first (model_copy). A dict in config.json's
    form (camelCase) is checked as a config.json is (spec.fast, or pydantic's one-line ConfigError):
    a caller that never imports the pydantic models does not pay for them."""
    from libcontainer_py.spec import fast

    if isinstance(obj, fast.FastModel):
        return obj
    if isinstance(obj, dict):
        return _validated(obj, model, None)
    return fast.build(obj.to_dict(), model)


def parse_process(text: str | bytes, source: str) -> Process:
    """A process.json (exec --process), with errors naming the file and the JSON path."""
    return _validated(_parse_json(text, source), "Process", source)  # type: ignore[no-any-return]


def load_process_of(path: str) -> Process | None:
    """The ``process`` of the config.json at ``path``, checked alone (None when it has none): what
    exec takes of a container's config, the defaults of its process. Checking the whole config made
    the classes of every section of it first (~1.5 ms of each `pyrunc exec` here)."""
    with open(path, "rb") as f:
        data = _parse_json(f.read(), path)
    if not isinstance(data, dict):
        raise ConfigError("the document is not a JSON object", source=path)
    process = data.get("process")
    return None if process is None else _validated(process, "Process", f"{path} (process)")


def _parse_json(text: str | bytes, source: str) -> Any:
    try:
        return _json.loads(text)
    except ValueError as exc:  # json.JSONDecodeError, with the position
        lineno, colno = getattr(exc, "lineno", None), getattr(exc, "colno", None)
        line = f" at line {lineno} column {colno}" if lineno is not None else ""
        msg = getattr(exc, "msg", str(exc))
        raise ConfigError(f"invalid JSON: {msg}{line}", source=source) from None


def _validated(data: Any, model: str, source: str | None) -> Any:
    """``data`` as a runtime object of ``model``: checked by spec.fast, or by pydantic when fast
    declines (then its one-line ConfigError, naming ``source`` and the JSON path)."""
    from libcontainer_py.spec import fast

    checked = fast.validate(data, model)
    if checked is not None:
        return checked
    from pydantic import ValidationError

    import libcontainer_py.spec as models
    from libcontainer_py.spec._base import config_error_from

    try:
        return fast.build(getattr(models, model).model_validate(data).to_dict(), model)
    except ValidationError as exc:
        raise config_error_from(exc, source=source) from None


def new(model: str, **fields: Any) -> Any:
    """A runtime object of `model` ("LinuxResources", "User"...) from snake_case fields."""
    from libcontainer_py.spec import fast

    return fast.model_class(model)(**fields)


def resources(data: LinuxResources | dict[str, Any], source: str | None = None) -> LinuxResources:
    """linux.resources from a dict (JSON names) or a model, validated, as the runtime's object (a
    copy). `source` names where the dict came from, in the ConfigError."""
    from libcontainer_py.spec import fast

    if isinstance(data, dict):
        return _validated(data, "LinuxResources", source)  # type: ignore[no-any-return]
    if isinstance(data, fast.FastModel):
        return data.model_copy(deep=True)
    return fast.build(data.to_dict(), "LinuxResources")  # type: ignore[return-value]
