"""A recording MBID for every MSD song, cheapest route first, for every partition of a run at once.

1. ``echo_nest``: the Echo Nest song profile names the recording (``musicbrainz:track:<uuid>``), as beets' echonest
   plugin built it from MusicBrainz in 2012–16: no request, no guess.
2. ``canonical_dump``: the song's ``combined_lookup`` key (MSD artist + title, as ListenBrainz builds it: punctuation
   dropped, lower-cased, then transliterated) joined offline, with DuckDB, against the dump's index. A key shared by
   several rows is settled by the MSD ``artist_mbid`` among the row's ``artist_mbids``, then the release name,
   then the dump's ``score`` (lower: the more canonical release); a row that does not credit the artist id MSD
   gives is not taken (another artist of the same name, or one merged since: the lookup decides).
3. ``lookup``: ListenBrainz's ``metadata/lookup`` (50 songs per request, a token) for the rest, each answer checked
   against MSD's duration with ``metadata/recording`` (1,000 recordings per request): a length off by more than
   ``[musicbrainz] length_tolerance_s`` is another recording, not this song.

Every id found is mapped through ``canonical_recording_redirect`` (the id found and the canonical id are both
kept): ListenBrainz keys its counts by canonical ids. MSD's ``artist_mbid`` is mapped to the id MusicBrainz uses
now where the recording's credit names the same artist under another id (a merge).

The ``metadata/recording`` answer a matched song was checked with also gives, at no further request, its
recording's first release year (``first_release_year``) and the MusicBrainz tags of the recording, its artists and
its release group (``details``). The canonical dump has neither dates nor tags: a run without requests
(``[musicbrainz] lookup = false``) has none.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from dataclasses import dataclass

from unidecode import unidecode

from pipeline.matching.decide import AMBIGUOUS, MATCHED, NOT_FOUND
from pipeline.matching.names import fold, msd_text, parse_title
from pipeline.sources.listenbrainz.client import MAX_IDS, MAX_LOOKUP_CHARACTERS, MAX_LOOKUPS, is_mbid

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 2  # 2: the recording's release group, first release year and tags
ECHO_NEST, DUMP, LOOKUP = "echo_nest", "canonical_dump", "lookup"
ROUTES = (ECHO_NEST, DUMP, LOOKUP)
# How sure each route is: the Echo Nest's own mapping; a dump key with the artist id agreeing; a dump key with
# the artist's name agreeing (MSD has no id, or MusicBrainz merged it); a lookup answer whose length agrees.
SCORES = {ECHO_NEST: 1.0, "dump_artist_id": 1.0, "dump_artist_name": 0.95, LOOKUP: 0.9}
_NON_WORD = re.compile(r"[^\w]+")


def combined_lookup(artist_credit_name: str, recording_name: str) -> str:
    """ListenBrainz's key: ``unidecode(re.sub(r'[^\\w]+', '', artist + recording).lower())`` (mbid_mapping's
    canonical_musicbrainz_data.py), lower-cased before transliteration as there."""
    return unidecode(_NON_WORD.sub("", artist_credit_name + recording_name).lower())


@dataclass(frozen=True)
class MsdSong:
    track_id: str
    partition: str
    song_id: str | None
    artist_name: str
    title: str
    release: str
    duration_s: float | None
    artist_mbid: str | None


_FEATURING = re.compile(r"\s+(?:featuring|feat\.?|ft\.?)\s+", re.IGNORECASE)
_FEATURING_GROUP = re.compile(r"[(\[]\s*(?:featuring|feat\.?|ft\.?)\s+([^()\[\]]+?)\s*[)\]]", re.IGNORECASE)


def lookup_keys(song: MsdSong) -> list[str]:
    """The song's keys, most literal first: MSD's own names, then the title without its packaging suffix
    ("(Album Version)"), which MusicBrainz leaves out. A featured artist is part of MusicBrainz's artist credit,
    written "feat.": "X featuring Y" and "Title (featuring Y)" are keyed as "X feat. Y" + "Title". A version marker
    (live, remix) is kept: without it the key would name the studio recording."""
    artist, title = msd_text(song.artist_name), msd_text(song.title)
    keys = [combined_lookup(artist, title)]
    parsed = parse_title(song.title)
    core = parsed.core if not parsed.markers and parsed.core else title
    credit = _FEATURING.sub(" feat. ", artist)
    featured = _FEATURING_GROUP.search(title)
    if featured and " feat. " not in credit:
        credit = f"{credit} feat. {featured.group(1)}"
    keys += [combined_lookup(credit, core), combined_lookup(artist, core)]
    return [k for i, k in enumerate(keys) if k and k not in keys[:i]]


def _lead(names: str) -> str:
    return fold(re.split(r"\s+(?:feat\.?|featuring|ft\.?|&|and|with|x|vs\.?)\s+|,\s*", names or "", maxsplit=1,
                         flags=re.IGNORECASE)[0])


def choose(song: MsdSong, rows: list[dict]) -> tuple[str, dict | None, str]:
    """(status, the row taken, how) among the dump rows sharing the song's key. The published dump keeps one row
    per key (the lowest score; the others are redirected), so a key shared by two artists of one name (two bands
    called Nirvana) names one of them: where MSD gives an artist id the row does not credit, the row is not taken
    (the artist may have been merged, or be the other band) and the lookup, checked by length, decides."""
    if song.artist_mbid:
        same_id = [r for r in rows if song.artist_mbid in r["artist_mbids"]]
        if same_id:
            return MATCHED, _best(song, same_id), "dump_artist_id"
        return NOT_FOUND, None, ""
    same_name = [r for r in rows if _lead(r["artist_credit_name"]) == _lead(msd_text(song.artist_name))]
    if not same_name:
        return NOT_FOUND, None, ""
    if len({tuple(r["artist_mbids"]) for r in same_name}) > 1:
        return AMBIGUOUS, None, ""
    return MATCHED, _best(song, same_name), "dump_artist_name"


def _best(song: MsdSong, rows: list[dict]) -> dict:
    release = fold(msd_text(song.release))
    return min(rows, key=lambda r: (fold(r["release_name"] or "") != release, r["score"] if r["score"] is not None
                                    else 1 << 30, r["recording_mbid"]))


def first_release_year(first_release_date: str | None, release_year: int | None) -> int | None:
    """The first release year MusicBrainz knows of a recording: the year of its ``first_release_date`` (the earliest
    release date of any release holding it, which ListenBrainz gives only when the whole date is known), else the
    year of its canonical release's first release date (``release.year``: a release holding the recording, so the
    recording was out by then; the canonical release is the original album more often than the earliest single)."""
    if first_release_date and first_release_date[:4].isdigit() and int(first_release_date[:4]) > 0:
        return int(first_release_date[:4])
    return release_year if isinstance(release_year, int) and release_year > 0 else None


def details(meta: dict) -> dict:
    """What a matched recording gains from its ``metadata/recording`` answer (gateway.compact_recording)."""
    return {"release_group_mbid": meta.get("release_group_mbid"), "first_release_date": meta.get("first_release_date"),
            "release_year": meta.get("release_year"),
            "first_release_year": first_release_year(meta.get("first_release_date"), meta.get("release_year")),
            "tags": meta.get("tags"), "answered_at": meta.get("answered_at")}


@dataclass
class Resolution:
    status: str = NOT_FOUND
    method: str | None = None
    score: float | None = None
    recording_mbid: str | None = None  # the id the route found
    canonical_recording_mbid: str | None = None
    recording: dict | None = None  # name, artist credit, release, length as the route gave them
    canonical_artist_mbid: str | None = None
    note: str | None = None
    metadata_mbid: str | None = None  # the id whose metadata/recording answer checked it: its details come from there


class Resolver:
    """Resolves every song of a run: ``profiles`` (MSD song id → recording MBIDs), ``index`` a CanonicalIndex or
    None, ``gateway`` a MusicBrainzGateway or None (no lookup)."""

    def __init__(self, profiles: dict[str, list[str]], index, gateway, length_tolerance_s: float):
        self.profiles, self.index, self.gateway = profiles, index, gateway
        self.length_tolerance_s = length_tolerance_s
        self.routes: Counter[str] = Counter()

    def resolve(self, songs: list[MsdSong], before_lookup=None) -> dict[str, Resolution]:
        """Each song's resolution; ``before_lookup(n)`` is called before n songs go to the lookup endpoint."""
        out = {s.track_id: Resolution() for s in songs}
        by_id = {s.track_id: s for s in songs}
        for song in songs:
            found = [m for m in self.profiles.get(song.song_id or "", []) if is_mbid(m)]
            if found:
                out[song.track_id] = Resolution(MATCHED, ECHO_NEST, SCORES[ECHO_NEST], found[0])
        self._canonical(out)
        if self.index is not None:
            # An Echo Nest id the dump does not know (merged away since, or never canonical): the names may find it.
            unknown = {t for t, r in out.items() if r.method == ECHO_NEST and r.recording is None}
            self._from_dump([s for s in songs if out[s.track_id].status != MATCHED or s.track_id in unknown], out)
            self._canonical(out)
        if self.gateway is not None:
            self._check([by_id[t] for t, r in out.items() if r.status == MATCHED], out)
            left = [s for s in songs if out[s.track_id].status != MATCHED]
            if before_lookup is not None:
                before_lookup(len(left))
            self._from_lookup(left, out)
            self._canonical(out)
            self._details(out)
        elif self.index is not None:
            for r in out.values():  # offline, an Echo Nest id the dump does not know cannot be checked: not taken
                if r.method == ECHO_NEST and r.status == MATCHED and r.recording is None:
                    _reject(r, f"the Echo Nest profile names {r.recording_mbid}, which the canonical dump does not know")
        for song in songs:
            r = out[song.track_id]
            if r.status == MATCHED:
                self.routes[r.method] += 1
            r.canonical_artist_mbid = _canonical_artist(song, r)
        return out

    def _check(self, songs: list[MsdSong], out: dict[str, Resolution]) -> None:
        """Every offline match against MusicBrainz's metadata (1,000 recordings a request): a length off by more than
        the tolerance is another recording of the same names; an id MusicBrainz no longer knows is not taken."""
        ids = sorted({out[s.track_id].canonical_recording_mbid for s in songs})
        metadata = self.gateway.recordings(ids, MAX_IDS)
        for song in songs:
            r = out[song.track_id]
            meta = metadata.get(r.canonical_recording_mbid)
            if meta is None:
                if r.recording is None:
                    _reject(r, f"MusicBrainz does not know {r.recording_mbid}, which the Echo Nest profile names")
                continue
            r.recording = {**_named(meta), **(r.recording or {}), "length_ms": meta.get("length_ms")}
            r.metadata_mbid = r.canonical_recording_mbid
            diff = _length_diff(song, meta)
            if diff is not None and diff > self.length_tolerance_s:
                _reject(r, f"the recording {r.method.replace('_', ' ')} names is {diff:.0f} s longer or shorter "
                           f"than the song")

    def _details(self, out: dict[str, Resolution]) -> None:
        """Each match's first release year and tags, from the ``metadata/recording`` answer that checked it. Asked
        with the details: a stored answer from before tags were asked is asked again here, for a match only."""
        ids = sorted({r.metadata_mbid for r in out.values() if r.status == MATCHED and r.metadata_mbid})
        metadata = self.gateway.recordings(ids, MAX_IDS, details=True) if ids else {}
        for r in out.values():
            meta = metadata.get(r.metadata_mbid) if r.status == MATCHED and r.metadata_mbid else None
            if meta is not None:
                r.recording = {**(r.recording or {}), **details(meta)}

    # --- the dump ----------------------------------------------------------------------------------

    def _from_dump(self, songs: list[MsdSong], out: dict[str, Resolution]) -> None:
        if not songs:
            return
        keys = [(s.track_id, rank, k) for s in songs for rank, k in enumerate(lookup_keys(s))]
        rows = _joined("SELECT k.track_id, k.rank, c.recording_mbid, c.recording_name, c.artist_credit_name, "
                       "c.artist_mbids, c.release_mbid, c.release_name, c.score FROM given k "
                       "JOIN read_parquet(?) c ON c.combined_lookup = k.key", self.index.data,
                       {"track_id": [k[0] for k in keys], "rank": [k[1] for k in keys], "key": [k[2] for k in keys]})
        by_song: dict[str, dict[int, list[dict]]] = {}
        for track_id, rank, mbid, name, credit, artists, release_mbid, release, score in rows:
            by_song.setdefault(track_id, {}).setdefault(rank, []).append(
                {"recording_mbid": mbid, "recording_name": name, "artist_credit_name": credit,
                 "artist_mbids": [a for a in (artists or "").split(",") if a], "release_mbid": release_mbid,
                 "release_name": release, "score": score})
        for song in songs:
            for rank in sorted(by_song.get(song.track_id, {})):
                status, row, how = choose(song, by_song[song.track_id][rank])
                if status == MATCHED:
                    out[song.track_id] = Resolution(MATCHED, DUMP, SCORES[how], row["recording_mbid"], recording=row)
                    break
                if status == AMBIGUOUS and out[song.track_id].status != MATCHED:
                    out[song.track_id] = Resolution(AMBIGUOUS, DUMP, note="several artists of this name share the key")

    # --- the lookup endpoint -----------------------------------------------------------------------

    def _from_lookup(self, songs: list[MsdSong], out: dict[str, Resolution]) -> None:
        if not songs:
            return
        items = {s.track_id: _lookup_item(s) for s in songs}
        for song in songs:
            if items[song.track_id] is None:
                out[song.track_id].note = "names too long (or missing) for ListenBrainz's lookup"
        askable = [s for s in songs if items[s.track_id] is not None]
        answers = self.gateway.lookup([items[s.track_id] for s in askable], MAX_LOOKUPS)
        candidates = {s.track_id: a for s, a in zip(askable, answers, strict=True) if a and is_mbid(a.get("recording_mbid") or "")}
        metadata = self.gateway.recordings(sorted({a["recording_mbid"] for a in candidates.values()}), MAX_IDS)
        for song in songs:
            answer = candidates.get(song.track_id)
            if answer is None:
                continue
            meta = metadata.get(answer["recording_mbid"]) or {}
            diff = _length_diff(song, meta)
            if diff is None:
                out[song.track_id] = Resolution(NOT_FOUND, LOOKUP, note="no length to check the lookup's answer against")
            elif diff > self.length_tolerance_s:
                out[song.track_id] = Resolution(NOT_FOUND, LOOKUP, note=f"the recording the lookup names is {diff:.0f} s "
                                                                        f"longer or shorter than the song")
            else:
                out[song.track_id] = Resolution(MATCHED, LOOKUP, SCORES[LOOKUP], answer["recording_mbid"], recording={
                    **_named(answer), **_named(meta), "length_ms": meta.get("length_ms")},
                    metadata_mbid=answer["recording_mbid"])

    # --- canonical ids -----------------------------------------------------------------------------

    def _canonical(self, out: dict[str, Resolution]) -> None:
        found = sorted({r.recording_mbid for r in out.values() if r.recording_mbid and not r.canonical_recording_mbid})
        redirects = self._redirects(found)
        for r in out.values():
            if r.recording_mbid and not r.canonical_recording_mbid:
                r.canonical_recording_mbid = redirects.get(r.recording_mbid, r.recording_mbid)
        if self.index is None:
            return
        # Echo Nest answers name an id only: the dump gives it a name, an artist credit and a release.
        bare = sorted({r.canonical_recording_mbid for r in out.values() if r.status == MATCHED and r.recording is None})
        rows = self._rows_of(bare)
        for r in out.values():
            if r.status == MATCHED and r.recording is None:
                r.recording = rows.get(r.canonical_recording_mbid)

    def _redirects(self, ids: list[str]) -> dict[str, str]:
        if self.index is None or not ids:
            return {}
        return dict(_joined("SELECT r.recording_mbid, r.canonical_recording_mbid FROM given f "
                            "JOIN read_parquet(?) r ON r.recording_mbid = f.mbid", self.index.recording_redirects,
                            {"mbid": ids}))

    def _rows_of(self, ids: list[str]) -> dict[str, dict]:
        if not ids:
            return {}
        rows = _joined("SELECT recording_mbid, arg_min(struct_pack(recording_name, artist_credit_name, artist_mbids, "
                       "release_mbid, release_name), score) FROM read_parquet(?) c JOIN given w ON w.mbid = c.recording_mbid "
                       "GROUP BY 1", self.index.data, {"mbid": ids})
        return {mbid: {**row, "artist_mbids": [a for a in (row["artist_mbids"] or "").split(",") if a]}
                for mbid, row in rows}


def _joined(sql: str, parquet: str, given: dict[str, list]) -> list[tuple]:
    """``sql`` run by DuckDB with ``given`` (columns of Python values) as table ``given`` and the index file
    ``parquet`` as its one parameter."""
    import duckdb
    import pyarrow as pa

    con = duckdb.connect()
    try:
        con.register("given", pa.table(given))
        return con.execute(sql, [parquet]).fetchall()
    finally:
        con.close()


def _reject(r: Resolution, note: str) -> None:
    r.status, r.score, r.recording_mbid, r.canonical_recording_mbid, r.recording, r.note = (NOT_FOUND, None, None, None,
                                                                                          None, note)
    r.metadata_mbid = None


def _named(meta: dict) -> dict:
    """Names of a metadata or lookup answer, as the dump names its columns."""
    return {k: v for k, v in {"recording_name": meta.get("name") or meta.get("recording_name"),
                              "artist_credit_name": meta.get("artist_credit_name"),
                              "artist_mbids": meta.get("artist_mbids") or None, "release_mbid": meta.get("release_mbid"),
                              "release_name": meta.get("release_name")}.items() if v}


def _length_diff(song: MsdSong, meta: dict) -> float | None:
    length_ms = meta.get("length_ms")
    if length_ms is None or not song.duration_s:
        return None
    return abs(length_ms / 1000 - song.duration_s)


def _lookup_item(song: MsdSong) -> dict | None:
    """What the lookup is asked for a song; the release left out where the three names would pass the endpoint's
    limit, None where artist and title alone do (metadata_api.py: fewer than 250 characters in all)."""
    item = {"artist_name": msd_text(song.artist_name), "recording_name": msd_text(song.title)}
    length = len(item["artist_name"]) + len(item["recording_name"])
    if not item["artist_name"] or not item["recording_name"] or length >= MAX_LOOKUP_CHARACTERS:
        return None
    release = msd_text(song.release)
    if release and length + len(release) < MAX_LOOKUP_CHARACTERS:
        item["release_name"] = release
    return item


def _canonical_artist(song: MsdSong, r: Resolution) -> str | None:
    """MSD's artist id as MusicBrainz has it now: the recording credit's id for the same name when MusicBrainz
    merged the artist MSD names into another."""
    if not song.artist_mbid or not r.recording:
        return song.artist_mbid or None
    ids = r.recording.get("artist_mbids") or []
    if song.artist_mbid in ids or not ids:
        return song.artist_mbid
    if _lead(r.recording.get("artist_credit_name") or "") == _lead(msd_text(song.artist_name)):
        return ids[0]
    return song.artist_mbid
