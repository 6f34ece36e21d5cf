"""Hand-written parsers that replace regexps on the paths every pyrunc call takes (importing `re` costs
~5 ms there) agree with the regexps they replace."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from libcontainer_py.cgroups.paths import _is_systemd_path
from libcontainer_py.mountinfo import _unescape
from libcontainer_py.state import _ID_CHARS

_OCTAL = re.compile(r"\\([0-7]{3})")
_SYSTEMD_PATH = re.compile(r"^[^/:]*\.slice:[^/:]*:[^/:]+$")
_ID_RE = re.compile(r"[\w+\-.]+", re.ASCII)


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet="\\0123456789abc /", max_size=20))
def test_mountinfo_unescape_is_the_octal_regexp(field: str) -> None:
    assert _unescape(field) == _OCTAL.sub(lambda m: chr(int(m.group(1), 8)), field)


def test_mountinfo_unescape_examples() -> None:
    assert _unescape(r"/a\040b\011c\134d\012") == "/a b\tc\\d\n"
    assert _unescape(r"\04") == r"\04" and _unescape(r"\089") == r"\089"


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=":/.slicemxyz\n", max_size=24) | st.from_regex(_SYSTEMD_PATH))
def test_systemd_path_is_the_regexp(path: str) -> None:
    assert _is_systemd_path(path) == bool(_SYSTEMD_PATH.match(path))


@settings(max_examples=300, deadline=None)
@given(st.text(min_size=1, max_size=12))
def test_container_id_characters_are_the_regexp(cid: str) -> None:
    assert _ID_CHARS.issuperset(cid) == bool(_ID_RE.fullmatch(cid))


def _table_patterns() -> set[str]:
    from libcontainer_py.spec._fast_table import TABLE

    found: set[str] = set()

    def walk(node: object) -> None:
        if isinstance(node, tuple | list):
            if len(node) == 5 and node[0] == "str" and isinstance(node[2], str):
                found.add(node[2])
            for item in node:
                walk(item)
        elif isinstance(node, dict):
            for item in node.values():
                walk(item)

    walk(TABLE)
    return found


def test_every_pattern_of_the_spec_has_a_regexp_free_check() -> None:
    from libcontainer_py.spec.fast import SIMPLE_PATTERNS

    assert _table_patterns() and _table_patterns() <= set(SIMPLE_PATTERNS)


@settings(max_examples=400, deadline=None)
@given(data=st.data())
def test_the_regexp_free_checks_are_the_patterns(data: st.DataObject) -> None:
    from libcontainer_py.spec.fast import SIMPLE_PATTERNS

    pattern = data.draw(st.sampled_from(sorted(SIMPLE_PATTERNS)))
    text = data.draw(
        st.from_regex(pattern) | st.text(alphabet="RLIMT_ABZaz019, -KMGB:\n\u0660", max_size=12) | st.text(max_size=6)
    )
    assert bool(SIMPLE_PATTERNS[pattern](text)) == bool(re.search(pattern, text)), (pattern, text)
