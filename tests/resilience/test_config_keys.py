"""The per-source resilience keys and the [server] metrics switch in the TOML config."""

from __future__ import annotations

from typing import Any

import pytest

from jobgate.config import ConfigError, SourceSettings, parse_settings
from jobgate.domain.data_cloud import DATA_CLOUD


def source(**keys: Any) -> SourceSettings:
    table = {"provider": "data-cloud", "base_url": "https://dc.example.com", "token": "t", **keys}
    return parse_settings({"sources": {"ingest": table}}, "jobgate.toml", {}).sources["ingest"]


def test_defaults() -> None:
    settings = source()
    assert (settings.timeout, settings.connect_timeout) == (10.0, 3.0)
    assert settings.retries == 2
    assert settings.breaker_failures == 5
    assert settings.breaker_cooldown == 30.0
    assert SourceSettings("s", DATA_CLOUD, "https://x").retries == 2


def test_values() -> None:
    settings = source(retries=0, breaker_failures=10, breaker_cooldown=2.5)
    assert (settings.retries, settings.breaker_failures, settings.breaker_cooldown) == (0, 10, 2.5)
    assert source(retries=5).retries == 5


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("retries", 6, "must be a whole number from 0 to 5"),
        ("retries", -1, "must be a whole number from 0 to 5"),
        ("retries", 1.5, "must be a whole number from 0 to 5"),
        ("retries", True, "must be a whole number from 0 to 5"),
        ("breaker_failures", 0, "must be a positive number"),
        ("breaker_failures", 2.5, "must be a whole number"),
        ("breaker_cooldown", 0, "must be a positive number"),
        ("breaker_cooldown", "30s", "must be a positive number"),
    ],
)
def test_mistakes_name_the_source_and_the_key(key: str, value: Any, message: str) -> None:
    with pytest.raises(ConfigError) as wrong:
        source(**{key: value})
    assert str(wrong.value) == f"jobgate.toml: [sources.ingest] {key}: {message}"


def test_metrics_can_be_switched_off_in_server() -> None:
    data = {
        "server": {"metrics": False},
        "sources": {"s": {"provider": "data-cloud", "base_url": "https://x.test", "token": "t"}},
    }
    assert parse_settings(data, "f.toml", {}).server.metrics is False
    data["server"] = {}
    assert parse_settings(data, "f.toml", {}).server.metrics is True
