"""A Spotify Web API sandbox: real HTTP on 127.0.0.1, Spotify's JSON shapes and failure modes.

    python -m pipeline.standins.spotify_sandbox --msd data/msd --port 8765 [--mode extended|development]
        [--latency-ms X] [--rate-limit N/30s] [--daily-quota N] [--fail-rate F] [--expire-tokens-every N]

It serves the subset of the Web API the pipeline uses: the client-credentials token, search,
tracks, artists and audio features, single and batch. ``development`` mode behaves like a
Development-Mode app in 2026 (Spotify's February 2026 Development Mode changes): batch lookups and audio
features answer 403, popularity / followers / genres / available_markets are absent, and
search ``limit`` above 10 is a 400. Both modes can rate-limit (429 + Retry-After over a
rolling 30 s window), run out of a daily quota (429, ``reason: QUOTA_EXCEEDED``, a
Retry-After of many hours), expire tokens (401) and fail at random (5xx).

Search behaves as reported for the real service: a track is found when every word of the query
is in its name, artists or album (case and accents folded; a word is found with or without its
apostrophe), exact matches first and, for free text of three words or more, tracks missing one
word after them, as relevance ranking returns near matches; apostrophes in a field filter
(web-api #1041), ``feat.`` in ``artist:`` (#608) and double-quoted values find nothing; a few
tracks are found by free text but not by filters (#1165).

``GET /sandbox/stats`` (not part of Spotify's API) reports requests by endpoint, so tests and
benchmarks can count what a client spent; every request counts, refused ones (401, 429, 5xx)
and token requests included.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import math
import random
import re
import secrets
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlencode, urlsplit

from pipeline.standins.loopback import LoopbackServer
from pipeline.standins.spotify_catalog import DEMO_CATALOG_SEED, Catalog, CatalogTrack, build_catalog, load_identities, strip_accents

DEV, EXTENDED = "development", "extended"
BATCH_LIMITS = {"tracks": 50, "artists": 50, "audio-features": 100}
_FIELD = re.compile(r"""(\w+):('[^']*'|"[^"]*"|\S+)""")
_TOKEN = re.compile(r"\w+")
_APOSTROPHE = re.compile(r"['\u2019\u2018`]")
_FEAT_IN_FILTER = re.compile(r"\b(?:feat|ft|featuring)\b", re.IGNORECASE)


def _norm_tokens(text: str) -> set[str]:
    # Case and accents fold, as Spotify's search does, and a word is found with or without its
    # apostrophe ("dont" finds "Don't"); punctuation such as "&" is no word.
    return set(_TOKEN.findall(_APOSTROPHE.sub("", strip_accents(text.casefold()))))


class SandboxState:
    """Everything the handler needs; shared by its threads under one lock."""

    def __init__(self, catalog: Catalog, mode: str = EXTENDED, latency_ms: float = 0, rate_limit: int | None = None,
                 rate_window_s: float = 30.0, daily_quota: int | None = None, quota_retry_after: int = 52531,
                 fail_rate: float = 0.0, token_ttl: int = 3600, client_id: str = "sandbox-client",
                 client_secret: str = "sandbox-secret", seed: int = 0, clock: Callable[[], float] = time.monotonic,
                 expire_tokens_every: int | None = None, day: int = 0, throttle_rate: float = 0.0,
                 throttle_until: float | None = None, throttle_retry_after: int = 1):
        if mode not in (DEV, EXTENDED):
            raise ValueError(f"mode must be `{DEV}` or `{EXTENDED}`, not `{mode}`")
        self.catalog, self.mode = catalog, mode
        # The catalog `day` days after the start: popularity moves (where the mode shows it), and
        # tests may relink a track (GET /tracks/{id} answers with another id) or take it away (404).
        self.day = day
        self.relinked: dict[str, str] = {}
        self.gone: set[str] = set()
        self.latency_s = latency_ms / 1000
        self.rate_limit, self.rate_window_s = rate_limit, rate_window_s
        self.clock = clock  # the rate window's time; tests pass one that moves only when the client waits
        self.daily_quota, self.quota_retry_after = daily_quota, quota_retry_after
        self.fail_rate, self.token_ttl = fail_rate, token_ttl
        # 429s of a front door under load, apart from the rolling window: a share of requests at random, and every
        # request until ``throttle_until`` on ``clock`` (a burst), each with a Retry-After of ``throttle_retry_after``.
        self.throttle_rate, self.throttle_until, self.throttle_retry_after = throttle_rate, throttle_until, throttle_retry_after
        # Tokens die early (a long run, a revoked token): every issued token expires after this many API requests.
        self.expire_tokens_every = expire_tokens_every
        self.client_id, self.client_secret = client_id, client_secret
        self.lock = threading.Lock()
        self.rng = random.Random(seed)
        self.tokens: dict[str, float] = {}
        self.recent: deque[float] = deque()
        self.quota_used = 0
        self.requests: Counter[str] = Counter()
        # (endpoint, path with query) of every API request, in arrival order: lets tests prove a request was not repeated
        self.log: list[tuple[str, str]] = []
        self.responses: Counter[str] = Counter()
        self.search_index = {t.id: (_norm_tokens(t.name), [_norm_tokens(catalog.artists[a].name) for a in t.artist_ids],
                              _norm_tokens(t.album_name)) for t in catalog.tracks.values()}
        self.by_token: dict[str, set[str]] = {}  # word → ids of the tracks that hold it anywhere
        for track_id, (name, artists, album) in self.search_index.items():
            for token in name.union(album, *artists):
                self.by_token.setdefault(token, set()).add(track_id)

    def expire_tokens(self) -> None:
        """Make every issued token expired (what a long run sees after an hour)."""
        with self.lock:
            for token in self.tokens:
                self.tokens[token] = 0.0

    def stats(self) -> dict:
        with self.lock:
            return {"requests": dict(self.requests), "responses": dict(self.responses), "quota_used": self.quota_used,
                    "mode": self.mode}


def _drift(value: int, item_id: str, day: int, step: int) -> int:
    """``value`` ``day`` days on, at a pace of the item's own (the same on every run)."""
    return max(0, value + day * (int(hashlib.sha1(item_id.encode()).hexdigest()[:4], 16) % 11 - 5) * step)


def _error(status: int, message: str | None = None, reason: str | None = None) -> dict:
    body: dict = {"status": status}
    if message is not None:
        body["message"] = message
    if reason is not None:
        body["reason"] = reason
    return {"error": body}


class _Handler(BaseHTTPRequestHandler):
    server_version = "SpotifySandbox/1"
    state: SandboxState  # set on the subclass made per server

    def log_message(self, *args):  # quiet: tests and the demo read stats, not access logs
        pass

    # --- plumbing --------------------------------------------------------------------

    def _send(self, status: int, payload: dict | None, headers: dict | None = None) -> None:
        body = json.dumps(payload).encode() if payload is not None else b""
        # Counted before it is sent: a client that has its answer must find it in /sandbox/stats.
        with self.state.lock:
            self.state.responses[str(status)] += 1
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    @property
    def base(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def do_POST(self):  # noqa: N802
        if urlsplit(self.path).path != "/api/token":
            return self._send(404, _error(404, "Service not found"))
        length = int(self.headers.get("Content-Length") or 0)
        form = parse_qs(self.rfile.read(length).decode())
        self._count("token")
        auth = self.headers.get("Authorization", "")
        expected = base64.b64encode(f"{self.state.client_id}:{self.state.client_secret}".encode()).decode()
        if form.get("grant_type") != ["client_credentials"]:
            return self._send(400, {"error": "unsupported_grant_type", "error_description": "grant_type must be client_credentials"})
        if auth != f"Basic {expected}":
            return self._send(400, {"error": "invalid_client", "error_description": "Invalid client"})
        token = secrets.token_urlsafe(24)
        with self.state.lock:
            self.state.tokens[token] = time.time() + self.state.token_ttl
        self._send(200, {"access_token": token, "token_type": "Bearer", "expires_in": self.state.token_ttl})

    def _count(self, endpoint: str) -> None:
        with self.state.lock:
            self.state.requests[endpoint] += 1

    def do_GET(self):  # noqa: N802
        url = urlsplit(self.path)
        if url.path == "/sandbox/stats":
            return self._send(200, self.state.stats())
        route = self._route(url.path, parse_qs(url.query))
        if route is None:
            return self._send(404, _error(404, "Service not found"))
        endpoint, handler = route
        self._count(endpoint)
        with self.state.lock:
            self.state.log.append((endpoint, self.path))
        if self.state.latency_s:
            time.sleep(self.state.latency_s)
        refusal = self._gatekeeper()
        if refusal:
            return self._send(*refusal)
        status, payload = handler()
        self._send(status, payload)

    def _gatekeeper(self):
        """Auth, then the failure modes, in the order Spotify's front door would apply them."""
        st = self.state
        token = self.headers.get("Authorization", "").removeprefix("Bearer ")
        with st.lock:
            expiry = st.tokens.get(token)
            if expiry is None:
                return 401, _error(401, "Invalid access token")
            if expiry < time.time():
                return 401, _error(401, "The access token expired")
            if st.daily_quota is not None and st.quota_used >= st.daily_quota:
                return 429, _error(429, "Too many requests", "QUOTA_EXCEEDED"), {"Retry-After": str(st.quota_retry_after)}
            now = st.clock()
            if (st.throttle_until is not None and now < st.throttle_until) or \
                    (st.throttle_rate and st.rng.random() < st.throttle_rate):
                return 429, _error(429, "API rate limit exceeded"), {"Retry-After": str(st.throttle_retry_after)}
            while st.recent and st.recent[0] <= now - st.rate_window_s:
                st.recent.popleft()
            if st.rate_limit is not None and len(st.recent) >= st.rate_limit:
                wait = math.ceil(st.recent[0] + st.rate_window_s - now)
                return 429, _error(429, "API rate limit exceeded"), {"Retry-After": str(max(wait, 1))}
            st.recent.append(now)
            st.quota_used += 1
            if st.expire_tokens_every and st.quota_used % st.expire_tokens_every == 0:
                for issued in st.tokens:
                    st.tokens[issued] = 0.0
            if st.fail_rate and st.rng.random() < st.fail_rate:
                status = st.rng.choice([500, 502, 503])
                return status, _error(status, "Service unavailable" if status == 503 else "Server error")
        return None

    # --- API ---------------------------------------------------------------------------

    def _route(self, path: str, query: dict):
        one = lambda name: (query.get(name) or [None])[0]  # noqa: E731
        parts = path.strip("/").split("/")
        if len(parts) < 2 or parts[0] != "v1":
            return None
        kind = parts[1]
        if kind == "search" and len(parts) == 2:
            return "search", lambda: self._search(one("q"), one("type"), one("limit"), one("offset"))
        if kind in BATCH_LIMITS and len(parts) == 3:
            return kind.rstrip("s") if kind != "audio-features" else "audio-feature", lambda: self._single(kind, parts[2])
        if kind in BATCH_LIMITS and len(parts) == 2:
            return kind, lambda: self._batch(kind, one("ids"))
        return None

    def _search(self, q, kind, limit, offset):
        st = self.state
        if not q or not kind:
            return 400, _error(400, "No search query" if not q else "Missing parameter type")
        if "track" not in kind.split(","):
            return 400, _error(400, "Only type=track is served by the sandbox")
        try:
            limit = int(limit) if limit is not None else (5 if st.mode == DEV else 20)
            offset = int(offset or 0)
        except ValueError:
            return 400, _error(400, "Invalid limit")
        if not 1 <= limit <= (10 if st.mode == DEV else 50):
            return 400, _error(400, "Invalid limit")
        if not 0 <= offset <= 1000:
            return 400, _error(400, "Invalid offset")
        hits = self._matching(q)
        page = hits[offset: offset + limit]

        def link(off):
            return f"{self.base}/v1/search?{urlencode({'query': q, 'type': kind, 'offset': off, 'limit': limit})}"
        return 200, {"tracks": {
            "href": link(offset), "items": [self._track(t) for t in page], "limit": limit,
            "next": link(offset + limit) if offset + limit < len(hits) else None,
            "offset": offset, "previous": link(max(0, offset - limit)) if offset else None, "total": len(hits)}}

    def _matching(self, q: str) -> list[CatalogTrack]:
        """Tracks a query finds, best first: every word found, then (free text of three words or
        more) all words but one, as Spotify's relevance ranking returns near matches after exact ones."""
        st = self.state
        filters = []
        for key, value in _FIELD.findall(q):
            if value.startswith('"'):
                # Observed since 2025: double-quoted field values find nothing; single quotes work.
                return []
            value = value.strip("'")
            if _APOSTROPHE.search(value) or (key.lower() == "artist" and _FEAT_IN_FILTER.search(value)):
                return []  # reported: apostrophes in filters (web-api #1041, #1212), feat. in artist: (#608)
            filters.append((key.lower(), value))
        free = _norm_tokens(_FIELD.sub(" ", q))
        words = free | {w for key, value in filters if key in ("track", "artist", "album") for w in _norm_tokens(value)}
        if not words and not filters:
            return []
        exact = set.intersection(*(st.by_token.get(w, set()) for w in words)) if words else set(st.search_index)
        near: set[str] = set()
        if not filters and len(words) >= 3:
            for left_out in words:
                rest = [st.by_token.get(w, set()) for w in words if w != left_out]
                near |= set.intersection(*rest) - exact

        def ok(track_id: str) -> bool:
            track = st.catalog.tracks[track_id]
            if filters and track.filter_hidden:
                return False
            name, artists, album = st.search_index[track_id]
            return all(self._filter_ok(track, key, value, name, artists, album) for key, value in filters)

        def ranked(ids: set[str]) -> list[CatalogTrack]:
            return sorted((st.catalog.tracks[i] for i in ids if ok(i)), key=lambda t: (-t.popularity, t.id))
        return ranked(exact) + ranked(near)

    @staticmethod
    def _filter_ok(track, key, value, name, artists, album) -> bool:
        wanted = _norm_tokens(value)
        if key == "track":
            return wanted <= name
        if key == "artist":
            return any(wanted <= a for a in artists)
        if key == "album":
            return wanted <= album
        if key == "year":
            year = int(track.release_date[:4])
            low, _, high = value.partition("-")
            return low.isdigit() and int(low) <= year <= int(high or low)
        if key == "isrc":
            return value.upper() == track.isrc
        return False

    def _single(self, kind: str, item_id: str):
        obj = self._lookup(kind, item_id)
        if kind == "audio-features" and self.state.mode == DEV:
            return 403, _error(403)  # Spotify sends no message here
        if obj is None:
            return (400, _error(400, "Invalid base62 id")) if not re.fullmatch(r"[0-9A-Za-z]{22}", item_id) else (
                404, _error(404, "Resource not found"))
        return 200, obj

    def _batch(self, kind: str, ids: str | None):
        if self.state.mode == DEV:
            return 403, (_error(403) if kind == "audio-features" else _error(403, "Forbidden"))
        wanted = [i for i in (ids or "").split(",") if i]
        if not wanted:
            return 400, _error(400, "invalid request")
        if len(wanted) > BATCH_LIMITS[kind]:
            return 400, _error(400, "Too many ids requested")
        key = kind.replace("-", "_")
        return 200, {key: [self._lookup(kind, i) for i in wanted]}

    def _lookup(self, kind: str, item_id: str):
        cat = self.state.catalog
        if kind == "tracks":
            if item_id in self.state.gone:
                return None
            item_id = self.state.relinked.get(item_id, item_id)
            return self._track(cat.tracks[item_id]) if item_id in cat.tracks else None
        if kind == "artists":
            return self._artist(item_id) if item_id in cat.artists else None
        track = cat.tracks.get(item_id)
        if track is None:
            return None
        return {**track.features, "type": "audio_features", "id": track.id, "uri": f"spotify:track:{track.id}",
                "track_href": f"{self.base}/v1/tracks/{track.id}",
                "analysis_url": f"{self.base}/v1/audio-analysis/{track.id}", "duration_ms": track.duration_ms}

    def _simple_artist(self, artist_id: str) -> dict:
        a = self.state.catalog.artists[artist_id]
        return {"id": a.id, "name": a.name, "type": "artist", "uri": f"spotify:artist:{a.id}",
                "href": f"{self.base}/v1/artists/{a.id}", "external_urls": {"spotify": f"https://open.spotify.com/artist/{a.id}"}}

    def _artist(self, artist_id: str) -> dict:
        a = self.state.catalog.artists[artist_id]
        obj = {**self._simple_artist(artist_id), "images": []}
        if self.state.mode == EXTENDED:
            obj.update(popularity=min(100, _drift(a.popularity, a.id, self.state.day, 1)),
                       followers={"href": None, "total": _drift(a.followers, a.id, self.state.day, 100)}, genres=a.genres)
        return obj

    def _track(self, t: CatalogTrack) -> dict:
        artists = [self._simple_artist(a) for a in t.artist_ids]
        album = {"id": t.album_id, "name": t.album_name, "album_type": "album", "total_tracks": 12,
                 "release_date": t.release_date, "release_date_precision": t.release_date_precision,
                 "artists": artists[:1], "images": [], "type": "album", "uri": f"spotify:album:{t.album_id}",
                 "href": f"{self.base}/v1/albums/{t.album_id}", "external_urls": {"spotify": f"https://open.spotify.com/album/{t.album_id}"}}
        obj = {"id": t.id, "name": t.name, "duration_ms": t.duration_ms, "explicit": t.explicit,
               "external_ids": {"isrc": t.isrc}, "artists": artists, "album": album, "disc_number": 1,
               "track_number": 1, "is_local": False, "preview_url": None, "type": "track", "uri": f"spotify:track:{t.id}",
               "href": f"{self.base}/v1/tracks/{t.id}", "external_urls": {"spotify": f"https://open.spotify.com/track/{t.id}"}}
        if self.state.mode == EXTENDED:
            obj.update(popularity=min(100, _drift(t.popularity, t.id, self.state.day, 1)),
                       available_markets=["US", "GB", "DE"])
            album["available_markets"] = ["US", "GB", "DE"]
        return obj


class SandboxServer(LoopbackServer):
    """The sandbox on a background thread (tests, benchmarks, the demo)."""

    def __init__(self, state: SandboxState, port: int = 0):
        super().__init__(_Handler, state, port, name="spotify-sandbox")


def _parse_rate(text: str | None) -> tuple[int | None, float]:
    if not text:
        return None, 30.0
    m = re.fullmatch(r"(\d+)/(\d+)s", text)
    if not m:
        raise argparse.ArgumentTypeError(f"--rate-limit `{text}`: expected N/30s (requests per window)")
    return int(m.group(1)), float(m.group(2))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.standins.spotify_sandbox", description=__doc__.split("\n\n")[0])
    parser.add_argument("--msd", required=True, help="generated MSD sample root (its AdditionalFiles/ holds the identities)")
    parser.add_argument("--port", type=int, default=8765, help="port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--mode", choices=[EXTENDED, DEV], default=DEV,
                        help="what the app may see (development: 2026's default for new apps, as in make demo)")
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--rate-limit", default=None, help="N/30s: at most N requests per rolling window")
    parser.add_argument("--daily-quota", type=int, default=None, help="requests before QUOTA_EXCEEDED")
    parser.add_argument("--fail-rate", type=float, default=0.0, help="share of requests answered 5xx")
    parser.add_argument("--token-ttl", type=int, default=3600)
    parser.add_argument("--expire-tokens-every", type=int, default=None, help="tokens die after this many API requests")
    parser.add_argument("--seed", type=int, default=DEMO_CATALOG_SEED,
                        help="catalog and fault seed (the default builds the catalog make demo uses)")
    parser.add_argument("--ground-truth", default=None, help="write the MSD → Spotify ground truth (JSON) here")
    args = parser.parse_args(argv)
    rate, window = _parse_rate(args.rate_limit)
    catalog = build_catalog(load_identities(args.msd), seed=args.seed)
    if args.ground_truth:
        catalog.write_ground_truth(args.ground_truth)
    state = SandboxState(catalog, mode=args.mode, latency_ms=args.latency_ms, rate_limit=rate, rate_window_s=window,
                         daily_quota=args.daily_quota, fail_rate=args.fail_rate, token_ttl=args.token_ttl, seed=args.seed,
                         expire_tokens_every=args.expire_tokens_every)
    server = SandboxServer(state, args.port)
    print(f"Spotify sandbox ({args.mode}) on {server.url}: {len(catalog.tracks)} tracks, {len(catalog.artists)} artists\n"
          f"point the pipeline at it (these are the sandbox's own credentials, not a real app's):\n"
          f"  export MUSIC_ETL_SPOTIFY_API_URL={server.url}/v1/ MUSIC_ETL_SPOTIFY_TOKEN_URL={server.url}/api/token\n"
          f"  export SPOTIPY_CLIENT_ID={state.client_id} SPOTIPY_CLIENT_SECRET={state.client_secret}", flush=True)
    return server.serve_until_interrupted()


if __name__ == "__main__":
    sys.exit(main())
