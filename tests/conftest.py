"""Shared fixtures: one prepared data cache for the whole test session."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from nbdojo.competitions import CompetitionData, load, prepare


@pytest.fixture(scope="session")
def prepared_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """NBDOJO_HOME set (in os.environ, so subprocesses see it) to a temp dir with loan-default prepared."""
    home = tmp_path_factory.mktemp("nbdojo-home")
    previous = os.environ.get("NBDOJO_HOME")
    os.environ["NBDOJO_HOME"] = str(home)
    prepare("loan-default")
    yield home
    if previous is None:
        os.environ.pop("NBDOJO_HOME", None)
    else:
        os.environ["NBDOJO_HOME"] = previous


@pytest.fixture(scope="session")
def loan_default_data(prepared_home: Path) -> CompetitionData:
    return load("loan-default")


@pytest.fixture(scope="session")
def baseline_cli_run(prepared_home: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """`nbdojo run loan-default --agent baseline --seed 0`, as a user runs it: (stdout, notebook path).

    Shared by the end-to-end and replay tests: the episode is the slowest fixture of the suite.
    """
    import re
    import subprocess
    import sys

    out = tmp_path_factory.mktemp("baseline-runs")
    proc = subprocess.run(
        [sys.executable, "-m", "nbdojo.cli", "run", "loan-default", "--agent", "baseline", "--out", str(out),
         "--seed", "0"], capture_output=True, text=True, env=os.environ.copy(), timeout=900,
    )
    assert proc.returncode == 0, proc.stderr + proc.stdout
    match = re.search(r"notebook (\S+\.ipynb)", proc.stdout)
    assert match, proc.stdout
    return proc.stdout, Path(match.group(1))


#: Fixtures that run a real episode: a test that uses one is in the kernel tier, marked or not.
EPISODE_FIXTURES = {"baseline_cli_run", "baseline_run", "llm_episode", "episode", "arena"}
#: Competitions whose build takes seconds: tests that build them are in the slow tier.
SLOW_BUILDS = {"shapes-cv", "review-sentiment", "digits-noisy", "ticket-routing", "product-search", "store-sales",
               "land-cover", "click-through", "sensor-activity", "doctor-visits", "flc-survival", "caravan-insurance"}
SLOW_BUILDS |= {"flight-delays", "tweet-source", "ames-housing", "hotel-rates"}  # real data, refitted at build time
SLOW_BUILDS |= {"appliance-loads"}  # real signals, re-recorded and relabelled at build time
SLOW_BUILDS |= {"crash-fatalities"}  # real data, refitted at build time
SLOW_BUILDS |= {"telco-churn"}  # real data, the test set grown by neighbourhood resampling


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tier tests by what they do, so `make test-fast` (not kernel, browser or slow) stays a unit tier."""
    for item in items:
        if EPISODE_FIXTURES & set(getattr(item, "fixturenames", ())) and "kernel" not in item.keywords:
            item.add_marker(pytest.mark.kernel)
        params = getattr(getattr(item, "callspec", None), "params", {})
        if any(value in SLOW_BUILDS for value in params.values() if isinstance(value, str)):
            item.add_marker(pytest.mark.slow)
