"""Shared machinery for the OCI spec models: the base model, the schema's scalar types, and the
conversion of pydantic's ValidationError into one-line ConfigErrors.

Design choices, and why:

* ``extra="allow"``: a runtime must not reject (or silently drop) fields from a newer spec version or
  a vendor extension; unknown keys are kept and written back out unchanged.
* Scalars are *strict* (no "5" -> 5, no 1.0 -> 1, no 1 -> True) so that a config that the JSON schema
  rejects is rejected here too, and so that load-then-dump returns numbers with the type they came in.
  The models themselves stay in lax mode so that enum fields accept their string values.
* The input key order is remembered per object and restored on dump, so ``save()`` after an edit
  produces a minimal diff against the original file.
* ``None`` on a declared field means "absent" (Go's ``omitempty``): it is never written out, so
  ``spec.linux.seccomp = None`` removes the section instead of writing ``"seccomp": null``.
* The model modules (process, resources, linux, config, state, features) deliberately do NOT use
  ``from __future__ import annotations``: pydantic would have to eval() every annotation string when
  the class is created, which costs ~15% of the package's import time.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from typing import Annotated, Any, ClassVar, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SerializerFunctionWrapHandler,
    ValidationError,
    ValidatorFunctionWrapHandler,
    model_serializer,
    model_validator,
)
from pydantic.alias_generators import to_camel

from libcontainer_py.errors import ConfigError
from libcontainer_py.spec._keyorder import ordered

# --- the schema's scalar types (defs.json) -------------------------------------------------------

Int32 = Annotated[int, Field(strict=True, ge=-(2**31), le=2**31 - 1)]
Int64 = Annotated[int, Field(strict=True, ge=-(2**63), le=2**63 - 1)]
Uint16 = Annotated[int, Field(strict=True, ge=0, le=2**16 - 1)]
Uint32 = Annotated[int, Field(strict=True, ge=0, le=2**32 - 1)]
Uint64 = Annotated[int, Field(strict=True, ge=0, le=2**64 - 1)]
#: Unbounded JSON integer (Go ``int``): oomScoreAdj, hook timeouts, the state's pid.
Int = Annotated[int, Field(strict=True)]
#: File permission bits, given in decimal in JSON (0o777 == 511).
FileMode = Annotated[int, Field(strict=True, ge=0, le=0o777)]
Bool = Annotated[bool, Field(strict=True)]
Str = Annotated[str, Field(strict=True)]
StrList = list[Str]
StrMap = dict[str, Str]


class OCIModel(BaseModel):
    """Base of every spec model: snake_case attributes, the spec's camelCase names in JSON.

    ``alias_generator=to_camel`` covers the regular names (``cgroups_path`` -> ``cgroupsPath``); fields
    whose JSON name is not plain camelCase (``classID``, ``hostID``, ``disableOOMKiller``, ``class``...)
    carry an explicit ``alias`` that takes precedence.
    """

    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        alias_generator=to_camel,
        # Building validators eagerly costs ~90 ms at import for all the config.json classes; deferred,
        # the first Spec load pays ~35 ms (~4 ms with the validator cache, _cache.py) and callers that
        # never parse a config (`state`, `kill`) pay nothing. Code that cannot import later (container
        # init after pivot_root) must validate with every model it will use on its own (or call its
        # model_rebuild()) before that point: a build imports pydantic internals (its plugin loader,
        # importlib.metadata), which a process served by the cache may never have imported, and the
        # cache is not read after a pivot_root.
        defer_build=True,
        use_enum_values=False,
        protected_namespaces=(),
    )

    # The keys of the JSON object this model was validated from, in their original order.
    _key_order: tuple[str, ...] | None = PrivateAttr(default=None)

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        # The validator is built on first use (defer_build); let that use try the on-disk cache of
        # validators first (_cache.py): Spec.load, and the models that are used on their own too
        # (Process for exec, LinuxDeviceCgroup and LinuxResources on the create path).
        from libcontainer_py.spec import _cache

        _cache.attach(cls)

    @model_validator(mode="wrap")
    @classmethod
    def _remember_key_order(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        model = handler(data)
        if isinstance(data, dict) and isinstance(model, OCIModel):
            model._key_order = tuple(data)
        return model

    @model_serializer(mode="wrap")
    def _serialize(self, handler: SerializerFunctionWrapHandler) -> Any:
        data = handler(self)
        if not isinstance(data, dict):  # pragma: no cover - models always serialize to a dict
            return data
        return ordered(data, self._key_order, _declared_keys(type(self)))

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready dict: spec names, only the fields that were set, enums as strings."""
        data: dict[str, Any] = self.model_dump(mode="json", by_alias=True, exclude_unset=True)
        return data


_DECLARED_KEYS: dict[type[BaseModel], frozenset[str]] = {}


def _declared_keys(cls: type[BaseModel]) -> frozenset[str]:
    """Names and aliases of a model's declared fields (cached), to tell them from extra keys."""
    keys = _DECLARED_KEYS.get(cls)
    if keys is None:
        names: set[str] = set()
        for name, info in cls.model_fields.items():
            names.add(name)
            if info.alias:
                names.add(info.alias)
            if info.serialization_alias:
                names.add(info.serialization_alias)
        keys = _DECLARED_KEYS[cls] = frozenset(names)
    return keys


# --- documents: the top-level models (Spec, State, Features) -------------------------------------


class Document(OCIModel):
    """A top-level JSON document with load/parse/dump helpers that raise ConfigError, never pydantic's
    ValidationError."""

    #: The file name looked up when ``load()`` is given a directory (a bundle, a state dir).
    default_filename: ClassVar[str | None] = None

    @classmethod
    def from_dict(cls, data: Any, source: str | None = None) -> Self:
        """Validate an already-parsed JSON value (a dict). ``source`` names it in error messages."""
        if not isinstance(data, dict):
            raise ConfigError(f"must be a JSON object (got {_type_name(data)})", source=source)
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise config_error_from(exc, source=source) from None

    @classmethod
    def from_json(cls, text: str | bytes | bytearray, source: str | None = None) -> Self:
        """Parse and validate JSON text. Invalid JSON is reported with its line and column."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(
                f"invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}", source=source
            ) from None
        except UnicodeDecodeError as exc:
            raise ConfigError(f"invalid JSON: not UTF-8 text ({exc.reason})", source=source) from None
        return cls.from_dict(data, source=source)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Self:
        """Read and validate a file; a directory means ``<dir>/<default_filename>``."""
        fspath = os.fspath(path)
        # (not when the path names the file itself: a config.json that is a directory is an error
        # about that path, not about <it>/config.json)
        names_the_file = os.path.basename(fspath.rstrip("/")) == cls.default_filename
        if cls.default_filename and os.path.isdir(fspath) and not names_the_file:
            fspath = os.path.join(fspath, cls.default_filename)
        try:
            with open(fspath, "rb") as f:
                raw = f.read()
        except OSError as exc:
            raise ConfigError(f"cannot read file: {exc.strerror or exc}", source=fspath) from exc
        return cls.from_json(raw, source=fspath)

    def to_json(self, indent: int | None = 4) -> str:
        """Serialize as the spec's JSON (camelCase names, unset fields left out)."""
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)

    def save(self, path: str | os.PathLike[str], indent: int | None = 4) -> None:
        """Write the JSON atomically (temp file + rename): a crash never leaves a half-written file."""
        fspath = os.fspath(path)
        if self.default_filename and os.path.isdir(fspath):
            fspath = os.path.join(fspath, self.default_filename)
        tmp = f"{fspath}.tmp{os.getpid()}"
        try:
            with open(tmp, "w", encoding="utf-8") as f:
                f.write(self.to_json(indent=indent))
                f.write("\n")
            os.replace(tmp, fspath)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise


# --- ValidationError -> ConfigError --------------------------------------------------------------

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_MAX_REPR = 60


def json_path(loc: tuple[int | str, ...]) -> str:
    """Render a pydantic error location as a JSON path: ``linux.resources.rdma.mlx5_1.hcaHandles``,
    ``process.rlimits[1].type``, ``annotations["com.example.key"]``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _IDENT.match(part):
            out += f".{part}" if out else part
        else:
            out += f"[{json.dumps(part)}]"
    return out


def _type_name(value: Any) -> str:
    return {
        dict: "object",
        list: "array",
        str: "string",
        bool: "boolean",
        int: "integer",
        float: "number",
        type(None): "null",
    }.get(type(value), type(value).__name__)


def _short_repr(value: Any) -> str:
    if isinstance(value, dict | list):
        text = json.dumps(value, ensure_ascii=False, default=str)
    else:
        text = repr(value)
    return text if len(text) <= _MAX_REPR else text[: _MAX_REPR - 3] + "..."


def _describe(err: Any) -> str:
    """What the schema expected, in the words of the schema (not pydantic's)."""
    kind: str = err["type"]
    ctx: dict[str, Any] = err.get("ctx") or {}
    if kind == "missing":
        return "is required"
    if kind == "string_pattern_mismatch":
        return f"must match {ctx.get('pattern')}"
    if kind in ("enum", "literal_error"):
        return f"must be one of {ctx.get('expected')}"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return "must be an integer"
    if kind == "greater_than_equal":
        return f"must be >= {ctx.get('ge')}"
    if kind == "less_than_equal":
        return f"must be <= {ctx.get('le')}"
    if kind == "string_type":
        return "must be a string"
    if kind == "bool_type":
        return "must be a boolean"
    if kind == "list_type":
        return "must be an array"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return "must be an object"
    if kind == "too_short":
        return f"must have at least {ctx.get('min_length')} item(s)"
    msg: str = err.get("msg", kind)
    return msg[:1].lower() + msg[1:]


def config_error_from(exc: ValidationError, source: str | None = None) -> ConfigError:
    """One line for the first error, with the JSON path, expectation and given value."""
    errors = exc.errors(include_url=False)
    first = errors[0]
    message = _describe(first)
    if first["type"] != "missing":
        message += f" (got {_short_repr(first.get('input'))})"
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more)"
    path = json_path(tuple(first["loc"])) or None
    return ConfigError(message, path=path, source=source)
