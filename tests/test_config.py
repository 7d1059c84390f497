"""The shipped luigi.cfg: defaults with nothing exported, environment overrides, overlays, retcodes."""

from __future__ import annotations

import os

import luigi
import pytest
from luigi.configuration.cfg_parser import LuigiConfigParser

from pipeline import config
from tests.conftest import PROJECT_ROOT

SHIPPED = os.path.join(PROJECT_ROOT, "luigi.cfg")


@pytest.fixture
def shipped_config(monkeypatch):
    def use(*overlays):
        monkeypatch.setattr(LuigiConfigParser, "_config_paths", [SHIPPED, *map(str, overlays)])
        monkeypatch.setattr(LuigiConfigParser, "_instance", None)
        luigi.task_register.Register.clear_instance_cache()
    return use


def test_defaults_apply_when_nothing_is_exported(shipped_config, monkeypatch):
    for name in config.ENVIRONMENT_DEFAULTS:
        monkeypatch.delenv(name, raising=False)
    config.apply_environment_defaults()
    shipped_config()
    assert config.msd().root == "data/msd"
    assert config.staging().root == "data/staging"
    assert config.extract().fail_on_quarantine is False


def test_environment_moves_every_path(shipped_config, monkeypatch):
    monkeypatch.setenv("MUSIC_ETL_MSD_ROOT", "/mnt/snap/data")
    monkeypatch.setenv("MUSIC_ETL_STAGING_ROOT", "s3://bucket/prefix")
    monkeypatch.setenv("MUSIC_ETL_S3_ENDPOINT_URL", "http://127.0.0.1:9000")
    shipped_config()
    assert config.msd().root == "/mnt/snap/data"
    assert config.staging().root == "s3://bucket/prefix"
    assert luigi.configuration.get_config().get("s3", "endpoint_url") == "http://127.0.0.1:9000"


def test_luigi_config_path_overlay_wins(shipped_config, tmp_path):
    overlay = tmp_path / "prod.cfg"
    overlay.write_text("[staging]\nroot = s3://prod-bucket/staging\n[extract]\nfail_on_quarantine = true\n")
    shipped_config(overlay)
    assert config.staging().root == "s3://prod-bucket/staging"
    assert config.extract().fail_on_quarantine is True


def test_failures_give_non_zero_exit_codes(shipped_config):
    shipped_config()
    cfg = luigi.configuration.get_config()
    for key in ("task_failed", "scheduling_error", "missing_data", "not_run", "unhandled_exception", "already_running"):
        assert cfg.getint("retcode", key) > 0, key
