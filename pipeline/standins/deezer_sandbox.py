"""A Deezer public API sandbox: real HTTP on 127.0.0.1, Deezer's JSON shapes and failure modes.

    python -m pipeline.standins.deezer_sandbox --msd data/msd --port 8766 [--rate-limit 50/5s] [--busy-rate F]

It serves what an enrichment uses, without a key, as Deezer does in 2026: ``/search/track``
(and ``/search``) with the advanced syntax ``artist:"…" track:"…" album:"…" dur_min:N
dur_max:N`` and free text, ``/track/{id}``, ``/track/isrc:{ISRC}``, ``/artist/{id}`` and
``/album/{id}``. Errors come as Deezer sends them, with HTTP 200 and an ``error`` object:
code 4 "Quota limit exceeded" beyond ``rate_limit`` requests per rolling window (50 per 5 s by
default, per client address as Deezer counts), code 700 "service busy" at random
(``busy_rate``), code 800 "no data" for an id it does not hold, 500/600 for bad parameters.
Search hits carry no ``bpm``, ``gain``, ``isrc`` or ``contributors``: only the full track does.

``GET /sandbox/stats`` (not Deezer's) counts requests by endpoint and errors by code.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

from pipeline.standins.deezer_catalog import DeezerCatalog, DeezerTrack, build_deezer_catalog
from pipeline.standins.loopback import LoopbackServer
from pipeline.standins.spotify_catalog import DEMO_CATALOG_SEED, build_catalog, load_identities, strip_accents

_FIELD = re.compile(r'(\w+):("[^"]*"|\S+)')
_TOKEN = re.compile(r"\w+")
_APOSTROPHE = re.compile(r"['\u2019\u2018`]")
MAX_LIMIT = 100


def _tokens(text: str) -> set[str]:
    return set(_TOKEN.findall(_APOSTROPHE.sub("", strip_accents(text.casefold()))))


def _error(code: int, message: str, kind: str) -> dict:
    return {"error": {"type": kind, "message": message, "code": code}}


QUOTA = (4, "Quota limit exceeded", "Exception")
BUSY = (700, "Service busy", "Exception")
NO_DATA = (800, "no data", "DataException")


class DeezerState:
    """What the handler threads share, under one lock."""

    def __init__(self, catalog: DeezerCatalog, rate_limit: int | None = 50, rate_window_s: float = 5.0,
                 busy_rate: float = 0.0, latency_ms: float = 0.0, seed: int = 0,
                 clock: Callable[[], float] = time.monotonic, isrc_lookups: bool = True, day: int = 0,
                 spurious_no_data_rate: float = 0.0):
        self.catalog = catalog
        # The catalog as it is `day` days after the start: ranks and fans move (moved_on), and tests
        # may relink a track (id → the id Deezer now offers as its alternative) or take it away.
        self.day = day
        self.relinked: dict[int, int] = {}
        self.gone: set[int] = set()
        # track/isrc: is undocumented; False plays the day Deezer stops answering it.
        self.isrc_lookups = isrc_lookups
        # "no data" (code 800) for artists and albums it holds, at random: a fault seen on the real service.
        self.spurious_no_data_rate = spurious_no_data_rate
        self.rate_limit, self.rate_window_s = rate_limit, rate_window_s
        self.busy_rate, self.latency_s = busy_rate, latency_ms / 1000
        self.clock = clock
        self.lock = threading.Lock()
        self.rng = random.Random(seed)
        self.recent: deque[float] = deque()
        self.requests: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.log: list[tuple[str, str]] = []  # (endpoint, path) in arrival order
        self.index: dict[int, tuple[set[str], set[str], set[str]]] = {}
        self.by_token: dict[str, set[int]] = {}
        for track in catalog.tracks.values():
            fields = (_tokens(track.title), _tokens(catalog.artists[track.artist_id].name),
                      _tokens(catalog.albums[track.album_id].title))
            self.index[track.id] = fields
            for token in set().union(*fields):
                self.by_token.setdefault(token, set()).add(track.id)

    def stats(self) -> dict:
        with self.lock:
            return {"requests": dict(self.requests), "errors": dict(self.errors)}


def moved_on(value: int, item_id: int, day: int) -> int:
    """``value`` ``day`` days on: each item drifts at a pace of its own, a share of its value a day between -4 % and
    +4 % (in 81 steps: some rise, some fall, a few stay), compounded, so no value falls to 0; the same on every
    run, so tests know what each day must read and the report's movers are not a tie of equal moves."""
    pace = ((item_id * 7919) % 81 - 40) / 1000
    if not pace or not value:
        return value
    return max(1, round(value * (1 + pace) ** day))


class _Handler(BaseHTTPRequestHandler):
    server_version = "DeezerSandbox/1"
    state: DeezerState

    def log_message(self, *args):
        pass

    @property
    def base(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def _send(self, payload: dict) -> None:
        body = json.dumps(payload).encode()
        if "error" in payload:
            with self.state.lock:
                self.state.errors[str(payload["error"]["code"])] += 1
        self.send_response(200)  # Deezer answers its errors with 200 too
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):  # noqa: N802
        url = urlsplit(self.path)
        if url.path == "/sandbox/stats":
            return self._send(self.state.stats())
        parts = [unquote(p) for p in url.path.strip("/").split("/")]
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        route = self._route(parts, query)
        endpoint = route[0] if route else "unknown"
        st = self.state
        with st.lock:
            st.requests[endpoint] += 1
            st.log.append((endpoint, self.path))
        if st.latency_s:
            time.sleep(st.latency_s)
        refusal = self._gatekeeper()
        if refusal:
            return self._send(_error(*refusal))
        if route is None:
            return self._send(_error(501, "Unknown path", "ParameterException"))
        self._send(route[1]())

    def _gatekeeper(self):
        st = self.state
        with st.lock:
            now = st.clock()
            while st.recent and st.recent[0] <= now - st.rate_window_s:
                st.recent.popleft()
            if st.rate_limit is not None and len(st.recent) >= st.rate_limit:
                return QUOTA  # not counted in the window: Deezer counts what it served
            st.recent.append(now)
            if st.busy_rate and st.rng.random() < st.busy_rate:
                return BUSY
        return None

    def _route(self, parts: list[str], query: dict):
        if parts[:2] == ["search", "track"] or parts == ["search"]:
            return "search", lambda: self._search(query)
        if len(parts) == 2 and parts[0] == "track" and parts[1].startswith("isrc:"):
            if not self.state.isrc_lookups:
                return "track_isrc", lambda: _error(501, f"Unknown path components : /{parts[1]}", "MethodException")
            return "track_isrc", lambda: self._track_by_isrc(parts[1][5:])
        if len(parts) == 2 and parts[0] in ("track", "artist", "album"):
            return parts[0], lambda: self._object(parts[0], parts[1])
        return None

    # --- search ----------------------------------------------------------------------------

    def _search(self, query: dict) -> dict:
        q = query.get("q", "").strip()
        if not q:
            return _error(501, "Missing parameters: q", "MissingParameterException")
        try:
            index, limit = int(query.get("index", 0)), int(query.get("limit", 25))
        except ValueError:
            return _error(500, "Wrong parameter: index or limit", "ParameterException")
        if not 1 <= limit <= MAX_LIMIT or index < 0:
            return _error(500, "Wrong parameter: limit", "ParameterException")
        hits = self._matching(q)
        if hits is None:
            return _error(600, "Invalid query", "InvalidQueryException")
        page = hits[index: index + limit]
        out = {"data": [self._search_hit(t) for t in page], "total": len(hits)}
        if index + limit < len(hits):
            out["next"] = f"{self.base}/search/track?{urlencode({'q': q, 'index': index + limit, 'limit': limit})}"
        return out

    def _matching(self, q: str) -> list[DeezerTrack] | None:
        st = self.state
        wanted: dict[str, set[str]] = {}
        durations = {}
        for key, value in _FIELD.findall(q):
            key = key.lower()
            if key in ("dur_min", "dur_max", "bpm_min", "bpm_max"):
                if not value.isdigit():
                    return None
                durations[key] = int(value)
            elif key in ("artist", "track", "album", "label"):
                wanted[key] = _tokens(value.strip('"'))
        free = _tokens(_FIELD.sub(" ", q))
        words = free.union(*wanted.values())
        if not words:
            return []
        candidates = set.intersection(*(st.by_token.get(w, set()) for w in words))
        slots = {"track": 0, "artist": 1, "album": 2}
        out = []
        for track_id in candidates:
            fields = st.index[track_id]
            track = st.catalog.tracks[track_id]
            if any(key in slots and not tokens <= fields[slots[key]] for key, tokens in wanted.items()):
                continue
            if "dur_min" in durations and track.duration < durations["dur_min"]:
                continue
            if "dur_max" in durations and track.duration > durations["dur_max"]:
                continue
            out.append(track)
        return sorted(out, key=lambda t: (-t.rank, t.id))

    # --- objects ---------------------------------------------------------------------------

    def _object(self, kind: str, raw_id: str) -> dict:
        if not raw_id.isdigit():
            return _error(*NO_DATA)
        item_id = int(raw_id)
        cat = self.state.catalog
        if kind == "track" and item_id in self.state.gone:
            return _error(*NO_DATA)
        if kind == "track" and item_id in self.state.relinked:
            # No longer readable here; Deezer names the track it offers instead.
            return {**self._full_track(cat.tracks[item_id]), "readable": False,
                    "alternative": self._full_track(cat.tracks[self.state.relinked[item_id]])}
        if kind == "track" and item_id in cat.tracks:
            return self._full_track(cat.tracks[item_id])
        if kind in ("artist", "album") and self.state.spurious_no_data_rate:
            with self.state.lock:
                spurious = self.state.rng.random() < self.state.spurious_no_data_rate
            if spurious:
                return _error(*NO_DATA)
        if kind == "artist" and item_id in cat.artists:
            return self._artist(item_id, full=True)
        if kind == "album" and item_id in cat.albums:
            return self._album(item_id)
        return _error(*NO_DATA)

    def _track_by_isrc(self, isrc: str) -> dict:
        ids = self.state.catalog.by_isrc.get(isrc.upper())
        if not ids:
            return _error(*NO_DATA)
        return self._full_track(self.state.catalog.tracks[ids[0]])  # one of several, not the caller's choice

    def _artist(self, artist_id: int, full: bool = False) -> dict:
        a = self.state.catalog.artists[artist_id]
        out = {"id": a.id, "name": a.name, "link": f"https://www.deezer.com/artist/{a.id}",
               "picture": f"{self.base}/artist/{a.id}/image", "tracklist": f"{self.base}/artist/{a.id}/top?limit=50",
               "type": "artist"}
        if full:
            out.update(share=f"https://www.deezer.com/artist/{a.id}", nb_album=a.nb_album,
                       nb_fan=moved_on(a.nb_fan, a.id, self.state.day), radio=True)
        return out

    def _album_ref(self, album_id: int) -> dict:
        al = self.state.catalog.albums[album_id]
        return {"id": al.id, "title": al.title, "cover": f"{self.base}/album/{al.id}/image",
                "md5_image": f"{al.id:032x}", "tracklist": f"{self.base}/album/{al.id}/tracks", "type": "album"}

    def _album(self, album_id: int) -> dict:
        al = self.state.catalog.albums[album_id]
        tracks = [t for t in self.state.catalog.tracks.values() if t.album_id == album_id]
        return {**self._album_ref(album_id), "upc": al.upc, "link": f"https://www.deezer.com/album/{al.id}",
                "genre_id": al.genres[0][0],
                "genres": {"data": [{"id": g, "name": n, "picture": f"{self.base}/genre/{g}/image", "type": "genre"}
                                    for g, n in al.genres]},
                "label": al.label, "nb_tracks": len(tracks), "duration": sum(t.duration for t in tracks),
                "fans": al.fans, "release_date": al.release_date, "record_type": al.record_type, "available": True,
                "explicit_lyrics": any(t.explicit_lyrics for t in tracks), "artist": self._artist(al.artist_id),
                "tracks": {"data": [self._search_hit(t) for t in tracks]}}

    def _search_hit(self, t: DeezerTrack) -> dict:
        return {"id": t.id, "readable": True, "title": t.title, "title_short": t.title_short,
                "title_version": t.title_version, "link": f"https://www.deezer.com/track/{t.id}", "duration": t.duration,
                "rank": moved_on(t.rank, t.id, self.state.day), "explicit_lyrics": t.explicit_lyrics,
                "explicit_content_lyrics": int(t.explicit_lyrics),
                "explicit_content_cover": 0, "preview": f"{self.base}/preview/{t.id}.mp3", "md5_image": f"{t.album_id:032x}",
                "artist": self._artist(t.artist_id), "album": self._album_ref(t.album_id), "type": "track"}

    def _full_track(self, t: DeezerTrack) -> dict:
        cat = self.state.catalog
        contributors = [{**self._artist(a), "role": "Main" if a == t.artist_id else "Featured"} for a in t.contributor_ids]
        album = {**self._album_ref(t.album_id), "link": f"https://www.deezer.com/album/{t.album_id}",
                 "release_date": cat.albums[t.album_id].release_date}
        return {**self._search_hit(t), "isrc": t.isrc, "share": f"https://www.deezer.com/track/{t.id}",
                "track_position": 1, "disk_number": 1, "release_date": t.release_date, "bpm": t.bpm, "gain": t.gain,
                "available_countries": ["FR", "DE", "GB", "US"], "contributors": contributors, "album": album}


class DeezerSandboxServer(LoopbackServer):
    """The sandbox on a background thread (tests, benchmarks, the demo)."""

    def __init__(self, state: DeezerState, port: int = 0):
        super().__init__(_Handler, state, port, name="deezer-sandbox")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.standins.deezer_sandbox", description=__doc__.split("\n\n")[0])
    parser.add_argument("--msd", required=True, help="generated MSD sample root (its AdditionalFiles/ holds the identities)")
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--rate-limit", default="50/5s", help="N/Ms: requests per rolling window before code 4")
    parser.add_argument("--busy-rate", type=float, default=0.0, help="share of requests answered code 700")
    parser.add_argument("--seed", type=int, default=DEMO_CATALOG_SEED, help="catalog seed (the default is the demo's)")
    args = parser.parse_args(argv)
    match = re.fullmatch(r"(\d+)/(\d+)s", args.rate_limit)
    if not match:
        parser.error(f"--rate-limit `{args.rate_limit}`: expected N/Ms, such as 50/5s")
    identities = load_identities(args.msd)
    catalog = build_deezer_catalog(identities, build_catalog(identities, seed=args.seed), seed=args.seed)
    state = DeezerState(catalog, rate_limit=int(match.group(1)), rate_window_s=float(match.group(2)),
                        busy_rate=args.busy_rate, seed=args.seed)
    server = DeezerSandboxServer(state, args.port)
    print(f"Deezer sandbox on {server.url}: {len(catalog.tracks)} tracks, {len(catalog.artists)} artists\n"
          f"point the pipeline at it (Deezer needs no key):\n  export MUSIC_ETL_DEEZER_API_URL={server.url}/", flush=True)
    return server.serve_until_interrupted()


if __name__ == "__main__":
    sys.exit(main())
