"""A pytest plugin: Hypothesis profiles for property tests of backprop, and a ``check_backprop`` fixture.

Registered as the ``pytest11`` entry point ``gradmath.testing.plugin`` (named as the module, so
``pytest -p gradmath.testing.plugin`` names the same plugin), it loads wherever gradmath is installed. It registers two Hypothesis profiles and loads
neither unless asked, so a project's own profiles stay in charge:

* ``gradmath-quick`` (:data:`QUICK_EXAMPLES` examples, no deadline): for a student's laptop;
* ``gradmath-thorough`` (:data:`THOROUGH_EXAMPLES` examples, no deadline, slow draws allowed): for CI.

``pytest --gradmath-profile=quick`` (or ``thorough``) loads one; the ``check_backprop`` fixture is
:func:`gradmath.testing.check_backprop` with ``max_examples`` taken from the loaded profile.
"""

from __future__ import annotations

import functools

import pytest
from hypothesis import HealthCheck, settings

__all__ = ["PROFILES", "QUICK_EXAMPLES", "THOROUGH_EXAMPLES"]

#: Examples per property in the quick and thorough profiles.
QUICK_EXAMPLES, THOROUGH_EXAMPLES = 25, 1000
#: Option value → Hypothesis profile name (prefixed, so no project's own "dev" or "ci" is replaced).
PROFILES = {"quick": "gradmath-quick", "thorough": "gradmath-thorough"}

settings.register_profile(PROFILES["quick"], max_examples=QUICK_EXAMPLES, deadline=None)
settings.register_profile(PROFILES["thorough"], max_examples=THOROUGH_EXAMPLES, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large], print_blob=True)


def pytest_addoption(parser):
    group = parser.getgroup("gradmath", "gradmath.testing: property-based tests of backprop")
    group.addoption("--gradmath-profile", choices=sorted(PROFILES), default=None,
                    help="load the Hypothesis profile gradmath-quick (%d examples) or gradmath-thorough (%d)"
                         % (QUICK_EXAMPLES, THOROUGH_EXAMPLES))


def pytest_configure(config):
    choice = config.getoption("--gradmath-profile", default=None)
    if choice:
        settings.load_profile(PROFILES[choice])


def pytest_report_header(config):
    choice = config.getoption("--gradmath-profile", default=None)
    return f"gradmath.testing: Hypothesis profile {PROFILES[choice]}" if choice else None


@pytest.fixture
def check_backprop():
    """:func:`gradmath.testing.check_backprop` with ``max_examples`` from the loaded Hypothesis profile."""
    from gradmath.testing.check import check_backprop as check

    return functools.partial(check, max_examples=settings.default.max_examples)
