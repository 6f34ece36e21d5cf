"""`pyrunc spec` and `pyrunc generate`, in-process through cli._main and once as a subprocess."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from oci_schema import schema_errors

from libcontainer_py.cli import _main
from libcontainer_py.spec.defaults import default_config, default_json, rootless_config

REPO = Path(__file__).resolve().parents[2]


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = _main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def generate(capsys: pytest.CaptureFixture[str], *flags: str) -> dict[str, Any]:
    status, out, err = run_cli(capsys, "generate", *flags)
    assert status == 0, err
    data: dict[str, Any] = json.loads(out)
    assert schema_errors(data) == []
    return data


def one_line_error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    status, out, err = run_cli(capsys, *argv)
    assert status == 1
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("pyrunc: "), err
    assert "Traceback" not in err
    return err


# --- pyrunc spec -----------------------------------------------------------------------------------


def test_spec_writes_config_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(capsys, "spec", "--bundle", str(tmp_path)) == (0, "", "")
    text = (tmp_path / "config.json").read_text()
    assert text == default_json()
    assert json.loads(text) == default_config()
    assert schema_errors(json.loads(text)) == []


def test_spec_rootless(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(capsys, "spec", "-b", str(tmp_path), "--rootless")[0] == 0
    data = json.loads((tmp_path / "config.json").read_text())
    assert data == rootless_config()
    assert schema_errors(data) == []


def test_spec_defaults_to_the_current_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert run_cli(capsys, "spec")[0] == 0
    assert (tmp_path / "config.json").is_file()
    # runc's message, as runc words it for the current directory.
    err = one_line_error(capsys, "spec")
    assert err == "pyrunc: File config.json exists. Remove it first\n"


def test_spec_refuses_to_overwrite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "config.json").write_text("mine")
    err = one_line_error(capsys, "spec", "--bundle", str(tmp_path))
    assert err == f"pyrunc: File {tmp_path}/config.json exists. Remove it first\n"
    assert (tmp_path / "config.json").read_text() == "mine"


def test_spec_single_dash_long_flag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # runc's flag package accepts -bundle; its callers use it.
    assert run_cli(capsys, "spec", "-bundle", str(tmp_path), "-rootless")[0] == 0
    assert json.loads((tmp_path / "config.json").read_text()) == rootless_config()


def test_spec_missing_bundle_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope"
    err = one_line_error(capsys, "spec", "--bundle", str(missing))
    assert str(missing) in err and "no such directory" in err
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("")
    err = one_line_error(capsys, "spec", "--bundle", str(not_a_dir))
    assert "not a directory" in err


def test_spec_unknown_flag(capsys: pytest.CaptureFixture[str]) -> None:
    err = one_line_error(capsys, "spec", "--bogus")
    assert "--bogus" in err


def _subprocess_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


def test_spec_as_a_subprocess_without_pydantic(tmp_path: Path) -> None:
    # `pyrunc spec` only writes data: it must not pay for importing pydantic.
    code = (
        "import sys, runpy\n"
        "sys.argv = ['pyrunc', 'spec', '--bundle', sys.argv[1]]\n"
        "try:\n"
        "    runpy.run_module('libcontainer_py.cli', run_name='__main__')\n"
        "except SystemExit as e:\n"
        "    assert e.code == 0, e.code\n"
        "assert 'pydantic' not in sys.modules, 'pydantic was imported'\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, env=_subprocess_env()
    )
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "config.json").read_text() == default_json()


def test_spec_subprocess_errors(tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "libcontainer_py.cli", "spec", "--bundle", str(tmp_path)]
    assert subprocess.run(cmd, capture_output=True, env=_subprocess_env()).returncode == 0
    proc = subprocess.run(cmd, capture_output=True, text=True, env=_subprocess_env())
    assert proc.returncode == 1
    assert proc.stderr == f"pyrunc: File {tmp_path}/config.json exists. Remove it first\n"


@pytest.mark.runc
@pytest.mark.skipif(shutil.which("runc") is None, reason="runc is not installed (CI installs it)")
def test_spec_file_equals_runc_but_the_version(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for rootless in (False, True):
        ours, theirs = tmp_path / f"ours{rootless}", tmp_path / f"runc{rootless}"
        ours.mkdir()
        theirs.mkdir()
        flags = ["--rootless"] if rootless else []
        assert run_cli(capsys, "spec", "--bundle", str(ours), *flags)[0] == 0
        subprocess.run(["runc", "spec", "--bundle", str(theirs), *flags], check=True)
        a = json.loads((ours / "config.json").read_text())
        b = json.loads((theirs / "config.json").read_text())
        a.pop("ociVersion")
        b.pop("ociVersion")
        assert a == b


# --- pyrunc generate ---------------------------------------------------------------------------------


def test_generate_without_flags_is_the_default_spec(capsys: pytest.CaptureFixture[str]) -> None:
    assert generate(capsys) == default_config()
    assert generate(capsys, "--rootless") == rootless_config()


def test_generate_process_flags(capsys: pytest.CaptureFixture[str]) -> None:
    data = generate(
        capsys,
        "--args", "sh", "--args=-c", "--args", "echo hi; date",
        "--env", "A=1", "--env", "PATH=/bin",
        "--cwd", "/work", "--tty=false", "--uid", "1000", "--gid", "100",
        "--additional-gids", "10,20", "--additional-gids", "30",
        "--cap-add", "net_admin,SYS_PTRACE", "--cap-drop", "CAP_KILL",
        "--rlimits-add", "RLIMIT_NOFILE:4096:1024", "--rlimits-add", "nproc:100:50",
        "--no-new-privileges=false",
    )  # fmt: skip
    process = data["process"]
    assert process["args"] == ["sh", "-c", "echo hi; date"]
    assert process["env"] == ["PATH=/bin", "TERM=xterm", "A=1"]
    assert process["cwd"] == "/work"
    assert process["terminal"] is False
    assert process["noNewPrivileges"] is False
    assert process["user"] == {"uid": 1000, "gid": 100, "additionalGids": [10, 20, 30]}
    assert process["capabilities"]["bounding"] == [
        "CAP_AUDIT_WRITE", "CAP_NET_BIND_SERVICE", "CAP_NET_ADMIN", "CAP_SYS_PTRACE",
    ]  # fmt: skip
    assert process["rlimits"] == [
        {"type": "RLIMIT_NOFILE", "hard": 4096, "soft": 1024},
        {"type": "RLIMIT_NPROC", "hard": 100, "soft": 50},
    ]


def test_generate_privileged_applies_before_cap_drop(capsys: pytest.CaptureFixture[str]) -> None:
    # Flag order does not matter: privileged first, then the drop.
    data = generate(capsys, "--cap-drop", "SYS_ADMIN", "--privileged")
    assert "CAP_SYS_ADMIN" not in data["process"]["capabilities"]["bounding"]
    assert "CAP_SYS_MODULE" in data["process"]["capabilities"]["bounding"]
    assert "maskedPaths" not in data["linux"] and "readonlyPaths" not in data["linux"]


def test_generate_root_mounts_namespaces(capsys: pytest.CaptureFixture[str]) -> None:
    data = generate(
        capsys,
        "--rootfs-path", "/srv/rootfs", "--rootfs-readonly=false", "--hostname", "c1",
        "--label", "org.example.a=1=2", "--label", "b=",
        "--mount-bind", "/etc/resolv.conf:/etc/resolv.conf:ro",
        "--mount-bind", "/srv/data:/data:bind,nosuid",
        "--tmpfs", "/tmp", "--tmpfs", "/run:rw,size=10m",
        "--linux-namespace-add", "cgroup", "--linux-namespace-path", "network:/var/run/netns/blue",
        "--linux-namespace-remove", "ipc",
        "--uidmappings", "100000:0:65536", "--gidmappings", "200000:0:65536",
    )  # fmt: skip
    assert data["root"] == {"path": "/srv/rootfs", "readonly": False}
    assert data["hostname"] == "c1"
    assert data["annotations"] == {"org.example.a": "1=2", "b": ""}
    assert data["mounts"][-4:] == [
        {
            "destination": "/etc/resolv.conf",
            "type": "bind",
            "source": "/etc/resolv.conf",
            "options": ["rbind", "ro"],
        },
        {"destination": "/data", "type": "bind", "source": "/srv/data", "options": ["bind", "nosuid"]},
        {
            "destination": "/tmp",
            "type": "tmpfs",
            "source": "tmpfs",
            "options": ["rw", "noexec", "nosuid", "nodev", "size=65536k"],
        },
        {"destination": "/run", "type": "tmpfs", "source": "tmpfs", "options": ["rw", "size=10m"]},
    ]
    linux = data["linux"]
    assert linux["namespaces"] == [
        {"type": "pid"},
        {"type": "network", "path": "/var/run/netns/blue"},
        {"type": "uts"},
        {"type": "mount"},
        {"type": "cgroup"},
        {"type": "user"},
    ]
    # oci-runtime-tool's order: HOSTID:CONTAINERID:SIZE.
    assert linux["uidMappings"] == [{"containerID": 0, "hostID": 100000, "size": 65536}]
    assert linux["gidMappings"] == [{"containerID": 0, "hostID": 200000, "size": 65536}]


def test_generate_resources_seccomp_hooks(capsys: pytest.CaptureFixture[str]) -> None:
    data = generate(
        capsys,
        "--linux-mem-limit", "512m", "--linux-cpu-shares", "512", "--linux-cpu-quota", "50000",
        "--linux-cpu-period", "100000", "--linux-pids-limit", "64", "--cgroups-path", "/pyrunc/c1",
        "--seccomp-default", "ERRNO", "--seccomp-allow", "read,write", "--seccomp-allow", "exit_group",
        "--seccomp-errno", "mount", "--seccomp-kill", "ptrace",
        "--hooks-prestart", "/usr/bin/netns-setup", "--hooks-createruntime", "/bin/true",
        "--hooks-createcontainer", "/bin/true", "--hooks-startcontainer", "/bin/true",
        "--poststart", "/bin/true", "--hooks-poststop", "/bin/rm:-f:/tmp/x",
    )  # fmt: skip
    linux = data["linux"]
    assert linux["resources"] == {
        "devices": [{"allow": False, "access": "rwm"}],
        "memory": {"limit": 512 * 2**20},
        "cpu": {"shares": 512, "quota": 50000, "period": 100000},
        "pids": {"limit": 64},
    }
    assert linux["cgroupsPath"] == "/pyrunc/c1"
    assert linux["seccomp"] == {
        "defaultAction": "SCMP_ACT_ERRNO",
        "syscalls": [
            {"names": ["read", "write", "exit_group"], "action": "SCMP_ACT_ALLOW"},
            {"names": ["mount"], "action": "SCMP_ACT_ERRNO"},
            {"names": ["ptrace"], "action": "SCMP_ACT_KILL"},
        ],
    }
    hooks = data["hooks"]
    assert hooks["prestart"] == [{"path": "/usr/bin/netns-setup"}]
    assert set(hooks) == {
        "prestart",
        "createRuntime",
        "createContainer",
        "startContainer",
        "poststart",
        "poststop",
    }
    assert hooks["poststop"] == [{"path": "/bin/rm", "args": ["/bin/rm", "-f", "/tmp/x"]}]


def test_generate_output_and_bundle(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out.json"
    out.write_text("old")
    assert run_cli(capsys, "generate", "--output", str(out), "--hostname", "x") == (0, "", "")
    assert json.loads(out.read_text())["hostname"] == "x"
    assert run_cli(capsys, "generate", "--bundle", str(tmp_path), "--args", "true")[0] == 0
    assert json.loads((tmp_path / "config.json").read_text())["process"]["args"] == ["true"]
    assert not [p for p in tmp_path.iterdir() if ".tmp" in p.name]


def test_generate_template(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    template = default_config()
    template["hostname"] = "from-template"
    (tmp_path / "t.json").write_text(json.dumps(template))
    data = generate(capsys, "--template", str(tmp_path / "t.json"), "--env", "A=1")
    assert data["hostname"] == "from-template"
    assert "A=1" in data["process"]["env"]


def test_generate_warnings_go_to_stderr(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    template = default_config()
    template["process"]["capabilities"]["bounding"].append("CAP_FROM_THE_FUTURE")
    (tmp_path / "t.json").write_text(json.dumps(template))
    status, out, err = run_cli(capsys, "generate", "--template", str(tmp_path / "t.json"))
    assert status == 0 and json.loads(out)
    assert "warning" in err and "CAP_FROM_THE_FUTURE" in err


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (["--cap-add", "NET_ADMINN"], "--cap-add 'NET_ADMINN': unknown capability"),
        (["--cap-drop", "cap_bogus"], "--cap-drop 'cap_bogus': unknown capability"),
        (["--uidmappings", "1000:0"], "--uidmappings '1000:0': expected HOSTID:CONTAINERID:SIZE"),
        (["--gidmappings", "a:0:1"], "--gidmappings 'a:0:1': expected HOSTID:CONTAINERID:SIZE"),
        (["--uidmappings", "1:0:0"], "--uidmappings '1:0:0': SIZE must be at least 1"),
        (["--env", "NOVALUE"], "--env 'NOVALUE': expected NAME=VALUE"),
        (["--cwd", "rel"], "--cwd 'rel': "),
        (["--rlimits-add", "NOFILE:10"], "--rlimits-add 'NOFILE:10': expected TYPE:HARD:SOFT"),
        (["--rlimits-add", "RLIMIT_BOGUS:1:1"], "--rlimits-add 'RLIMIT_BOGUS:1:1': unknown rlimit"),
        (["--rlimits-add", "NOFILE:x:1"], "--rlimits-add 'NOFILE:x:1': HARD and SOFT must be"),
        (["--linux-namespace-add", "netns"], "--linux-namespace-add 'netns': unknown namespace type"),
        (["--linux-namespace-path", "network"], "--linux-namespace-path 'network': expected NS:PATH"),
        (["--linux-namespace-remove", "bogus"], "--linux-namespace-remove 'bogus': unknown namespace"),
        (["--mount-bind", "/only"], "--mount-bind '/only': expected SRC:DEST[:OPTS]"),
        (["--mount-bind", "rel:/dest"], "--mount-bind 'rel:/dest': source must be an absolute path"),
        (["--tmpfs", "tmp"], "--tmpfs 'tmp': destination must be an absolute path"),
        (["--linux-mem-limit", "lots"], "--linux-mem-limit 'lots': expected a number of bytes"),
        (["--linux-cpu-shares", "-5"], "--linux-cpu-shares '-5': must be at least 0"),
        (["--linux-pids-limit", "ten"], "--linux-pids-limit 'ten': expected an integer"),
        (["--seccomp-default", "DENY"], "--seccomp-default 'DENY': unknown seccomp action"),
        (["--seccomp-kill", "Bad!"], "--seccomp-kill 'Bad!': invalid syscall name"),
        (["--seccomp-allow", ","], "--seccomp-allow ',': expected comma-separated syscall names"),
        (["--hooks-poststop", "rm:-f"], "--hooks-poststop 'rm:-f': path must be an absolute path"),
        (["--label", "novalue"], "--label 'novalue': expected KEY=VALUE"),
        (["--uid", "root"], "argument --uid: invalid int value: 'root'"),
        (["--tty=maybe"], "argument --tty: expected true or false"),
        (["--output", "/x", "--bundle", "/y"], "--output and --bundle cannot be combined"),
        (["--bundle", "/nonexistent/dir"], "--bundle /nonexistent/dir: no such directory"),
        (["--linux-namespace-add", "user"], "generated configuration is invalid: linux.uidMappings"),
    ],
)
def test_generate_bad_input_is_one_line(capsys: pytest.CaptureFixture[str], flags: list[str], expected: str) -> None:
    err = one_line_error(capsys, "generate", *flags)
    assert expected in err


def test_generate_as_a_subprocess(tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "libcontainer_py.cli", "generate", "--args", "date", "--tty=false"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=_subprocess_env())
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["process"]["args"] == ["date"] and data["process"]["terminal"] is False
    proc = subprocess.run([*cmd, "--cap-add", "FOO"], capture_output=True, text=True, env=_subprocess_env())
    assert proc.returncode == 1
    assert proc.stderr.startswith("pyrunc: --cap-add 'FOO': unknown capability") and proc.stderr.count("\n") == 1
