"""Config files: every mistake is one line naming file, source and key; no traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from jobgate.config import ConfigError, load_settings
from jobgate.domain.bigchange import BIGCHANGE
from jobgate.domain.content_hub import CONTENT_HUB
from jobgate.domain.data_cloud import DATA_CLOUD
from jobgate.domain.workflow_manager import WORKFLOW_MANAGER

GOOD = """
[server]
graphiql = false

[sources.hub]
provider = "content-hub"
base_url = "https://tenant.example.com/"
token = "${HUB_TOKEN}"

[sources.field]
provider = "bigchange"
base_url = "https://api.bigchange.com"
client_id = "${BC_CLIENT_ID}"
client_secret = "${BC_CLIENT_SECRET}"
customer_id = "14532"

[sources.ingest]
provider = "data-cloud"
base_url = "https://tenant.c360a.salesforce.com"
token = "${DC_TOKEN}"
timeout = 2.5

[sources.gis]
provider = "workflow-manager"
base_url = "https://workflow.arcgis.com/ORG/ITEM"
token = "${ARCGIS_TOKEN}"
"""
ENV = {
    "HUB_TOKEN": "hub-secret",
    "BC_CLIENT_ID": "client",
    "BC_CLIENT_SECRET": "bc-secret",
    "DC_TOKEN": "dc-secret",
    "ARCGIS_TOKEN": "gis-secret",
}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "jobgate.toml"
    path.write_text(text)
    return path


def test_contract_example_loads(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, GOOD), ENV)
    assert settings.server.graphiql is False
    assert [s.provider for s in settings.sources.values()] == [
        CONTENT_HUB,
        BIGCHANGE,
        DATA_CLOUD,
        WORKFLOW_MANAGER,
    ]
    hub = settings.sources["hub"]
    assert hub.token == "hub-secret"
    assert hub.base_url == "https://tenant.example.com"
    assert settings.sources["ingest"].timeout == 2.5
    assert settings.sources["ingest"].read_client == "lean"
    assert "hub-secret" not in repr(settings), "secrets must not show in reprs or logs"
    assert "bc-secret" not in repr(settings)


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (('token = "${HUB_TOKEN}"', 'tokn = "x"'), "[sources.hub] tokn: unknown key"),
        (
            ('provider = "content-hub"', 'provider = "sharepoint"'),
            "[sources.hub] provider: unknown provider 'sharepoint'",
        ),
        (('base_url = "https://tenant.example.com/"\n', ""), "[sources.hub] base_url: is missing"),
        (
            ("${DC_TOKEN}", "${NOT_SET_ANYWHERE}"),
            "[sources.ingest] token: environment variable NOT_SET_ANYWHERE is not set",
        ),
        (("graphiql = false", 'graphiql = "no"'), "[server] graphiql: must be true or false"),
        (("graphiql = false", "colour = 1"), "[server] colour: unknown key"),
        (("timeout = 2.5", "timeout = -1"), "[sources.ingest] timeout: must be a positive number"),
        (
            ("https://tenant.c360a.salesforce.com", "ftp://x"),
            "[sources.ingest] base_url: must be an http(s) URL",
        ),
        (
            ('customer_id = "14532"', 'customer_id = "abc"'),
            "[sources.field] customer_id: must be a whole number",
        ),
        (
            ('client_secret = "${BC_CLIENT_SECRET}"\n', ""),
            "[sources.field] client_secret: is missing",
        ),
        (("[sources.gis]", '[sources."g:is"]'), "[sources.g:is]: source names use"),
        (
            ("timeout = 2.5", 'read_client = "curl"'),
            "[sources.ingest] read_client: must be 'lean' or 'aiohttp'",
        ),
    ],
)
def test_mistakes_name_file_source_and_key(
    tmp_path: Path, edit: tuple[str, str], expected: str
) -> None:
    old, new = edit
    assert old in GOOD
    path = write(tmp_path, GOOD.replace(old, new, 1))
    with pytest.raises(ConfigError) as caught:
        load_settings(path, ENV)
    message = str(caught.value)
    assert message.startswith(str(path))
    assert expected in message
    assert "\n" not in message


def test_bad_toml(tmp_path: Path) -> None:
    path = write(tmp_path, "[sources.hub\nprovider = ")
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_settings(path, ENV)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the file"):
        load_settings(tmp_path / "absent.toml", ENV)


def test_no_sources(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="at least one source"):
        load_settings(write(tmp_path, "[server]\ngraphiql = true\n"), ENV)


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "jobgate.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def test_check_config_command(tmp_path: Path) -> None:
    import os

    env = {**os.environ, **ENV}
    ok = run_cli("check-config", str(write(tmp_path, GOOD)), env=env)
    assert ok.returncode == 0, ok.stderr
    assert "4 source(s)" in ok.stdout
    assert "hub (content-hub, fixed token)" in ok.stdout
    assert "field (bigchange, renews its tokens)" in ok.stdout

    bad = run_cli(
        "check-config", str(write(tmp_path, GOOD.replace("${DC_TOKEN}", "${NOPE_X}"))), env=env
    )
    assert bad.returncode == 2
    assert bad.stderr.strip().endswith("environment variable NOPE_X is not set")
    assert "Traceback" not in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1


def test_serve_with_bad_config_exits_cleanly(tmp_path: Path) -> None:
    result = run_cli("serve", "--config", str(write(tmp_path, "not toml [")))
    assert result.returncode == 2
    assert "invalid TOML" in result.stderr
    assert "Traceback" not in result.stderr


RENEWING = """
[sources.hub]
provider = "content-hub"
base_url = "https://tenant.example.com"
client_id = "hub-client"
client_secret = "${HUB_SECRET}"
username = "integration@tenant"
password = "${HUB_PASSWORD}"

[sources.ingest]
provider = "data-cloud"
login_url = "https://login.salesforce.com"
client_id = "3MVG9consumer"
client_secret = "${SF_SECRET}"

[sources.gis]
provider = "workflow-manager"
base_url = "https://workflow.arcgis.com/ORG/ITEM"
client_id = "arcgisApp"
client_secret = "${ARCGIS_SECRET}"
running_statuses = ["Working", "Editing"]
"""
RENEWING_ENV = {"HUB_SECRET": "s" * 12, "HUB_PASSWORD": "p" * 12, "SF_SECRET": "f" * 12,
                "ARCGIS_SECRET": "a" * 12}  # fmt: skip


def test_token_obtaining_keys_load_for_every_provider(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, RENEWING), RENEWING_ENV)
    hub, ingest, gis = settings.sources.values()
    assert all(s.renews_tokens for s in (hub, ingest, gis))
    assert hub.username == "integration@tenant" and hub.password == "p" * 12
    assert ingest.base_url == "" and ingest.login_url == "https://login.salesforce.com"
    assert gis.options["running_statuses"] == ("Working", "Editing")
    assert set(hub.secrets()) == {"s" * 12, "p" * 12}
    for secret in RENEWING_ENV.values():
        assert secret not in repr(settings)


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            ('password = "${HUB_PASSWORD}"', 'password = "x"\ntoken = "t"'),
            "[sources.hub] token: a fixed token and token-obtaining keys "
            "(client_id, client_secret, password, username) are both given: use one",
        ),
        (
            ('password = "${HUB_PASSWORD}"\n', ""),
            "[sources.hub] password: is missing (with client_id, client_secret, username, "
            "also give password)",
        ),
        (
            ('client_secret = "${SF_SECRET}"', 'username = "u"'),
            "[sources.ingest] private_key_file: is missing",
        ),
        (
            ('login_url = "https://login.salesforce.com"\n', ""),
            "[sources.ingest] login_url: is missing",
        ),
        (
            ('running_statuses = ["Working", "Editing"]', "running_statuses = []"),
            "[sources.gis] running_statuses: must be a non-empty list",
        ),
        (
            ('running_statuses = ["Working", "Editing"]', 'running_statuses = ["Working", ""]'),
            "[sources.gis] running_statuses: must list non-empty strings",
        ),
        (
            ('provider = "content-hub"', 'provider = "content-hub"\nrunning_statuses = ["x"]'),
            "[sources.hub] running_statuses: unknown key for provider content-hub",
        ),
        (
            ('login_url = "https://login.salesforce.com"', 'login_url = "login.salesforce.com"'),
            "[sources.ingest] login_url: must be an http(s) URL",
        ),
    ],
)
def test_token_obtaining_mistakes(tmp_path: Path, edit: tuple[str, str], expected: str) -> None:
    old, new = edit
    assert old in RENEWING
    path = write(tmp_path, RENEWING.replace(old, new, 1))
    with pytest.raises(ConfigError) as caught:
        load_settings(path, RENEWING_ENV)
    assert expected in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_fixed_data_cloud_token_needs_a_base_url(tmp_path: Path) -> None:
    text = GOOD.replace('base_url = "https://tenant.c360a.salesforce.com"\n', "")
    with pytest.raises(ConfigError, match=r"\[sources.ingest\] base_url: is missing"):
        load_settings(write(tmp_path, text), ENV)


def test_the_jwt_bearer_flow_reads_its_private_key(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    (tmp_path / "sf.pem").write_bytes(pem)
    (tmp_path / "not.pem").write_text("hello")
    jwt = RENEWING.replace(
        'client_secret = "${SF_SECRET}"',
        f'private_key_file = "{tmp_path / "sf.pem"}"\nusername = "integration@tenant"',
    )
    ingest = load_settings(write(tmp_path, jwt), RENEWING_ENV).sources["ingest"]
    assert ingest.private_key == pem.decode() and ingest.private_key in ingest.secrets()
    assert "PRIVATE KEY" not in repr(ingest)
    for name, words in (("not.pem", "is not an unencrypted PEM private key"),
                        ("absent.pem", "cannot read")):  # fmt: skip
        broken = jwt.replace(str(tmp_path / "sf.pem"), str(tmp_path / name))
        with pytest.raises(ConfigError, match=rf"private_key_file: .*{words}"):
            load_settings(write(tmp_path, broken), RENEWING_ENV)


def test_check_config_and_serve_warn_in_the_same_words(tmp_path: Path) -> None:
    import os

    from jobgate.config import load_settings, startup_warnings

    env = {**os.environ, **ENV}
    text = GOOD.replace("[sources.hub]", "[sources.hub]\nlisting = false", 1)
    path = write(tmp_path, text)
    checked = run_cli("check-config", str(path), env=env)
    assert checked.returncode == 0, checked.stderr
    os.environ.update(ENV)
    try:
        expected = startup_warnings(load_settings(str(path)), str(path))
    finally:
        for key in ENV:
            os.environ.pop(key, None)
    assert len(expected) == 2  # no [auth]; hub's listing is off
    assert checked.stderr.splitlines() == [f"jobgate: WARNING: {w}" for w in expected]


def test_version() -> None:
    from jobgate import __version__

    shown = run_cli("--version")
    assert shown.returncode == 0 and shown.stdout.strip() == f"jobgate {__version__}"


def test_a_source_may_keep_its_reads_on_aiohttp(tmp_path: Path) -> None:
    text = GOOD.replace("timeout = 2.5", 'read_client = "aiohttp"')
    settings = load_settings(write(tmp_path, text), ENV)
    assert settings.sources["ingest"].read_client == "aiohttp"
    assert settings.sources["hub"].read_client == "lean"
