"""The in-memory stand-ins every function test starts from, fresh for each test (fakes.py)."""

import pytest
from fakes import MemoryAlerts, MemoryClaims, MemoryDecisions, MemoryModels, MemorySink


@pytest.fixture
def sink():
    return MemorySink()


@pytest.fixture
def models():
    return MemoryModels()


@pytest.fixture
def claims():
    return MemoryClaims()


@pytest.fixture
def decisions():
    return MemoryDecisions()


@pytest.fixture
def alerts():
    return MemoryAlerts()
