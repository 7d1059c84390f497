"""``python -m pipeline report``: one self-contained HTML page a researcher can read offline or put
in an appendix.

    python -m pipeline report [--out data/report.html]

The facts come from the configured warehouse through its own SQL and from the staging root
(pipeline/report/facts.py), the figures from matplotlib as inline SVG
(pipeline/report/figures.py), the page from a Jinja2 template (templates/report.html.j2), with
no script and nothing fetched when it is opened. A section without data says why instead.
The page is written under a temporary name and renamed, so a reader never opens half a report.

A warehouse with nothing to report (a DuckDB file that does not exist, a database without the pipeline's
tables, no songs loaded) is one line naming ``[warehouse] url`` and the fix, and no page; the DuckDB file
is opened read-only, so the report never creates or changes it.
"""

from __future__ import annotations

import os
import secrets
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import jinja2
from tqdm import tqdm

from pipeline import config, staging
from pipeline.errors import TerminalError
from pipeline.report import facts as report_facts
from pipeline.report import figures
from pipeline.sources import registry
from pipeline.sources.base import ReportSection
from pipeline.warehouse.backends import Backend, DuckDBBackend, redact, warehouse_backend
from pipeline.warehouse.target import tables_present_sql

DEFAULT_OUT = os.path.join("data", "report.html")
TEMPLATES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "templates")


@dataclass
class Figure:
    id: str
    title: str
    caption: str
    svg: str


def _figures(sections: dict[str, ReportSection]) -> dict[str, list[Figure]]:
    """The figures of each section that has data, drawn in the order the page shows them."""
    return {name: [Figure(f.id, f.title, f.caption, figures.draw(f.kind, f.args)) for f in section.figures]
            if section.available else [] for name, section in sections.items()}


class NothingToReportError(TerminalError):
    def __init__(self, url: str, what: str):
        super().__init__(f"{what}: no report written. Check [warehouse] url (now {redact(url)}, environment "
                         f"MUSIC_ETL_WAREHOUSE_URL), or run the pipeline first (`python -m pipeline run`, or `make demo`)")


class _ReadOnlyDuckDB(DuckDBBackend):
    """The DuckDB warehouse opened to read only: never created, never changed by the report."""

    @property
    def con(self):
        if self._con is None:
            import duckdb

            try:
                self._con = duckdb.connect(self.path, read_only=True)
            except duckdb.Error as exc:
                reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                raise TerminalError(f"the warehouse file {self.path} ([warehouse] url) cannot be opened to read: {reason}. "
                                    f"If another command is writing to it, rerun when that command ends") from None
        return self._con


def report_backend() -> Backend:
    """The configured warehouse, opened to read, or a ``NothingToReportError`` when it holds nothing to report:
    no DuckDB file there, none of the pipeline's tables, no songs."""
    backend = warehouse_backend()
    url = backend.url
    if isinstance(backend, DuckDBBackend):
        if not os.path.isfile(backend.path):
            raise NothingToReportError(url, f"no warehouse at {backend.path}")
        backend = _ReadOnlyDuckDB(url)
    try:
        if not backend.query(tables_present_sql(backend.dialect, ["songs"])):
            raise NothingToReportError(url, f"the warehouse at {redact(url)} holds none of the pipeline's tables")
        if not backend.scalar("SELECT count(*) FROM songs"):
            raise NothingToReportError(url, f"the warehouse at {redact(url)} holds no songs yet")
    except BaseException:
        backend.close()
        raise
    return backend


def _environment() -> jinja2.Environment:
    # The page's own template, and each source's by its name (``deezer/report.html.j2``).
    loader = jinja2.ChoiceLoader([jinja2.FileSystemLoader(TEMPLATES), jinja2.PrefixLoader(
        {s.name: jinja2.FileSystemLoader(s.folder) for s in registry.registered()})])
    env = jinja2.Environment(loader=loader, autoescape=jinja2.select_autoescape(["j2"]),
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["pct"] = lambda part, whole: f"{part / whole:.1%}" if whole else "–"
    env.filters["num"] = _number
    return env


def _number(value) -> str:
    """A count or amount as the page shows it, already rounded as the facts say: 12,345; 1,234.5; 0.123 (never
    12345.0); "–" for none; anything else as it is."""
    if value is None:
        return "–"
    if isinstance(value, Decimal):  # PostgreSQL's sums
        value = int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,}"


def render(backend: Backend) -> str:
    # A bar on a terminal (section by section, then the figures); nothing when output is not one.
    steps = tqdm(desc="report", unit=" sections", disable=not sys.stderr.isatty(), leave=False)
    try:
        sections = report_facts.gather(backend, progress=lambda name: steps.update(1))
        page_figures = _figures(sections)
        steps.update(1)
    finally:
        steps.close()
    return _environment().get_template("report.html.j2").render(
        sections=sections, s=sections, figures=page_figures, warehouse=redact(backend.url), dialect=backend.dialect,
        staging_root=staging.root(), msd_root=config.msd().root, terms=[s.terms for s in registry.enabled() if s.terms],
        generated_at=datetime.now(UTC).isoformat(timespec="seconds"))


def write_report(out: str, backend: Backend | None = None) -> str:
    """Render the report for the configured warehouse into ``out`` (``report_backend``: nothing written when it
    holds nothing to report), or for ``backend`` whatever it holds; returns its path."""
    own = backend is None
    backend = backend or report_backend()
    try:
        page = render(backend)
    finally:
        if own:
            backend.close()
    folder = os.path.dirname(os.path.abspath(out))
    os.makedirs(folder, exist_ok=True)
    # A name of this process's own, opened as any file is (mkstemp's would be readable by its owner alone).
    tmp = os.path.join(folder, f".report-{os.getpid()}-{secrets.token_hex(4)}.html")
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(page)
        os.replace(tmp, out)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return os.path.abspath(out)
