"""Read-only access for analysts: ``sql/grants.sql`` rendered for the warehouse's dialect and schema.

``WarehouseSchema`` applies it after the tables, in the same transaction, on PostgreSQL and
Redshift (DuckDB is a file with no roles). The role is ``[warehouse] analyst_role``; ``none``
turns grants off (a warehouse whose access an administrator manages otherwise).
"""

from __future__ import annotations

import hashlib
import os
import re

from pipeline import config
from pipeline.errors import TerminalError
from pipeline.warehouse.schema import DUCKDB, REDSHIFT, SQL_DIR, render_markers

GRANTS_FILE = os.path.join(SQL_DIR, "grants.sql")
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def source() -> str:
    with open(GRANTS_FILE, encoding="utf-8") as fh:
        return fh.read()


NO_ROLE = "none"


def analyst_role() -> str:
    """The configured role, or "" when grants are off (``none``)."""
    role = config.warehouse().analyst_role.strip()
    if role.lower() == NO_ROLE:
        return ""
    if not _IDENTIFIER.match(role):
        raise TerminalError(f"[warehouse] analyst_role = `{role}` (environment MUSIC_ETL_WAREHOUSE_ANALYST_ROLE) is not a plain "
                            f"lower-case SQL name: use letters, digits and _ (e.g. music_etl_analyst), or `none` "
                            f"for no grants")
    return role


def digest() -> str:
    """What the grants depend on, for WarehouseSchema's marker: a new role or a new grant reapplies them."""
    return hashlib.sha1(f"{analyst_role()}\n{source()}".encode()).hexdigest()[:12]


def statements(dialect: str, role: str, schema_name: str) -> list[str]:
    """The grant statements for one dialect: one per line of grants.sql, comments dropped."""
    if dialect == DUCKDB or not role:
        return []
    grantee = f"ROLE {role}" if dialect == REDSHIFT else role
    text = source().replace("{{role}}", role).replace("{{schema}}", schema_name).replace("{{grantee}}", grantee)
    lines = render_markers(text, dialect).splitlines()
    return [line.strip().removesuffix(";") for line in lines if line.strip() and not line.lstrip().startswith("--")]


def apply(backend) -> list[str]:
    """Grant the analyst role read access to the backend's schema (inside the caller's transaction)."""
    role = analyst_role()
    if backend.dialect == DUCKDB or not role:
        return []
    schema_name = backend.scalar("SELECT current_schema()")
    sent = []
    for statement in statements(backend.dialect, role, schema_name):
        # Redshift has no CREATE ROLE IF NOT EXISTS: asked first.
        if statement.startswith("CREATE ROLE") and backend.query(f"SELECT 1 FROM svv_roles WHERE role_name = '{role}'"):
            continue
        backend.execute(statement)
        sent.append(statement)
    return sent
