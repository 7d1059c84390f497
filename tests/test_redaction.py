"""Every way a URL carries a password is masked where the pipeline shows it (pipeline/redaction.py)."""

from __future__ import annotations

import luigi
import pytest

from pipeline.redaction import redact_text, redact_url
from pipeline.warehouse.backends import PostgresBackend, WarehouseConfigError, backend_for, redact

SECRET = "MARKERPW9"

MASKED = [
    # userinfo
    (f"postgresql://etl:{SECRET}@db.example:5432/music", "postgresql://etl:***@db.example:5432/music"),
    (f"redshift://etl:{SECRET}@cluster:5439/dev", "redshift://etl:***@cluster:5439/dev"),
    # a password holding characters a URL should have escaped: still all of it
    (f"postgresql://etl:a/{SECRET}@db/music", "postgresql://etl:***@db/music"),
    (f"postgresql://etl:a@{SECRET}@db/music", "postgresql://etl:***@db/music"),
    # query parameters libpq reads, and any that say secret
    (f"postgresql://etl@db/music?password={SECRET}", "postgresql://etl@db/music?password=***"),
    (f"postgresql://etl@db/music?sslmode=require&sslpassword={SECRET}",
     "postgresql://etl@db/music?sslmode=require&sslpassword=***"),
    (f"postgresql://etl@db/music?pass={SECRET}&pwd={SECRET}", "postgresql://etl@db/music?pass=***&pwd=***"),
    (f"redshift://etl@cluster/dev?aws_secret_access_key={SECRET}&token={SECRET}&region=eu-west-1",
     "redshift://etl@cluster/dev?aws_secret_access_key=***&token=***&region=eu-west-1"),
    (f"postgresql://etl@db/music?PassWord={SECRET}", "postgresql://etl@db/music?PassWord=***"),
    (f"postgresql://etl:{SECRET}@db/music?options=-csearch_path%3Dt_1&password={SECRET}",
     "postgresql://etl:***@db/music?options=-csearch_path%3Dt_1&password=***"),
    # libpq's key=value form
    (f"host=db port=5432 user=etl password={SECRET} dbname=music", "host=db port=5432 user=etl password=*** dbname=music"),
    (f"host=db password='{SECRET} x\\' y' dbname=music", "host=db password=*** dbname=music"),
]

UNCHANGED = ["duckdb:///data/warehouse.duckdb", "duckdb:////srv/etl/warehouse.duckdb",
             "postgresql://etl@db:5432/music?options=-csearch_path%3Dt_1&sslmode=require", "redshift://etl@cluster:5439/dev",
             "https://api.deezer.com/", "s3://bucket/staging", "postgresql://etl@db/music?application_name=etl"]


@pytest.mark.parametrize(("url", "shown"), MASKED)
def test_every_form_of_password_in_a_url_is_masked(url, shown):
    assert redact_url(url) == shown
    assert redact(url) == shown  # what every caller of the warehouse's redact gets


@pytest.mark.parametrize("url", UNCHANGED)
def test_a_url_without_a_secret_is_shown_as_written(url):
    assert redact_url(url) == url


def test_an_error_message_quoting_the_url_or_its_password_is_masked():
    url = f"postgresql://etl:{SECRET}@db/music?password={SECRET}2"
    message = (f'could not connect to {url}: FATAL: password "{SECRET}2" rejected for user etl; '
               f"dsn was host=db password={SECRET}3")
    masked = redact_text(message, url)
    assert "MARKERPW" not in masked
    assert "postgresql://etl:***@db/music?password=***" in masked and "password=***" in masked


def test_the_connection_error_names_the_warehouse_without_its_password():
    for url in (f"postgresql://postgres:{SECRET}@127.0.0.1:9/none?password={SECRET}",
                # a query parameter libpq does not know: psycopg2 raises ProgrammingError, not OperationalError
                f"postgresql://postgres:{SECRET}@127.0.0.1:9/none?password={SECRET}&no_such_option=1"):
        with pytest.raises(WarehouseConfigError) as failed:
            PostgresBackend(url).query("SELECT 1")
        assert SECRET not in str(failed.value) and "cannot connect to the warehouse at postgresql://postgres:***@" in str(
            failed.value)


def test_a_connection_string_the_pipeline_does_not_take_is_refused_masked():
    with pytest.raises(WarehouseConfigError) as refused:
        backend_for(f"host=db user=etl password={SECRET} dbname=music")
    assert SECRET not in str(refused.value) and "password=***" in str(refused.value)
    with pytest.raises(WarehouseConfigError) as refused:
        backend_for(f"mysql://etl:{SECRET}@db/music?token={SECRET}")
    assert SECRET not in str(refused.value)


def test_status_shows_the_warehouse_without_its_password(local_pipeline, luigi_config, capsys):
    luigi_config.set("warehouse", url=f"postgresql://postgres@127.0.0.1:9/none?password={SECRET}")
    from pipeline.cli import status

    assert status.main() == 1  # nothing answers on port 9: the loaded column is unknown
    out = capsys.readouterr()
    assert SECRET not in out.out + out.err
    assert "warehouse postgresql://postgres@127.0.0.1:9/none?password=***" in out.out


def test_no_luigi_task_takes_a_url_as_a_parameter():
    """A task's parameters go to luigid (its state file, its web page): none may be a URL, which could carry
    a password. The settings are luigi.Config sections, read where they are used, never sent."""
    import pipeline.tasks  # noqa: F401 - every task registered
    from pipeline.sources import registry

    for source in registry.registered():
        source.stages()
    tasks = [cls for cls in luigi.task_register.Register._get_reg().values()
             if isinstance(cls, type) and cls.__module__.startswith("pipeline.") and not issubclass(cls, luigi.Config)]
    assert tasks
    for cls in tasks:
        names = [name for name, _ in cls.get_params()]
        assert not [n for n in names if any(w in n.lower() for w in ("url", "dsn", "password", "secret", "token"))], (
            cls, names)
