"""Fixtures and hooks of the clients tier (helpers live in clientlib.py, importable by the tests).

Every test under tests/clients is marked `clients` and `root`. What each session fixture sets up,
and takes down again whether the tests pass or fail:

  - `podman_session`: a busybox image (from the host's static busybox, `podman import`ed once) in
    a private storage (`podman --root/--runroot/--tmpdir` under a temp dir, and a private
    CONTAINERS_CONF that registers "pyrunc" in runtime_supports_json, so that podman passes
    `--log-format=json --log`); at the end every container and image is removed and no mount or
    process may name the directory.
  - `containerd_session`: a containerd of its own (root, state and sockets under a temp dir, config
    as runtime-clients.md §1.1), with the same busybox image imported as an OCI archive built here
    (no podman needed); at the end tasks are killed, containers and the image removed, containerd
    stopped, and what it wrote to its hard-coded /run/containerd paths is removed.
  - `pair`: runc and pyrunc side by side, each with a private --root, for the contract tests.

The per-test handles (`pod`, `ctr`) remember what each test created and force-remove it at teardown.
Nothing uses the machine's default podman storage or a system containerd.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from clientlib import (
    CONMON,
    CONTAINERD,
    CTR,
    HERE,
    IMAGE,
    INSTALL_HINT,
    PODMAN,
    PYRUNC,
    PYRUNC_DEFAULT_ROOT,
    RUNC,
    SHIM,
    Containerd,
    CtrHandle,
    Pair,
    PodHandle,
    Podman,
    cgroup_dirs,
    common_skip,
    oci_archive,
    private_dir,
    pyrunc_state_ids,
    remove_cgroup_dirs,
    run_containerd_entries,
    sweep,
    tar_rootfs,
)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "clients: drives pyrunc with real clients (podman, containerd) or against runc; needs root"
    )


@pytest.hookimpl(tryfirst=True)  # before tests/conftest.py turns the root marker into a skip
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    del config
    for item in items:
        if HERE not in Path(str(item.path)).resolve().parents:
            continue
        item.add_marker(pytest.mark.clients)
        item.add_marker(pytest.mark.root)


@pytest.fixture(scope="session")
def busybox_layer(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """The busybox rootfs (libcontainer_py.bundle.make_busybox_rootfs) as a layer tar."""
    if reason := common_skip():
        pytest.skip(reason)
    from libcontainer_py.bundle import make_busybox_rootfs

    rootfs = make_busybox_rootfs(tmp_path_factory.mktemp("bb") / "rootfs")
    return tar_rootfs(rootfs)


@pytest.fixture(scope="session")
def podman_session(busybox_layer: bytes) -> Iterator[Podman]:
    if PODMAN is None or CONMON is None:
        pytest.skip(f"podman and conmon are not installed ({INSTALL_HINT})")
    assert PYRUNC is not None
    base = private_dir("lcpy-podman-")
    cgroup_parents = cgroup_dirs("libpod_parent")
    # podman passes no --root: pyrunc keeps the seccomp cache (podman asks for a seccomp profile)
    # in its default root, which tests/conftest.py removes when the session made it.
    cache = os.path.join(PYRUNC_DEFAULT_ROOT, ".seccomp-cache")
    cache_made = not os.path.exists(cache)
    podman = Podman(base, PYRUNC)
    tar = base / "bb.tar"
    tar.write_bytes(busybox_layer)
    problems: list[str] = []
    try:
        r = podman("import", "-q", str(tar), IMAGE, timeout=120)
        assert r.rc == 0, r
        tar.unlink()
        yield podman
    finally:
        left = podman.ids()
        if left:
            problems.append(f"podman containers left: {left}")
            podman("rm", "-f", "-t", "0", *left, timeout=60)
        podman("rmi", "-a", "-f", timeout=60)
        problems += sweep(base)
        if not problems:
            shutil.rmtree(base, ignore_errors=True)
        # podman's cgroupfs parent (libpod_parent, with conmon's cgroup), when this session made it
        remove_cgroup_dirs(cgroup_dirs("libpod_parent") - cgroup_parents)
        if cache_made:
            shutil.rmtree(cache, ignore_errors=True)
    assert not problems, "; ".join(problems)


@pytest.fixture
def pod(podman_session: Podman) -> Iterator[PodHandle]:
    before = pyrunc_state_ids()
    handle = PodHandle(podman_session)
    problems = []
    try:
        yield handle
    finally:
        for n in handle.names:
            podman_session("rm", "-f", "-t", "0", "--ignore", n, timeout=60)
        left = [n for n in handle.names if podman_session("container", "exists", n).rc == 0]
        if left:
            problems.append(f"podman rm -f left {left}")
        # podman's cleanup process (started by conmon) may still be deleting: give it a moment
        deadline = time.monotonic() + 5
        while (new := pyrunc_state_ids() - before) and time.monotonic() < deadline:
            time.sleep(0.1)
        if new:
            problems.append(f"pyrunc state left under {PYRUNC_DEFAULT_ROOT}: {sorted(new)}")
    assert not problems, "; ".join(problems)


@pytest.fixture(scope="session")
def containerd_session(busybox_layer: bytes) -> Iterator[Containerd]:
    if CONTAINERD is None or CTR is None or SHIM is None:
        pytest.skip(f"containerd, ctr or containerd-shim-runc-v2 is not installed ({INSTALL_HINT})")
    assert PYRUNC is not None
    base = private_dir("lcpy-ctrd-")
    had_run_containerd = os.path.exists("/run/containerd")
    run_entries = run_containerd_entries()
    cgroup_parents = cgroup_dirs("default")  # ctr's cgroupsPath is /<namespace>/<id>
    ctrd = Containerd(base, PYRUNC)
    problems: list[str] = []
    try:
        ctrd.start()
        archive = oci_archive(busybox_layer, IMAGE, base / "bb-oci.tar")
        ctrd.ok("images", "import", str(archive), timeout=120)
        archive.unlink()
        yield ctrd
    finally:
        if ctrd.proc is not None and ctrd.proc.poll() is None:
            left = sorted(set(ctrd.tasks()) | set(ctrd("containers", "ls", "-q").out.split()))
            if left:
                problems.append(f"containerd tasks or containers left: {left}")
            for cid in left:
                ctrd.remove(cid)
            ctrd("images", "rm", IMAGE, timeout=60)
        ctrd.stop()
        problems += sweep(base)
        # containerd writes shim sockets and ctr's fifos to hard-coded /run/containerd paths
        for entry in run_containerd_entries() - run_entries:
            if os.path.isdir(entry) and not os.path.islink(entry):
                shutil.rmtree(entry, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    os.unlink(entry)
        if not had_run_containerd:
            shutil.rmtree("/run/containerd", ignore_errors=True)
        remove_cgroup_dirs(cgroup_dirs("default") - cgroup_parents)
        if not problems:
            shutil.rmtree(base, ignore_errors=True)
    assert not problems, "; ".join(problems)


@pytest.fixture
def ctr(containerd_session: Containerd) -> Iterator[CtrHandle]:
    handle = CtrHandle(containerd_session)
    problems = []
    try:
        yield handle
    finally:
        for cid in handle.ids:
            containerd_session.remove(cid)
        ns_root = containerd_session.runc_root / "default"
        left = sorted(set(os.listdir(ns_root)) & set(handle.ids)) if ns_root.is_dir() else []
        if left:
            problems.append(f"pyrunc state left under {ns_root}: {left}")
    assert not problems, "; ".join(problems)


@pytest.fixture
def pair() -> Iterator[Pair]:
    if reason := common_skip():
        pytest.skip(reason)
    if RUNC is None:
        pytest.skip("runc is not installed: the contract tests compare pyrunc with it (apt-get install runc)")
    p = Pair(private_dir("lcpy-contract-"))
    try:
        yield p
    finally:
        problems = p.cleanup()
        if not problems:
            shutil.rmtree(p.base, ignore_errors=True)
    assert not problems, "; ".join(problems)
