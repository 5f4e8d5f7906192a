"""Fixtures for the system tests: the servers come from tests/harness.py."""

import pytest

from tests.harness import SlackApiStandIn, skip_unless_selected


@pytest.fixture(scope="module", autouse=True)
def _own_services_only_when_selected(request):
    """The resilience and cluster suites boot their own services on fixed ports: they run only
    when selected by name (`-m resilience`, `-m cluster`), never in a broader run."""
    for marker in ("resilience", "cluster"):
        if request.node.get_closest_marker(marker):
            skip_unless_selected(request, marker)


@pytest.fixture(scope="module")
def slack_api():
    """A local stand-in for Slack's Web API (tests/harness.py), for the suites that boot Slack."""
    stand_in = SlackApiStandIn()
    yield stand_in
    stand_in.close()
