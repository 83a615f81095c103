"""Fixtures shared by every test package."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from floorwatch.broker import EmbeddedBroker


@pytest.fixture(scope="session")
def broker() -> Iterator[EmbeddedBroker]:
    """A running embedded broker (Tansu) on a free loopback port, one per test session.

    It is shared: give each test its own topic names (storage is in memory and never
    cleaned up while the session lasts).
    """
    with EmbeddedBroker() as running:
        yield running
