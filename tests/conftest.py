"""Fixtures shared by every test layer; each area keeps its own in tests/fixtures/<area>.py."""

pytest_plugins = [
    "tests.fixtures.training",
    "tests.fixtures.serving",
    "tests.fixtures.monitoring",
    "tests.fixtures.delivery",
    "tests.fixtures.grpc",
]
