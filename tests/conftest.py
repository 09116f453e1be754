"""Shared pytest configuration: hypothesis profiles and the gpu marker.

Profiles (choose with ``--hypothesis-profile NAME``):
  * ``ci`` (the default): derandomized, no deadline, modest example counts. Recent hypothesis
    versions define a ``ci`` profile of their own and load it when the ``CI`` environment variable
    is set; ours is registered with that one as its parent, so either way the settings below apply.
  * ``thorough``: many more examples, randomized, for a local hunt.
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import HealthCheck, settings

_builtin_ci = settings.get_profile("ci") if "ci" in settings._profiles else settings()
settings.register_profile(
    "ci",
    parent=_builtin_ci,
    derandomize=True,
    deadline=None,
    max_examples=40,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "thorough",
    parent=settings.get_profile("ci"),
    derandomize=False,
    max_examples=1000,
)
# Loaded here so it is the default; the hypothesis plugin applies --hypothesis-profile afterwards.
settings.load_profile("ci")


@pytest.fixture(autouse=True, scope="session")
def _single_thread():
    """The suite runs small tensors; see normtheory._threads for why one thread."""
    from normtheory._threads import single_thread

    with single_thread():
        yield


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
