"""A fifth vendor from tests/ alone: registered with one line, it passes the contract suite,
is configured by its own keys, and is served through GraphQL like the four built in."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from jobgate.config import ConfigError, parse_settings
from jobgate.graphql.schema import build_schema
from jobgate.vendors import VENDORS
from tests.contract.cases import ProviderCase
from tests.contract.test_credentials import (
    test_a_change_never_waits_on_a_token_it_does_not_need,
    test_several_expiry_periods_under_load_fail_no_call,
)
from tests.contract.test_listing import (
    test_a_failing_list_call_is_a_source_error_with_the_contract_code,
    test_a_status_filter_lists_exactly_the_jobs_with_that_status,
    test_cursors_are_refused_when_tampered_foreign_or_garbage,
    test_listed_jobs_equal_the_jobs_read_by_id,
    test_pages_tile_the_whole_set,
    test_pages_tile_while_jobs_change_between_them,
)
from tests.contract.test_provider_contract import (
    test_allowed_actions_agree_with_what_the_upstream_accepts,
    test_read_faults_map_to_codes,
    test_read_many_with_missing_ids,
    test_reads_every_scenario,
    test_unsupported_actions_make_no_call,
    test_write_is_never_repeated_when_its_answer_is_lost,
)
from tests.toy import VENDOR, simulator
from tests.toy.rules import RULES, TOY

ROOT = Path(__file__).parents[2]

TOY_CASE = ProviderCase(
    provider=TOY,
    rules=RULES,
    simulator=simulator,
    read_path=r".*/jobs/[^/]+",
    write_methods=("POST",),
    write_path=r".*/jobs/[^/]+/stop",
    missing_id="999",
    list_path=r".*/jobs",
    token_path=r".*/token",
    expire_tokens=lambda store: store.tokens.expire_all(),
    token_lifetime=lambda store, seconds: setattr(store.tokens, "lifetime", seconds),
)


@pytest.fixture
def registered() -> Iterator[None]:
    VENDORS.register(VENDOR)
    try:
        yield
    finally:
        VENDORS.unregister(TOY)


# The contract suite's own tests, run over Toy Jobs (collected here with this module's marks).
pytestmark = [
    pytest.mark.parametrize("case", [TOY_CASE], ids=str),
    pytest.mark.usefixtures("registered"),
]
CONTRACT = (
    test_reads_every_scenario,
    test_read_many_with_missing_ids,
    test_allowed_actions_agree_with_what_the_upstream_accepts,
    test_unsupported_actions_make_no_call,
    test_read_faults_map_to_codes,
    test_write_is_never_repeated_when_its_answer_is_lost,
    test_several_expiry_periods_under_load_fail_no_call,
    test_a_change_never_waits_on_a_token_it_does_not_need,
    test_pages_tile_the_whole_set,
    test_pages_tile_while_jobs_change_between_them,
    test_a_status_filter_lists_exactly_the_jobs_with_that_status,
    test_a_failing_list_call_is_a_source_error_with_the_contract_code,
    test_cursors_are_refused_when_tampered_foreign_or_garbage,
    test_listed_jobs_equal_the_jobs_read_by_id,
)


def test_its_config_keys_come_from_its_provider(case: ProviderCase) -> None:
    table = {"provider": "toy", "base_url": "https://toys.example", "token": "t"}
    settings = parse_settings({"sources": {"toys": table}}, "jobgate.toml", {})
    assert settings.sources["toys"].provider is TOY
    with pytest.raises(ConfigError, match=r"\[sources.toys\] customer_id: unknown key"):
        parse_settings({"sources": {"toys": {**table, "customer_id": "1"}}}, "jobgate.toml", {})
    VENDORS.unregister(TOY)
    with pytest.raises(ConfigError, match="unknown provider 'toy'"):
        parse_settings({"sources": {"toys": table}}, "jobgate.toml", {})


def test_a_vendor_registered_after_the_schema_was_made_is_refused(case: ProviderCase) -> None:
    with pytest.raises(RuntimeError, match=r"toy was registered after jobgate\.graphql"):
        build_schema()


def test_it_is_served_through_graphql(case: ProviderCase) -> None:
    """In a fresh interpreter, where Toy Jobs is registered before the schema is made."""
    run = subprocess.run(
        [sys.executable, "-m", "tests.toy.run_graphql"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    answer = json.loads(run.stdout)
    read = answer["read"]["data"]
    assert {"name": "toys", "provider": "TOY", "supportedActions": ["CANCEL"]} in read["sources"]
    toy, done, other = read["jobs"]
    assert toy == {
        "id": "toys:1",
        "provider": "TOY",
        "status": "QUEUED",
        "providerStatus": "queued",
        "allowedActions": ["CANCEL"],
        "details": {"__typename": "ToyJobDetails", "title": "A queued job"},
    }
    assert done["providerStatus"] == "done" and done["allowedActions"] == []
    assert other["provider"] == "DATA_CLOUD"  # the built-in vendors are served alongside
    changed = answer["changed"]["data"]
    assert changed["a"] == {
        "job": {"status": "CANCELLED", "providerStatus": "stopped"},
        "error": None,
    }
    assert changed["b"]["job"] is None and changed["b"]["error"]["code"] == "INVALID_STATE"
    assert answer["stored"] == "stopped"
