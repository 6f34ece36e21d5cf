"""The flag parser of one verb, with runc's (Go flag package) conventions: long options may be
written with one dash (`-bundle x`), `--flag=value` works, and a flag's value is the next word even
when it starts with a dash (`--args -c`).

Not argparse: importing it (with the `gettext`, `locale` and `shutil` it pulls in while building a
parser) costs ~10 ms on the project's machine, the time of a whole `runc state`. This covers what
the verbs use, with argparse's names (`add_argument`, `action`, `type`, `nargs`, `choices`...) and
argparse's error texts, which tests and users already know.
"""

from __future__ import annotations

import sys

from libcontainer_py.cli._context import UsageError

TYPE_CHECKING = False  # not `typing`: its import costs ~3 ms of every pyrunc call
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, NoReturn


class ArgumentTypeError(ValueError):
    """Raised by a `type=` function: its message is the error (as argparse.ArgumentTypeError)."""


class Namespace:
    """The parsed flags, as attributes (argparse.Namespace's role)."""

    def __init__(self, **values: Any) -> None:
        self.__dict__.update(values)

    def __repr__(self) -> str:
        return "Namespace(" + ", ".join(f"{k}={v!r}" for k, v in self.__dict__.items()) + ")"

    if TYPE_CHECKING:

        def __getattr__(self, name: str) -> Any: ...


class Action:
    """One flag or positional: what add_argument() was told."""

    def __init__(self, names: tuple[str, ...], **kw: Any) -> None:
        self.option_strings = [n for n in names if n.startswith("-")]
        self.positional = not self.option_strings
        long_names = [n for n in self.option_strings if n.startswith("--")]
        first = (long_names or self.option_strings or list(names))[0]
        self.dest: str = kw.pop("dest", None) or first.lstrip("-").replace("-", "_")
        self.action: str = kw.pop("action", "store")
        if self.action not in ("store", "store_true", "append"):
            raise ValueError(f"unsupported action {self.action!r}")
        self.nargs: str | None = kw.pop("nargs", None)
        if self.nargs not in (None, "?"):
            raise ValueError(f"unsupported nargs {self.nargs!r}")
        self.const: Any = kw.pop("const", None)
        self.type: Callable[[str], Any] | None = kw.pop("type", None)
        self.choices: tuple[str, ...] | None = kw.pop("choices", None)
        self.metavar: str = kw.pop("metavar", None) or (self.dest if self.positional else self.dest.upper())
        self.help: str = kw.pop("help", "") or ""
        self.required: bool = self.positional and self.nargs is None
        default = kw.pop("default", False if self.action == "store_true" else None)
        self.default: Any = default
        if kw:
            raise TypeError(f"unsupported add_argument keywords: {sorted(kw)}")

    @property
    def takes_value(self) -> bool:
        """Whether the flag consumes a value (the next word when not given with `=`)."""
        return self.action != "store_true" and self.nargs is None

    def label(self) -> str:
        return "/".join(self.option_strings) if self.option_strings else self.metavar

    def convert(self, prog: str, text: str) -> Any:
        if self.type is not None:
            try:
                value = self.type(text)
            except ArgumentTypeError as exc:
                _fail(prog, f"argument {self.label()}: {exc}")
            except (TypeError, ValueError):
                name = getattr(self.type, "__name__", repr(self.type))
                _fail(prog, f"argument {self.label()}: invalid {name} value: {text!r}")
        else:
            value = text
        if self.choices is not None and value not in self.choices:
            choices = ", ".join(repr(c) for c in self.choices)
            _fail(prog, f"argument {self.label()}: invalid choice: {value!r} (choose from {choices})")
        return value


def _fail(prog: str, message: str) -> NoReturn:
    # argparse would print the usage and exit 2; runc prints one line and exits 1. The line gets
    # "pyrunc: " in front where it is reported: the verb alone here ("pyrunc: ps: ...", not
    # "pyrunc: pyrunc ps: ...").
    raise UsageError(f"{prog.removeprefix('pyrunc ')}: {message}")


class _Group:
    """add_argument_group(): only a heading in --help."""

    def __init__(self, parser: VerbParser, title: str) -> None:
        self._parser = parser
        self._title = title

    def add_argument(self, *names: str, **kw: Any) -> Action:
        action = self._parser.add_argument(*names, **kw)
        self._parser._headings[id(action)] = self._title
        return action


class VerbParser:
    def __init__(self, prog: str, description: str) -> None:
        self.prog = prog
        self.description = description
        self.epilog: str | None = None
        self._actions: list[Action] = []
        self._headings: dict[int, str] = {}
        # Verbs like `exec ID COMMAND [ARG...]` set this: flags stop at the first positional
        # (the id), and everything after it is the command, untouched (Go's flag package stops
        # at the first non-flag too), in `args.command`.
        self.command_after_id = False

    def add_argument(self, *names: str, **kw: Any) -> Action:
        action = Action(names, **kw)
        self._actions.append(action)
        return action

    def add_argument_group(self, title: str, description: str | None = None) -> _Group:
        return _Group(self, title)

    def option_strings(self) -> set[str]:
        return {opt for action in self._actions for opt in action.option_strings}

    def error(self, message: str) -> NoReturn:
        _fail(self.prog, message)

    def parse_verb_args(self, argv: list[str]) -> Namespace:
        flags = {opt: a for a in self._actions for opt in a.option_strings}
        positionals = [a for a in self._actions if a.positional]
        values: dict[str, Any] = {}
        words: list[str] = []  # the positional words, in order
        command: list[str] = []
        i = 0
        while i < len(argv):
            arg = argv[i]
            i += 1
            if arg == "--":
                words += argv[i:]
                break
            if not arg.startswith("-") or arg == "-":
                words.append(arg)
                if self.command_after_id:
                    command = argv[i:]
                    break
                continue
            if arg in ("-h", "--help", "-help"):
                sys.stdout.write(self.format_help())
                raise SystemExit(0)
            name, eq, value = arg.partition("=")
            action = flags.get(name)
            if action is None and not name.startswith("--") and len(name) > 2:
                action = flags.get("-" + name)  # Go's single-dash long option
            if action is None:
                self.error(f"unrecognized arguments: {arg}")
            if action.takes_value:
                if not eq:
                    if i >= len(argv):
                        self.error(f"argument {action.label()}: expected one argument")
                    value = argv[i]
                    i += 1
                converted = action.convert(self.prog, value)
            elif action.action == "store_true":
                if eq:
                    self.error(f"argument {action.label()}: ignored explicit argument {value!r}")
                converted = True
            else:  # nargs="?" on a flag: `--flag` alone gives const, `--flag=value` the value
                converted = action.convert(self.prog, value) if eq else action.const
            if action.action == "append":
                values.setdefault(action.dest, []).append(converted)
            else:
                values[action.dest] = converted
        for action in positionals:
            if words:
                values[action.dest] = action.convert(self.prog, words.pop(0))
        if words:
            self.error(f"unrecognized arguments: {' '.join(words)}")
        missing = [a.metavar for a in positionals if a.required and a.dest not in values]
        if missing:
            self.error(f"the following arguments are required: {', '.join(missing)}")
        for action in self._actions:
            if action.dest not in values:
                default = action.default
                # argparse appends to (a copy of) a list default
                values[action.dest] = list(default) if isinstance(default, list) else default
            elif action.action == "append" and isinstance(action.default, list) and action.default:
                values[action.dest] = list(action.default) + values[action.dest]
        args = Namespace(**values)
        if self.command_after_id:
            args.__dict__["command"] = command
        return args

    def format_help(self) -> str:
        flags = [a for a in self._actions if not a.positional]
        positionals = [a for a in self._actions if a.positional]
        usage = [f"usage: {self.prog} [options]"]
        usage += [a.metavar if a.required else f"[{a.metavar}]" for a in positionals]
        if self.command_after_id:
            usage.append("COMMAND [ARG...]")
        lines = [" ".join(usage), "", self.description]
        if positionals:
            lines += ["", "arguments:"]
            lines += [f"  {a.metavar:<28} {a.help}" for a in positionals]
        heading = None
        lines += ["", "options:", f"  {'-h, --help':<28} show this help and exit"]
        for a in flags:
            title = self._headings.get(id(a), "options")
            if title != heading and title != "options":
                lines += ["", f"{title}:"]
            heading = title
            spec = ", ".join(a.option_strings) + (f" {a.metavar}" if a.takes_value else "")
            if a.nargs == "?":
                spec += f"[={a.metavar}]"
            lines.append(f"  {spec:<28} {a.help}" if len(spec) < 28 else f"  {spec}\n  {'':<28} {a.help}")
        if self.epilog:
            lines += ["", self.epilog]
        return "\n".join(lines) + "\n"
