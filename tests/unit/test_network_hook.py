"""pyrunc-netns argument and state handling, argument validation, add_network_hooks (no root: every
case here fails, or finishes, before any netlink socket is opened)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from libcontainer_py.network import (
    NetworkError,
    add_network_hooks,
    connect,
    disconnect,
    hook_command,
    move_net_devices,
    setup_bridge,
    veth_name,
)
from libcontainer_py.network._netns import check_ifname
from libcontainer_py.network.hook import main, read_state
from libcontainer_py.spec import Spec, SpecBuilder


def run(argv: list[str], stdin: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    rc = main(argv, stdin=io.StringIO(stdin))
    captured = capsys.readouterr()
    return rc, captured.out, captured.err


def gone_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_import_does_not_load_pyroute2() -> None:
    code = "import sys, libcontainer_py.network, libcontainer_py.network.hook; print('pyroute2' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    assert out.strip() == "False"


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "non-empty"),
        ("a" * 16, "is 16 bytes long; Linux allows at most 15"),
        ("é" * 8, "is 16 bytes long"),
        ("a/b", "may not"),
        ("a b", "may not"),
        ("a:b", "may not"),
        ("..", "may not"),
        ("eth%d", "may not contain '%'"),
    ],
)
def test_ifname_validation(name: str, message: str) -> None:
    with pytest.raises(NetworkError, match=f"^bridge: .*{message}"):
        check_ifname(name, "bridge")


def test_ifname_ok() -> None:
    assert check_ifname("a" * 15, "bridge") == "a" * 15
    assert check_ifname("net%d", "x", template=True) == "net%d"


def test_veth_name_is_stable_short_and_per_bridge() -> None:
    name = veth_name("a-very-long-container-id" * 5, "pyrunc0")
    assert len(name) == 15 and name.startswith("pyv")
    assert name == veth_name("a-very-long-container-id" * 5, "pyrunc0")
    assert name != veth_name("a-very-long-container-id" * 5, "pyrunc1")


def test_library_validates_before_touching_anything(tmp_path: Path) -> None:
    root = tmp_path / "state"
    with pytest.raises(NetworkError, match=r"^bridge: .* at most 15"):
        connect("c", os.getpid(), "lcpyt-too-long-bridge", state_root=root)
    with pytest.raises(NetworkError, match=r"^subnet: "):
        connect("c", os.getpid(), "lcpytbr0", "10.0.0.0/31", state_root=root)
    with pytest.raises(NetworkError, match=r"^mtu: MTU must be an integer from 68 to 65535"):
        connect("c", os.getpid(), "lcpytbr0", mtu=70000, state_root=root)
    with pytest.raises(NetworkError, match=r"^container_id: "):
        connect("", os.getpid(), "lcpytbr0", state_root=root)
    with pytest.raises(NetworkError, match=r"^ifname: "):
        connect("c", os.getpid(), "lcpytbr0", ifname="bad name", state_root=root)
    pid = gone_pid()
    with pytest.raises(NetworkError, match=f"^pid: pid {pid}: no such process"):
        connect("c", pid, "lcpytbr0", state_root=root)
    with pytest.raises(NetworkError, match=r"^pid: pid must be a positive integer"):
        connect("c", 0, "lcpytbr0", state_root=root)
    with pytest.raises(NetworkError, match=r"^host_netns: /run/netns/lcpyt-nope: no such network namespace"):
        connect("c", os.getpid(), "lcpytbr0", state_root=root, host_netns="lcpyt-nope")
    with pytest.raises(NetworkError, match=r"^bridge: "):
        disconnect("c", "x" * 16, state_root=root)
    with pytest.raises(NetworkError, match=r"^bridge: "):
        setup_bridge("x" * 16, "10.0.0.0/24")
    with pytest.raises(NetworkError, match=r"^linux\.netDevices\.eth0\.name: .* at most 15"):
        move_net_devices({"eth0": {"name": "y" * 16}}, os.getpid())
    with pytest.raises(NetworkError, match=r"^linux\.netDevices\.b\.name: x is also the name given to a"):
        move_net_devices({"a": {"name": "x"}, "b": {"name": "x"}}, os.getpid())
    assert move_net_devices({}, os.getpid()) == {}
    assert not root.exists()  # nothing was made


def test_read_state() -> None:
    state = {"ociVersion": "1.3.0", "id": "web", "status": "created", "pid": 42, "bundle": "/b"}
    assert read_state(io.StringIO(json.dumps(state)), need_pid=True) == ("web", 42)
    assert read_state(io.StringIO('{"id": "web", "status": "stopped"}'), need_pid=False) == ("web", None)
    for text, message in [
        ("", "stdin is empty"),
        ("  \n", "stdin is empty"),
        ("{", "not valid JSON"),
        ("[1]", "not a JSON object"),
        ('{"pid": 4}', 'no "id"'),
        ('{"id": "x", "pid": "4"}', '"pid" is not an integer'),
        ('{"id": "x", "pid": true}', '"pid" is not an integer'),
        ('{"id": "x", "status": "stopped"}', "no \"pid\" (status 'stopped')"),
        ('{"id": "x", "pid": 0}', 'no "pid"'),
    ]:
        with pytest.raises(NetworkError) as info:
            read_state(io.StringIO(text), need_pid=True)
        assert info.value.argument == "stdin" and message in info.value.reason, (text, info.value)


@pytest.mark.parametrize(
    ("argv", "stdin", "rc", "expected"),
    [
        (["up"], "", 1, "pyrunc-netns up: stdin: no container state: stdin is empty"),
        (["up"], "{oops", 1, "pyrunc-netns up: stdin: the container state is not valid JSON"),
        (["down"], "", 1, "pyrunc-netns down: stdin: no container state"),
        (["up", "--subnet", "10.0.0.0/31"], "{}", 1, "pyrunc-netns up: --subnet: 10.0.0.0/31 is too small"),
        (["up", "--subnet", "nonsense"], "{}", 1, "pyrunc-netns up: --subnet: 'nonsense' has no prefix length"),
        (["up", "--bridge", "b" * 16], "{}", 1, "pyrunc-netns up: --bridge: interface name 'bbbbbbbbbbbbbbbb' is 16"),
        (["up", "--mtu", "5"], "{}", 1, "pyrunc-netns up: --mtu: MTU must be an integer from 68"),
        (["up", "--mtu", "x"], "{}", 2, "pyrunc-netns up: argument --mtu: invalid int value: 'x'"),
        (["sideways"], "", 2, "pyrunc-netns: argument command: invalid choice: 'sideways'"),
        ([], "", 2, "pyrunc-netns: the following arguments are required: command"),
        (["up", "--id", "x", "--pid", "0"], "", 1, "pyrunc-netns up: --pid: pid must be a positive integer"),
    ],
)
def test_hook_errors_are_one_line(
    argv: list[str], stdin: str, rc: int, expected: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    got_rc, out, err = run(
        [*argv, "--state-root", str(tmp_path / "s")] if argv[:1] in (["up"], ["down"]) else argv, stdin, capsys
    )
    assert (got_rc, out) == (rc, "")
    assert err.startswith(expected), err
    assert err.count("\n") == 1
    assert not (tmp_path / "s").exists()


def test_hook_pid_gone_names_stdin_pid(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pid = gone_pid()
    state = json.dumps({"ociVersion": "1.3.0", "id": "x", "status": "creating", "pid": pid, "bundle": "/"})
    rc, out, err = run(["up", "--state-root", str(tmp_path)], state, capsys)
    assert (rc, out) == (1, "")
    assert err == f"pyrunc-netns up: stdin: pid: pid {pid}: no such process (has the container exited?)\n"


def test_add_network_hooks_to_a_dict() -> None:
    config: dict[str, Any] = SpecBuilder.default().to_dict()
    same = add_network_hooks(config, "lcpytbr0", "10.30.0.0/24", state_root="/run/x", mtu=1400, timeout=10)
    assert same is config
    path, prefix = hook_command()
    assert os.path.isabs(path)
    up, down = config["hooks"]["createRuntime"], config["hooks"]["poststop"]
    assert up == [
        {
            "path": path,
            "args": [
                *prefix,
                "up",
                "--bridge",
                "lcpytbr0",
                "--subnet",
                "10.30.0.0/24",
                "--state-root",
                "/run/x",
                "--mtu",
                "1400",
            ],
            "timeout": 10,
        }
    ]
    assert down[0]["args"] == [
        *prefix,
        "down",
        "--bridge",
        "lcpytbr0",
        "--subnet",
        "10.30.0.0/24",
        "--state-root",
        "/run/x",
    ]
    add_network_hooks(config, "lcpytbr0", "10.30.0.0/24", state_root="/run/x", mtu=1400, timeout=10)
    assert len(config["hooks"]["createRuntime"]) == 1 and len(config["hooks"]["poststop"]) == 1  # no duplicates
    Spec.from_dict(config)  # still a valid config


def test_add_network_hooks_to_a_spec_and_prestart() -> None:
    spec = SpecBuilder.default().build()
    out = add_network_hooks(spec, kind="prestart", hook_path="/usr/local/bin/pyrunc-netns")
    assert isinstance(out, Spec) and out is not spec
    assert spec.hooks is None or not spec.hooks.prestart  # the original is untouched
    assert out.hooks is not None and out.hooks.prestart is not None and out.hooks.poststop is not None
    assert out.hooks.prestart[0].path == "/usr/local/bin/pyrunc-netns"
    assert out.hooks.prestart[0].args == ["pyrunc-netns", "up", "--bridge", "pyrunc0", "--subnet", "10.88.0.0/16"]
    assert out.hooks.poststop[0].args == ["pyrunc-netns", "down", "--bridge", "pyrunc0", "--subnet", "10.88.0.0/16"]


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"subnet": "10.0.0.1/24"}, "subnet"),
        ({"bridge": "b" * 16}, "bridge"),
        ({"mtu": 0}, "mtu"),
        ({"kind": "poststart"}, "kind"),
        ({"hook_path": "relative/pyrunc-netns"}, "hook_path"),
        ({"timeout": 0}, "timeout"),
        ({"ifname": "a b"}, "ifname"),
    ],
)
def test_add_network_hooks_rejects(kwargs: dict[str, Any], argument: str) -> None:
    config: dict[str, Any] = {}
    with pytest.raises(NetworkError) as info:
        add_network_hooks(config, **kwargs)
    assert info.value.argument == argument
    assert config == {}
