"""The files that share the applied session fixture are one unit of work under pytest-xdist."""

from __future__ import annotations

import pytest

from tests.xdist_units import FILES_SHARING_IT, SHARED_SESSION_FIXTURES, file_of, unit_of


def test_every_file_using_the_shared_apply_is_in_its_unit_and_only_those(request: pytest.FixtureRequest):
    """A file missing from the list would apply examples/multi-source or examples/push a second time on
    the other worker; a file listed that no longer uses them would keep its tests on that one worker."""
    items = request.session.items
    using = {
        file_of(i.nodeid) for i in items if set(SHARED_SESSION_FIXTURES) & set(getattr(i, "fixturenames", ()))
    }
    collected = {file_of(i.nodeid) for i in items}
    assert using <= FILES_SHARING_IT, sorted(using - FILES_SHARING_IT)
    assert FILES_SHARING_IT & collected <= using, sorted((FILES_SHARING_IT & collected) - using)


def test_the_shared_files_are_one_unit_and_every_other_file_its_own():
    shared = {unit_of(f"{path}::test_a[x::y]") for path in FILES_SHARING_IT}
    others = {unit_of(f"tests/test_{name}.py::test_b") for name in ("handler", "module_e2e")}
    assert len(shared) == 1 and others == {"tests/test_handler.py", "tests/test_module_e2e.py"}
    assert not shared & others
