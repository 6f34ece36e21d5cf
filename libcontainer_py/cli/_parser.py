"""argparse for one verb, with runc's (Go flag package) conventions:
long options may be written with one dash (`-bundle x`), and `--flag=value` works."""

from __future__ import annotations

import argparse
from typing import NoReturn

from libcontainer_py.cli._context import UsageError


class VerbParser(argparse.ArgumentParser):
    def __init__(self, prog: str, description: str) -> None:
        super().__init__(prog=prog, description=description, allow_abbrev=False)
        # Verbs like `exec ID COMMAND [ARG...]` set this: flags stop at the first positional
        # (the id), and everything after it is the command, untouched (Go's flag package stops
        # at the first non-flag too), in `args.command`.
        self.command_after_id = False

    def error(self, message: str) -> NoReturn:
        # argparse would print usage and exit 2; runc prints one line and exits 1.
        raise UsageError(f"{self.prog}: {message}")

    def _long_options(self) -> dict[str, bool]:
        """long option name -> whether it takes a value."""
        return {
            opt[2:]: action.nargs in (None, 1)
            for action in self._actions
            for opt in action.option_strings
            if opt.startswith("--")
        }

    def parse_verb_args(self, argv: list[str]) -> argparse.Namespace:
        longs = self._long_options()
        shorts = {
            opt: action.nargs in (None, 1)
            for action in self._actions
            for opt in action.option_strings
            if not opt.startswith("--")
        }
        fixed: list[str] = []
        command: list[str] = []
        i = 0
        while i < len(argv):
            arg = argv[i]
            if arg == "--":
                fixed += argv[i:]
                break
            if self.command_after_id and not arg.startswith("-"):
                fixed.append(arg)  # the id
                command = argv[i + 1 :]
                break
            if self.command_after_id and shorts.get(arg) and i + 1 < len(argv):
                fixed += [arg, argv[i + 1]]  # `-u 1000`: the value is not the id
                i += 2
                continue
            if arg.startswith("-") and not arg.startswith("--") and len(arg) > 2:
                name = arg[1:].partition("=")[0]
                if name in longs:
                    arg = "-" + arg
            name, eq, _ = arg[2:].partition("=")
            if arg.startswith("--") and not eq and longs.get(name) and i + 1 < len(argv):
                # Go's flag package takes the next word as the value even when it starts with a
                # dash (`--args -c`); argparse would read it as an option.
                fixed.append(f"{arg}={argv[i + 1]}")
                i += 2
                continue
            fixed.append(arg)
            i += 1
        args = self.parse_args(fixed)
        if self.command_after_id:
            args.command = command
        return args
