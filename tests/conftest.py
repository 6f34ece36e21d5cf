"""Shared pytest set-up: the ``root`` marker's skip (markers are declared in pyproject.toml)."""

from __future__ import annotations

import os

import pytest

IS_ROOT = os.geteuid() == 0


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``root`` need real privileges (namespaces, mounts): skip them, saying why, otherwise."""
    if IS_ROOT:
        return
    skip_root = pytest.mark.skip(reason="needs root: run as root for namespace and mount tests")
    for item in items:
        if "root" in item.keywords:
            item.add_marker(skip_root)
