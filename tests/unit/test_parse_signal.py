"""container.parse_signal reads the signal names and numbers from `_signal` (no `enum` on `pyrunc
kill`'s path); it accepts and refuses exactly what signal.Signals does."""

from __future__ import annotations

import signal

import pytest

from libcontainer_py.container import parse_signal
from libcontainer_py.errors import LibcontainerError

NAMES = [n for n in dir(signal) if n.startswith("SIG")]


def by_signals(value: str | int) -> int | None:
    """What the former parse_signal (over signal.Signals) gave, None for its errors."""
    if isinstance(value, int) or str(value).isdigit():
        try:
            return signal.Signals(int(value))
        except ValueError:
            return None
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
