"""container.parse_signal reads the signal names from `_signal` (no `enum` on `pyrunc kill`'s
path) and accepts and refuses exactly the names signal.Signals does; numbers are what kill(2)
takes, 0 to 64, as runc passes them on."""

from __future__ import annotations

import signal

import pytest

from libcontainer_py.container import parse_signal
from libcontainer_py.errors import LibcontainerError

NAMES = [n for n in dir(signal) if n.startswith("SIG")]


def by_signals(value: str | int) -> int | None:
    """What the former parse_signal (over signal.Signals) gave for a name, None for its errors; a
    number as kill(2) takes it (the former refused 0 and 35-63, runc passes them on)."""
    if isinstance(value, int) or str(value).isdigit():
        return int(value) if 0 <= int(value) <= 64 else None
    name = str(value).upper()
    name = name if name.startswith("SIG") else "SIG" + name
    try:
        return signal.Signals[name]
    except KeyError:
        return None


@pytest.mark.parametrize(
    "value",
    [*range(0, 70), *map(str, range(0, 70)), *NAMES, *(n[3:].lower() for n in NAMES),
     "", "SIG", "FOO", "-9", "9x", "RTMIN+1", "Term", "sigkill"],
)  # fmt: skip
def test_the_same_signals_as_signal_signals(value: str | int) -> None:
    want = by_signals(value)
    if want is None:
        with pytest.raises(LibcontainerError, match="signal"):
            parse_signal(value)
    else:
        got = parse_signal(value)
        assert type(got) is int and got == want


def test_names_runc_accepts() -> None:
    assert parse_signal("KILL") == parse_signal("SIGKILL") == parse_signal("kill") == parse_signal(9) == 9
    assert parse_signal("CLD") == signal.SIGCHLD  # an alias


def test_numbers_as_runc_passes_them_on() -> None:
    assert parse_signal("0") == parse_signal(0) == 0  # is the process alive?
    assert parse_signal("40") == 40 and parse_signal(64) == 64  # real-time, without a name below 64
    with pytest.raises(LibcontainerError, match="0 to 64"):
        parse_signal("65")
