"""The shipped luigi.cfg: defaults with nothing exported, environment overrides, overlays, retcodes."""

from __future__ import annotations

import os
import subprocess
import sys

import luigi
import pytest

from pipeline import config
from tests.conftest import PROJECT_ROOT, use_config_files

SHIPPED = os.path.join(PROJECT_ROOT, "luigi.cfg")


@pytest.fixture
def shipped_config(monkeypatch):
    def use(*overlays):
        use_config_files(SHIPPED, *overlays)
    return use


def _unset_music_etl_variables(monkeypatch):
    for name in [n for n in os.environ if n.startswith("MUSIC_ETL_")]:
        monkeypatch.delenv(name)


def test_defaults_apply_when_nothing_is_exported(shipped_config, monkeypatch, tmp_path):
    _unset_music_etl_variables(monkeypatch)
    monkeypatch.chdir(tmp_path)  # no downloaded subset here
    shipped_config()
    assert config.msd().root == "data/msd"
    assert config.staging().root == "data/staging"
    assert config.warehouse().url == "duckdb:///data/warehouse.duckdb"
    from pipeline.sources import registry

    assert registry.get("spotify").settings().api_url == "https://api.spotify.com/v1/"
    assert config.extract().fail_on_quarantine is False
    assert config.s3_options() == {"endpoint_url": None, "region_name": "us-east-1"}  # boto3's own AWS endpoint


def test_importing_the_package_leaves_the_environment_alone():
    before = {n for n in os.environ if n.startswith("MUSIC_ETL_")}
    code = ("import os, pipeline, pipeline.__main__; "
            "print(sorted(n for n in os.environ if n.startswith('MUSIC_ETL_')))")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MUSIC_ETL_")}
    out = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]", out
    assert {n for n in os.environ if n.startswith("MUSIC_ETL_")} == before


def test_a_config_file_value_wins_over_the_environment(shipped_config, monkeypatch, tmp_path):
    monkeypatch.setenv("MUSIC_ETL_STAGING_ROOT", "/from/the/environment")
    monkeypatch.setenv("MUSIC_ETL_S3_ENDPOINT_URL", "http://127.0.0.1:9000")
    overlay = tmp_path / "site.cfg"
    overlay.write_text("[staging]\nroot = /from/the/file\n[s3]\nendpoint_url = http://127.0.0.1:9999\n")
    shipped_config(overlay)
    assert config.staging().root == "/from/the/file"
    assert "endpoint_url" not in config.s3_options()  # luigi's S3Client reads it from [s3] itself


def test_environment_moves_every_path(shipped_config, monkeypatch):
    monkeypatch.setenv("MUSIC_ETL_MSD_ROOT", "/mnt/snap/data")
    monkeypatch.setenv("MUSIC_ETL_STAGING_ROOT", "s3://bucket/prefix")
    monkeypatch.setenv("MUSIC_ETL_S3_ENDPOINT_URL", "http://127.0.0.1:9000")
    shipped_config()
    assert config.msd().root == "/mnt/snap/data"
    assert config.staging().root == "s3://bucket/prefix"
    assert config.s3_options()["endpoint_url"] == "http://127.0.0.1:9000"


def test_luigi_config_path_overlay_wins(shipped_config, tmp_path):
    overlay = tmp_path / "prod.cfg"
    overlay.write_text("[staging]\nroot = s3://prod-bucket/staging\n[extract]\nfail_on_quarantine = true\n")
    shipped_config(overlay)
    assert config.staging().root == "s3://prod-bucket/staging"
    assert config.extract().fail_on_quarantine is True


def test_failures_give_non_zero_exit_codes(shipped_config):
    shipped_config()
    cfg = luigi.configuration.get_config()
    for key in ("task_failed", "scheduling_error", "missing_data", "not_run", "unhandled_exception"):
        assert cfg.getint("retcode", key) > 0, key
    # A task run by another command on the same luigid is normal (tests/test_orchestration.py), and
    # without the pid lock nothing else gives this code.
    assert cfg.getint("retcode", "already_running") == 0 and cfg.getboolean("core", "no_lock")


def _every_setting():
    """(section name, key, parameter) for every EnvironmentParameter of the core and the sources' sections."""
    from pipeline.sources import registry

    sections = list(config.CORE_SECTIONS) + [type(s.settings()) for s in registry.registered() if s.settings()]
    for section in sections:
        for key, param in section.get_params():
            if isinstance(param, config.EnvironmentParameter):
                yield section.__name__, key, param


def test_the_configuration_reference_is_generated_from_the_code():
    from pipeline import config_reference

    with open(config_reference.REFERENCE, encoding="utf-8") as fh:
        written = fh.read()
    assert written == config_reference.render(), \
        "docs/CONFIGURATION.md differs from the settings: run `make config-reference` and commit the page"
    for section, key, param in _every_setting():
        assert f"`{param.env}`" in written and f"| `{key}` |" in written, (section, key)


def test_environment_names_follow_their_keys():
    names = [(section, key, param.env) for section, key, param in _every_setting()]
    assert len(names) > 10
    for section, key, env in names:
        assert env == f"MUSIC_ETL_{section.upper()}_{key.upper()}", (section, key, env)
    for key, env, *_ in config.S3_SETTINGS:
        assert env == f"MUSIC_ETL_S3_{key.upper()}"


def test_old_environment_names_are_still_read(shipped_config, monkeypatch):
    _unset_music_etl_variables(monkeypatch)
    monkeypatch.setenv("MUSIC_ETL_S3_REGION", "eu-west-1")
    monkeypatch.setenv("MUSIC_ETL_ANALYST_ROLE", "old_role")
    monkeypatch.setenv("MUSIC_ETL_SOURCES", "spotify")
    shipped_config()
    assert config.s3_options()["region_name"] == "eu-west-1"
    assert config.warehouse().analyst_role == "old_role"
    assert config.sources().enabled == "spotify"
    monkeypatch.setenv("MUSIC_ETL_S3_REGION_NAME", "eu-central-1")  # the new name wins when both are set
    assert config.s3_options()["region_name"] == "eu-central-1"
