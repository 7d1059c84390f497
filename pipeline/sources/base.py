"""What a source is to the rest of the pipeline, and the stored-lookup gateway every source builds on.

A source is one folder, ``pipeline/sources/<name>/``, and one line in pipeline/sources/registry.py.
Its ``source.py`` defines a ``Source`` subclass (``SOURCE``) that says what the source owns:

* its stage tasks (``stages()``: Luigi tasks per partition, in order; the last one stages what the
  partition's load reads, into ``<staging root>/<name>/A/B/v-…/``);
* its warehouse tables (``tables``, their DDL in the folder's ``schema.sql``), its columns of the
  ``enriched_songs`` view (``view.sql``) and their documentation (``DICTIONARY.md``);
* its settings section, capabilities, answer-store namespace and ledger (``answers/<name>/``);
* optional parts: the rerun preflight, the daily refresh, run-summary lines, report sections,
  example queries, the demo's sandbox.

Every layer outside ``pipeline/sources/`` loops over the registry and names no source; the defaults
here are what a source that leaves a part out gets. docs/ADDING_A_SOURCE.md walks through one.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import inspect
import os
import re
import socket
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from pipeline.errors import TerminalError, TransientError
from pipeline.sources import answers
from pipeline.sources.ask_again import NAMED_NO_DATA_ASKS
from pipeline.warehouse.table import Table


class Source:
    """A source's declaration; override what the source has."""

    name: str  # its folder, the stage folder its load reads, its tables' prefix, its answer-store namespace
    title: str  # as people write it
    requires: tuple[str, ...] = ()  # sources whose staging its stages read (they must be enabled too)
    on_by_default = True  # enabled when [sources] enabled is blank
    capabilities: tuple[str, ...] = ()  # what the service may or may not serve, discovered and stored
    tables: tuple[Table, ...] = ()  # loaded by every partition load, in this order
    # A source that matches songs has <name>_matches (track_id, msd_partition, status, score, method,
    # <name>_track_id) and <name>_tracks keyed by <name>_track_id: the load checks every match points at a
    # loaded track, the report draws coverage and scores, and the crosswalk reads the ids.
    matches = False
    keeps_match_history = False  # <name>_match_history, kept by partition and snapshot loads
    refreshes = False  # takes part in the daily refresh (refresh_* below); needs matches and primary_artist_id
    colour = "#777777"  # its colour in the report's figures
    terms = ""  # the terms its data comes under, said wherever it is shown or exported
    # Which of its facts a researcher may republish: the data licence (an SPDX id such as CC0-1.0, or blank when
    # only the service's terms apply), where it is written, and whether `export --open-only` keeps its columns.
    data_licence = ""
    licence_url = ""
    republishable = False
    # The ids it gives the crosswalk (the ``song_ids`` view, pipeline/warehouse/crosswalk.py), each with its match's
    # status and score; only a source that ``matches`` may give one.
    crosswalk_ids: tuple[CrosswalkId, ...] = ()

    # --- what it owns -----------------------------------------------------------------------

    @property
    def folder(self) -> str:
        return os.path.dirname(os.path.abspath(inspect.getfile(type(self))))

    @property
    def resource(self) -> str:
        """The Luigi resource its tasks hold while they ask it (luigid caps them cluster-wide)."""
        return f"{self.name}_api"

    @property
    def match_table(self) -> str:
        return f"{self.name}_matches"

    @property
    def track_table(self) -> str:
        return f"{self.name}_tracks"

    @property
    def track_id_column(self) -> str:
        return f"{self.name}_track_id"

    @property
    def history_table(self) -> str | None:
        return f"{self.name}_match_history" if self.keeps_match_history else None

    def settings(self):
        """Its configuration section (a luigi.Config), or None."""
        return None

    def stages(self) -> tuple[type, ...]:
        """Its per-partition Luigi tasks in the order they run; the last stages what the load reads."""
        raise NotImplementedError

    def loaded_stage(self, partition: str):
        return self.stages()[-1](partition=partition)

    def _file(self, name: str) -> str | None:
        path = os.path.join(self.folder, name)
        return path if os.path.exists(path) else None

    def ddl(self) -> str:
        """Its tables' DDL (``schema.sql``), in the dialect markers of sql/schema.sql."""
        path = self._file("schema.sql")
        return open(path, encoding="utf-8").read() if path else ""

    def view(self) -> str | None:
        """Its part of ``enriched_songs`` (``view.sql``: ``SELECT <columns> FROM songs s <joins>``)."""
        path = self._file("view.sql")
        return open(path, encoding="utf-8").read() if path else None

    def dictionary(self) -> str | None:
        """The path of its part of the data dictionary (``DICTIONARY.md``)."""
        return self._file("DICTIONARY.md")

    # --- asking it ------------------------------------------------------------------------------

    def gateway(self) -> StoredGateway:
        """Its stored lookups as its settings configure them (the refresh and the preflight use them)."""
        raise NotImplementedError(f"source {self.name} has no gateway")

    def endpoints(self) -> list[tuple[str, str]]:
        """(URL, the setting that names it) of every service a run may ask."""
        return []

    def check_settings(self) -> None:
        """Raise a TerminalError naming the setting when its configuration cannot work."""

    def needs(self, partition: str) -> str | None:
        """Why rerunning ``partition`` must ask the service (None: the answer store holds every answer)."""
        return None

    def check_can_ask(self, partition: str, why: str) -> None:
        """Raise a TerminalError naming the fix when a rerun that must ask (``why``) could not."""
        for url, setting in self.endpoints():
            check_reachable(url, setting, f"rerunning {partition} must ask {self.title} ({why})")

    def journals(self) -> tuple[str, ...]:
        """Folders under ``<staging root>/<stage>/A/B/`` that hold answers of earlier versions: a forced
        rerun keeps them unless told to forget them."""
        return ()

    # --- what people see --------------------------------------------------------------------

    def summary(self, manifests: list[dict]) -> list[str]:
        """Lines the run summary adds, from this run's loaded-stage manifests."""
        return []

    def notes(self) -> list[str]:
        """Standing conditions a summary should say (a quota stop with the time it lifts)."""
        return []

    def provenance(self) -> list[dict]:
        """The external data its stages use, as each stage's manifest records it and the report prints it: a dump
        (``{"kind": "dump", "name": file name, "date": its date, "sha256": …, "location": where it was read}``,
        ``dump_provenance``; ``"kind": "file"`` for a file or folder a setting names that no digest pins) or a
        service (``{"kind": "api", "host": "api.deezer.com"}``, ``api_provenance``), from the settings in force.
        ``pipeline/tasks/base.py`` writes it into every manifest of the source's stages."""
        return []

    def table_terms(self, table: str) -> Terms | None:
        """The terms one of its tables comes under when they are not the source's own (a service whose core data is
        open and whose tags are not, say): the dictionary, the exports and ``--open-only`` follow them. None: its own."""
        return None

    def example_queries(self) -> list[tuple[str, str]]:
        """(title, SQL) the demo runs to show what the source adds."""
        return []

    def report_sections(self, context: ReportContext) -> list[ReportSection]:
        """Sections of the run report only this source has, after the coverage and scores every source that
        matches gets; each says why when it has nothing to show."""
        return []

    def daily_capacity(self, spent: dict) -> tuple[float | None, str]:
        """Requests a day it can be asked, and on what that rests, for the report's forecast: the configured limit
        (``daily_limit``), or the pace the ledger shows (``spent``: ``answers.total_spent``) where that is slower.
        Both are read from what is stored and configured, so whoever writes the report forecasts the same."""
        return forecast_daily(self.daily_limit(), spent)

    def daily_limit(self) -> tuple[float | None, str]:
        """Requests a day its limit allows and where that limit is set, read as the configuration files and the
        environment give it (``config.configured``), never as a stand-in overrode it in this process."""
        return None, "no limit known"

    def match_threshold(self) -> tuple[float, str] | None:
        """The lowest score a candidate needs to match, and the setting that says so; None when it has none."""
        settings = self.settings()
        threshold = getattr(settings, "match_threshold", None) if settings is not None else None
        return None if threshold is None else (float(threshold), f"[{self.name}] match_threshold")

    @contextlib.contextmanager
    def sandbox(self, msd_root: str, **options) -> Iterator[Sandbox | None]:
        """The demo's stand-in: started, pointed at by the configuration, stopped after."""
        yield None

    # --- the daily refresh (when ``refreshes``) ------------------------------------------------------

    def refresh_budget(self) -> int:
        return self.settings().refresh_budget

    def refresh_candidates(self, backend, day) -> list[tuple]:
        """(msd track, partition, source track, lead artist, latest snapshot date) of every track the refresh may
        plan: by default every match in ``match_table`` with its ``track_table`` row. The latest snapshot is that
        of any date but ``day`` (of every date when ``day`` is None), None for a track never snapshotted, so a
        backfilled day plans the tracks no other day holds first (``pipeline.refresh.plan.last_snapshots``)."""
        from pipeline.refresh.plan import matched_tracks

        return matched_tracks(backend, self, day)

    def track_cost(self, capabilities: dict[str, dict]) -> float:
        return 1.0

    def artist_cost(self, capabilities: dict[str, dict]) -> float | None:
        """What a lead artist's refresh costs; None when nothing about an artist is worth a request."""
        return 1.0

    def refresh_partition(self, gateway: StoredGateway, day: str, part: dict, partition: str,
                          plan: dict) -> dict[str, list[dict]]:
        """One partition's planned tracks (``part``) asked on ``day``: snapshot rows per staged file
        (``snapshot_rows``). ``plan`` is the source's whole plan of the day, for a source that asks many
        partitions' ids in one request."""
        raise NotImplementedError

    def refresh_paid_for(self, gateway: StoredGateway, task: str, partition: str):
        """Around a refresh task's requests (the ledger's line whatever its end)."""
        return gateway.paid_for(task)

    def __repr__(self) -> str:
        return f"<source {self.name}>"


# The least asking time the ledger must show before its pace is believed: shorter runs say little about a day.
MIN_OBSERVED_S = 60.0


def observed_pace(spent: dict) -> float | None:
    """Requests a second while the source's tasks were asking (the ledger's ``timed_sent`` over ``asking_s``),
    or None when fewer than ``MIN_OBSERVED_S`` seconds of asking were recorded."""
    seconds = spent.get("asking_s") or 0.0
    return spent.get("timed_sent", 0) / seconds if seconds >= MIN_OBSERVED_S else None


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    return f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"{minutes} min"


def forecast_daily(limit: tuple[float | None, str], spent: dict) -> tuple[float | None, str]:
    """Requests a day: the configured ``limit`` (requests a day, where it is set), or the pace the ledger shows when
    that is slower (the pipeline does not reach its limit), and on what that rests."""
    daily_limit, limit_basis = limit
    pace = observed_pace(spent)
    if pace is None:
        seconds = spent.get("asking_s") or 0.0
        observed = (f"{_duration(seconds)} of asking timed in the ledger, under the {MIN_OBSERVED_S:.0f} s a pace needs"
                    if seconds else "no asking timed in the ledger yet")
        return (round(daily_limit) if daily_limit is not None else None), f"{limit_basis}; {observed}"
    observed = (f"{spent['timed_sent']:,} requests in {_duration(spent['asking_s'])} of asking, {pace:,.2f} a second "
                f"(the ledger)")
    if daily_limit is None or pace * 86_400 < daily_limit:
        also = f"; the limit allows more: {limit_basis}" if daily_limit is not None else ""
        return round(pace * 86_400), f"the pace observed: {observed}{also}"
    return round(daily_limit), f"{limit_basis}; the pace observed is faster ({observed})"


@dataclass(frozen=True)
class CrosswalkId:
    """An id a source gives the crosswalk (``song_ids``): ``column`` is the crosswalk's column (``isrc``,
    ``<name>_track_id``: sources that give the same id share it, the first in pipeline order that has one for a song
    wins) and ``value`` the SQL that reads it from the source's match table, alias ``m``, and the tables ``joins``
    adds (``LEFT JOIN <name>_tracks t ON t.<name>_track_id = m.<name>_track_id``). Its status and score are the
    match's (``m.status``, ``m.score``)."""

    column: str
    value: str
    joins: str = ""


@dataclass(frozen=True)
class Terms:
    """What ``Source.table_terms`` gives for a table whose facts come under other terms than its source's."""

    data_licence: str
    licence_url: str
    terms: str
    republishable: bool


# --- provenance: what a source's ``provenance()`` lists -------------------------------------------------


def api_provenance(url: str) -> dict:
    """A service a stage asks, by its host (and port, where not the scheme's own): never a path or a credential."""
    parts = urlsplit(url)
    default = {"https": 443, "http": 80}.get(parts.scheme)
    host = parts.hostname or url
    return {"kind": "api", "host": host if parts.port in (None, default) else f"{host}:{parts.port}"}


_DATE_IN_NAME = re.compile(r"(?<!\d)((?:19|20)\d\d)(\d\d)(\d\d)(?!\d)")


def dump_provenance(location: str, sha256: str | None, kind: str = "dump") -> dict:
    """A file a stage reads (a dump pinned by its SHA-256, a file given by a setting): its name, its date (the
    ``YYYYMMDD`` its name carries, such as a dump's, else the file's modification day when it is local), its digest
    and where it was read (a URL's query, which may sign it, left out)."""
    from pipeline.redaction import redact_url

    parts = urlsplit(location)
    remote = parts.scheme in ("s3", "http", "https")
    name = os.path.basename((parts.path if remote else location).rstrip("/")) or location
    stamp = _DATE_IN_NAME.search(name)
    date = f"{stamp[1]}-{stamp[2]}-{stamp[3]}" if stamp else None
    if date is None and not remote and os.path.isfile(location):
        date = datetime.fromtimestamp(os.path.getmtime(location), UTC).date().isoformat()
    where = redact_url(parts._replace(query="", fragment="").geturl()) if remote else os.path.abspath(location)
    return {"kind": kind, "name": name, "date": date, "sha256": sha256.lower() if sha256 else None, "location": where}


def local_dump_copy(dump: str, sha256: str, index_dir: str, setting: str, default_name: str) -> str:
    """A local file of a pinned dump: the path itself, or a download from ``s3://`` or ``https://`` kept under
    ``<index_dir>/downloads/`` (dumps are deleted upstream within weeks; the copy is what the pin names). A local
    path that is not a file is a one-line TerminalError naming ``setting``; a failed download a TransientError."""
    import shutil

    from pipeline.redaction import redact_text, redact_url

    scheme = urlsplit(dump).scheme
    if scheme not in ("s3", "http", "https"):
        if not os.path.isfile(dump):
            raise TerminalError(f"{setting} `{dump}` is not a file; point it at the .tar.zst (local, s3:// or https://)")
        return dump
    name = os.path.basename(urlsplit(dump).path) or default_name
    path = os.path.join(index_dir, "downloads", sha256[:16], name)
    if os.path.exists(path) and file_sha256(path) == sha256:
        return path
    os.makedirs(os.path.dirname(path), exist_ok=True)
    partial = path + ".partial"
    try:
        if scheme == "s3":
            from pipeline.staging.paths import s3_client, split_s3_path

            bucket, key = split_s3_path(dump)
            s3_client().s3.meta.client.download_file(bucket, key, partial)
        else:
            import requests

            with requests.get(dump, stream=True, timeout=60) as response:
                response.raise_for_status()
                with open(partial, "wb") as fh:
                    shutil.copyfileobj(response.raw, fh, 1 << 20)
    except Exception as exc:
        with contextlib.suppress(FileNotFoundError):
            os.remove(partial)
        raise TransientError(f"{setting} `{redact_url(dump)}` could not be downloaded ({type(exc).__name__}: "
                             f"{redact_text(str(exc), dump)}); check the address and rerun") from None
    os.replace(partial, path)
    return path


def file_sha256(path: str) -> str | None:
    """The SHA-256 of a local file (computed once per size and modification time); None for a folder or a URL."""
    if not os.path.isfile(path):
        return None
    stat = os.stat(path)
    return _file_sha256(path, stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=16)
def _file_sha256(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass
class ReportContext:
    """What a source's report sections are gathered from: the warehouse, the tables it holds, whether the
    source is enabled, and why there is nothing to show at all ("" when there is)."""

    backend: object
    tables: set[str]
    enabled: bool
    empty_why: str = ""


@dataclass
class FigureSpec:
    """A figure the report draws (pipeline/report/figures.py): ``kind`` is one of its drawing functions
    (``histogram``, ``stacked_bars``, ``bars``), ``args`` that function's arguments."""

    id: str
    title: str
    caption: str
    kind: str
    args: dict


@dataclass
class ReportSection:
    """One section of the report: its facts and figures, or why it has none. ``template`` is the Jinja2
    template that shows it, relative to the source's folder (``report.html.j2``)."""

    id: str
    title: str
    source: str = ""
    template: str | None = None
    available: bool = True
    why: str = ""
    facts: dict = field(default_factory=dict)
    figures: list[FigureSpec] = field(default_factory=list)


@dataclass
class Sandbox:
    """What the demo needs of a started stand-in: a line saying where it is, and what it was asked."""

    description: str
    requests: Callable[[], dict[str, int]]
    options: dict = field(default_factory=dict)


class StoredGateway:
    """Lookups answered from the answer store when it can, else asked of the source and stored first.

    ``client`` may be a function that makes one: it is called at the first request, so a run answered
    wholly from the store needs no credentials and opens no connection. A client counts every HTTP
    request it sends in ``sent`` (by endpoint; ``rate_limited`` too where it waits out 429s); the gateway
    reports what its own work sent, since a client may serve several gateways."""

    capability_names: tuple[str, ...] = ()
    counts_rate_limits = False  # its client waits out short 429s and counts them (``rate_limited``)
    # Kinds whose keys another answer named (an album id a track gave): "no data" (status 404) for one is more
    # likely the service failing than the truth, so a later command asks it again (pipeline/sources/ask_again.py).
    named_kinds: tuple[str, ...] = ()
    # How long a legitimate "not found" (``is_not_found``) is believed; older, it is asked again. None: forever.
    not_found_max_age: timedelta | None = None

    def __init__(self, source: str, client, store: answers.AnswerStore):
        self.source, self._client, self.store = source, client, store
        self.requests: Counter[str] = Counter()  # calls made by this gateway, by kind
        self.answered_from_store = 0
        self.asked_again = 0  # stored answers asked again because the question grew (``asked_in_batches``)
        self.no_data_named: Counter[str] = Counter()  # "no data" for a named id, by kind (asked or stored)
        self.not_found: Counter[str] = Counter()  # legitimate "not found" answers used, by kind (asked or stored)
        self.ask_again: set[tuple[str, str]] = set()  # those a later command asks again
        self._sent_before: Counter[str] | None = None
        self._rate_limited_before = 0
        if _is_client(client):
            self._started(client)
        self.capabilities: dict[str, dict] = store.capabilities(self.capability_names)

    def _started(self, client) -> None:
        self._sent_before = Counter(client.sent)
        self._rate_limited_before = getattr(client, "rate_limited", 0)

    @property
    def client(self):
        if not _is_client(self._client):
            self._client = self._client()
        if self._sent_before is None:
            self._started(self._client)
        return self._client

    def sent(self) -> dict:
        """Every HTTP request this gateway's work sent, by endpoint, and the 429s waited out."""
        if self._sent_before is None:
            return {"by_endpoint": {}, "total": 0, "rate_limited": 0}
        spent = Counter(self._client.sent)
        spent.subtract(self._sent_before)
        spent = +spent
        return {"by_endpoint": dict(sorted(spent.items())), "total": sum(spent.values()),
                "rate_limited": getattr(self._client, "rate_limited", 0) - self._rate_limited_before}

    def request_counts(self) -> dict:
        """What it asked (calls) and sent (every HTTP request), so far: the manifests' and the ledger's shape."""
        sent = self.sent()
        counts = {"this_run": dict(sorted(self.requests.items())), "this_run_total": sum(self.requests.values()),
                  "sent": sent["by_endpoint"], "sent_total": sent["total"], "answered_from_store": self.answered_from_store}
        if self.counts_rate_limits:
            counts["rate_limited"] = sent["rate_limited"]
        return counts

    def stored(self, kind: str, key: str) -> dict | None:
        """The stored answer, counted as answered from the store; None when it was never asked."""
        entry = self.store.get(kind, key)
        if entry is not None:
            self.answered_from_store += 1
        return entry

    def asked(self, kind: str, key: str, ask: Callable[[], dict]) -> dict:
        """The stored answer while it is believed (``_believed``), else ``ask()``'s payload (the entry's fields),
        stored before it is used."""
        previous = self.store.get(kind, key)
        if previous is not None and self._believed(kind, previous):
            self.answered_from_store += 1
            entry = previous
        else:
            self.requests[kind] += 1
            payload = ask()
            if self._named_no_data(kind, payload):
                # Which command heard it, and how often it has been heard: later commands ask again, boundedly.
                payload.update(command=answers.COMMAND_ID, asks=previous.get("asks", 1) + 1 if previous else 1)
            entry = self.store.record(kind, key, **payload)
        if self._named_no_data(kind, entry):
            self.no_data_named[kind] += 1
            if entry.get("asks", 1) < NAMED_NO_DATA_ASKS:
                self.ask_again.add((kind, key))
        elif self.is_not_found(kind, entry):
            self.not_found[kind] += 1
        return entry

    def asked_in_batches(self, kind: str, keys: list[str], per_request: int,
                         ask: Callable[[list[str]], dict[str, dict | None]],
                         current: Callable[[dict], bool] | None = None) -> dict[str, dict]:
        """Stored answers of many keys, those the store lacks asked ``per_request`` at a time (an endpoint that takes
        50 or 1,000 ids): ``ask(keys)`` gives each key's ``obj``, missing or None for "not found" (status 404). Each
        answer is stored under its own key, so a key met again beside other keys is never asked again. ``current``:
        whether a stored answer holds what is asked now (one stored before the question grew is asked again, in the
        same requests, and replaced; ``asked_again`` counts them)."""
        out: dict[str, dict] = {}
        missing = []
        for key in dict.fromkeys(keys):
            entry = self.store.get(kind, key)
            if entry is None or (current is not None and not current(entry)):
                missing.append(key)
                self.asked_again += entry is not None
            else:
                self.answered_from_store += 1
                out[key] = entry
        for start in range(0, len(missing), per_request):
            batch = missing[start:start + per_request]
            self.requests[kind] += 1
            answered = ask(batch)
            for key in batch:
                obj = answered.get(key)
                out[key] = self.store.record(kind, key, status=200 if obj else 404, obj=obj or None)
                if not obj:
                    self.not_found[kind] += 1
        return out

    def _named_no_data(self, kind: str, entry: dict) -> bool:
        return kind in self.named_kinds and entry.get("status") == 404

    def _believed(self, kind: str, entry: dict) -> bool:
        """A stored answer is used as it is, except a "no data" for a named id that another command heard and
        has not been asked ``NAMED_NO_DATA_ASKS`` times, and a not-found older than ``not_found_max_age``."""
        if self._named_no_data(kind, entry):
            return entry.get("command") == answers.COMMAND_ID or entry.get("asks", 1) >= NAMED_NO_DATA_ASKS
        return not self._not_found_too_old(kind, entry)

    def is_not_found(self, kind: str, entry: dict) -> bool:
        """Whether an answer says the thing asked for is not there (an ISRC no track has, a search without a hit)."""
        return entry.get("status") == 404

    def _not_found_too_old(self, kind: str, entry: dict) -> bool:
        if self.not_found_max_age is None or not self.is_not_found(kind, entry):
            return False
        try:
            at = datetime.fromisoformat(entry["at"].replace("Z", "+00:00"))
        except (KeyError, ValueError):
            return False
        return datetime.now(UTC) - at > self.not_found_max_age

    def set_capability(self, name: str, available: bool, reason: str) -> bool:
        """Record what the service serves (for every partition, ``CAPABILITY_MAX_AGE``); True when it changed."""
        if self.capabilities[name]["available"] is available:
            return False
        self.capabilities[name] = {"available": available, "reason": reason}
        self.store.record("capability", name, available=available, reason=reason)
        return True

    def paid_for(self, task: str):
        """Around a task's requests: the ledger keeps the task's line current while it asks and gets it whatever
        its end, SIGTERM included (what was sent was paid for; pipeline/sources/answers.py ``ledger_line``)."""
        return answers.ledger_line(self.source, task, self.store.run_id, self.request_counts)


def requests_sent(manifest: dict) -> int:
    """Every request a stage's output cost, from its manifest (manifests of earlier versions counted calls only)."""
    requests = manifest.get("requests") or {}
    return requests.get("sent_total", requests.get("this_run_total", 0))


def _is_client(obj) -> bool:
    return hasattr(obj, "sent")


def store_for(source: str, **kwargs) -> answers.AnswerStore:
    return answers.AnswerStore(answers.store_folder(source), earlier_folder=answers.staged_store_folder(source), **kwargs)


class NotReachableError(TerminalError):
    def __init__(self, url: str, setting: str, reason: str, needs: str):
        super().__init__(f"{needs}, but nothing answered at {url} ({setting}): {reason}. Check that setting, or "
                         f"rerun when the service is back; nothing was removed.")


def check_reachable(url: str, setting: str, needs: str) -> None:
    """A TCP connection to ``url``'s host, or a NotReachableError naming the setting."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.create_connection((parts.hostname, port), timeout=5).close()
    except OSError as exc:
        raise NotReachableError(url, setting, exc.strerror or type(exc).__name__, needs) from None


# --- the daily refresh's rows, the same for every source ----------------------------------------------

AVAILABLE, RELINKED, GONE, UNAVAILABLE = "available", "relinked", "gone", "unavailable"


class UnansweredError(TransientError):
    def __init__(self, source: str, partition: str, day: str, missing: int):
        super().__init__(f"{source} left {missing} track(s) of partition {partition} unanswered on {day} (server errors); "
                         f"rerun the day: every answer received is stored and will not be asked again")


def snapshot_rows(source: str, day: str, part: dict, state_of: Callable[[str], tuple],
                  artists: list[dict]) -> dict[str, list[dict]]:
    """A partition's refresh as the staged files the snapshot load reads: one track row per (source track,
    MSD track) from ``state_of(track id)`` → (popularity, availability, relinked_to, fetched_at), and the
    artists' rows (``source_artist_id``, ``followers``, ``popularity``, ``fetched_at``)."""
    tracks = []
    for track_id, msd_tracks in part["tracks"]:
        popularity, availability, relinked_to, at = state_of(track_id)
        tracks += [{"source": source, "snapshot_date": day, "source_track_id": track_id, "msd_track_id": msd_track,
                    "msd_partition": partition, "popularity": popularity, "availability": availability,
                    "relinked_to": relinked_to, "fetched_at": at, **_NO_COUNTS} for msd_track, partition in msd_tracks]
    return {"tracks.jsonl.gz": tracks,
            "artists.jsonl.gz": [{"source": source, "snapshot_date": day, **_NO_COUNTS, **a} for a in artists]}


# Listen and listener counts: only a source that has them (ListenBrainz) fills them in.
_NO_COUNTS = {"listen_count": None, "user_count": None}
