"""The OCI runtime-spec checkout the tests read (fixtures and JSON schema), found once for all tiers.

`OCI_SPEC_DIR` names it (scripts/test.sh sets it); otherwise `../shared/oci-runtime-spec` beside the
repository. Tests that need it skip, saying so, when it is absent.
"""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path
from typing import Any

import pytest

SKIP_REASON = (
    "OCI runtime-spec not found (looked in $OCI_SPEC_DIR and ../shared/oci-runtime-spec): "
    "set OCI_SPEC_DIR to a runtime-spec v1.3.0 checkout"
)


def spec_dir() -> Path | None:
    # An explicit OCI_SPEC_DIR wins (a wrong one skips rather than silently testing another copy).
    env = os.environ.get("OCI_SPEC_DIR")
    candidate = Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "oci-runtime-spec"
    if (candidate / "schema" / "config-schema.json").is_file():
        return candidate
    if env and (candidate / "config-schema.json").is_file():  # OCI_SPEC_DIR named schema/ itself
        return candidate.parent
    return None


@cache
def validator(schema_file: str) -> Any:
    """A Draft 4 validator for `schema_file` (config-schema.json, state-schema.json, ...) whose
    relative $refs (`defs.json#/...`) resolve from the schema directory."""
    jsonschema = pytest.importorskip("jsonschema")
    pytest.importorskip("referencing")
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT4

    root = spec_dir()
    if root is None:
        pytest.skip(SKIP_REASON)
    schema_dir = root / "schema"
    resources = [
        (f.as_uri(), Resource.from_contents(json.loads(f.read_text()), default_specification=DRAFT4))
        for f in schema_dir.glob("*.json")
    ]
    registry: Registry[Any] = Registry().with_resources(resources)
    schema = dict(json.loads((schema_dir / schema_file).read_text()), id=(schema_dir / schema_file).as_uri())
    return jsonschema.Draft4Validator(schema, registry=registry)


def schema_errors(doc: Any, schema_file: str = "config-schema.json") -> list[str]:
    """Every way `doc` breaks the schema, as 'json/path: message' lines (empty when valid)."""
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator(schema_file).iter_errors(doc)]
