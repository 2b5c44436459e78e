"""How `make py-test` shares the tests between two pytest-xdist workers (`pytest -n 2 --dist loadfile`).

WHY: each test file is one unit of work, so a module fixture that applies or plans a configuration
runs once; and the files that share the session fixtures `multi_source` (examples/multi-source applied,
about 90 s) and `push_sources` (examples/push, about 120 s; the policy matrix reads both) are ONE unit,
so no second worker applies either again. xdist's own `--dist loadgroup` would
group them by a mark, but with pytest 9.2 it silently stops grouping (pytest-dev/pytest-xdist#1386).
tests/test_xdist_units.py fails when a file using the fixture is missing from the list below.
"""

from __future__ import annotations

import pytest
from xdist.scheduler import LoadFileScheduling

SHARED_SESSION_FIXTURES = ("multi_source", "push_sources")
FILES_SHARING_IT = frozenset(
    {
        "tests/test_multi_source_e2e.py",
        "tests/test_orchestration_e2e.py",
        "tests/test_policy_matrix.py",
        "tests/test_push_e2e.py",
    }
)
SHARED_UNIT = f"the files sharing {' or '.join(SHARED_SESSION_FIXTURES)}"


def file_of(nodeid: str) -> str:
    """tests/test_x.py for tests/test_x.py::test_y[z]."""
    return nodeid.split("::", 1)[0]


def unit_of(nodeid: str) -> str:
    """The unit of work a test belongs to: its file, or the one unit of the files sharing the apply."""
    path = file_of(nodeid)
    return SHARED_UNIT if path in FILES_SHARING_IT else path


class FilesSharingAnApplyRunTogether(LoadFileScheduling):
    """`--dist loadfile`, with FILES_SHARING_IT as one file (the scope is xdist's unit of work)."""

    def _split_scope(self, nodeid: str) -> str:
        return unit_of(nodeid)


def longest_first(item: pytest.Item) -> tuple[bool, bool, bool]:
    """Sort key for the workers' collection, whose order is the order units are handed out.

    The run ends no sooner than its longest unit, so that one starts first: the shared apply and the
    tests on it, then the other applies (`slow`), the other terraform plans, and the rest, each in file
    order, which fill the other worker meanwhile.
    """
    return (
        file_of(item.nodeid) not in FILES_SHARING_IT,
        item.get_closest_marker("slow") is None,
        item.get_closest_marker("terraform") is None,
    )
