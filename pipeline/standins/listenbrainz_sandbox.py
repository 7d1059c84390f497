"""A ListenBrainz API sandbox: real HTTP on 127.0.0.1, ListenBrainz's JSON shapes, errors and rate limits.

    python -m pipeline.standins.listenbrainz_sandbox --msd data/msd --port 8767 [--rate-limit 30/10s]

It serves a ``MusicBrainzWorld`` (``pipeline/standins/musicbrainz_world.py``) the way
``listenbrainz/webserver/views/popularity_api.py`` and ``metadata_api.py`` serve MusicBrainz and ListenBrainz
data (metabrainz/listenbrainz-server at 0a119846, 2026-08-21):

* ``POST /1/popularity/recording`` ``{"recording_mbids": [...]}`` and ``POST /1/popularity/artist``
  ``{"artist_mbids": [...]}``: a list in input order of ``{"recording_mbid"|"artist_mbid", "total_listen_count",
  "total_user_count"}``, the id echoed as sent, both counts null for an id without counts (never listened, merged
  away, not canonical). Counts are the day's (``today()``). No token needed, as at that commit
  (``popularity_needs_token=True`` plays the day it comes back).
* ``POST /1/metadata/recording/`` ``{"recording_mbids": [...], "inc": "artist release tag"}``: an object keyed by
  the (lower-case) MBID of every recording MusicBrainz holds, canonical or not: ``recording`` (name, rels, isrcs,
  length in ms when known, ``first_release_date`` ``YYYY-MM-DD`` only when the whole date is known: the cache
  joins year, month and day with ``||``, so a partial date gives none), and as ``inc`` asks ``artist`` (credit
  name, artist_credit_id, artists with artist_mbid, join_phrase, type, area…), ``release`` (the canonical
  release: mbid, name, release_group_mbid, ``year`` of its first release date when known…) and ``tag``
  (``{"recording": [...], "artist": [...], "release_group": [...]}``, each ``{tag, count}`` plus ``genre_mbid``
  for a tag MusicBrainz lists as a genre, artist tags with their ``artist_mbid``; empty lists for none). Ids it
  does not hold, merged-away ones included (``mb_metadata_cache`` has no redirects), are left out. ``GET`` with
  ``?recording_mbids=a,b&inc=…`` too.
* ``POST /1/metadata/lookup/`` ``{"recordings": [{"artist_name", "recording_name", "release_name"?}]}`` (50 at
  most, a token required): a list in input order; each item echoes ``artist_name_arg``, ``recording_name_arg``,
  ``release_name_arg`` (null when not sent) and ``index``, and a match adds ``recording_mbid``,
  ``recording_name``, ``release_mbid``, ``release_name``, ``artist_mbids``, ``artist_credit_name``,
  ``artist_credit_id`` and ``recording_arg`` (the server's exclude list misses that one). No match: the echo
  alone. Stages as the server runs them: artist + recording + release exact key (when a release is sent), the
  canonical data's combined key, then the fuzzy mapper (``match_type`` added). At 0a119846 the fuzzy stage of
  the bulk POST returns nothing (``MBIDMappingQuery.fetch`` "Disable temporarily"); ``fuzzy_lookup=False`` plays
  that. ``GET /1/metadata/lookup/?artist_name=…&recording_name=…`` answers one match, or ``{}``.
* Every answer of these endpoints carries brainzutils' ``X-RateLimit-Limit``, ``-Remaining``, ``-Reset-In`` and
  ``-Reset``: fixed windows aligned to the clock, counted per client address, or per token for a known token
  (``Authorization: Token <token>``); past the limit 429 ``{"code": 429, "error": …}``. 400 ``{"code": 400,
  "error": …}`` names the invalid id as the server does ("recording_mbid X is not valid."), and refuses more
  than 1000 ids (50 lookups), an empty list, a body that is not JSON; 401 for a missing or unknown token.

``GET /sandbox/stats`` (not ListenBrainz's) counts requests by endpoint, items asked, and refusals;
``ListenBrainzState.fail_next`` makes the next answers of an endpoint 429, 500 or 503 (tests).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict, deque
from collections.abc import Callable
from datetime import date
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlsplit

from pipeline.standins.loopback import LoopbackServer
from pipeline.standins.musicbrainz_world import DEMO_SEED, GENRES, MusicBrainzWorld, WorldRecording, build_world, is_uuid

SANDBOX_TOKEN = "sandbox-listenbrainz-token"
MAX_ITEMS_PER_GET = 1000  # listenbrainz/webserver/views/api_tools.py
MAX_LOOKUPS_PER_POST = 50  # metadata_api.py
MAX_MAPPING_QUERY_LENGTH = 250
ALLOWED_INCS = ("artist", "tag", "release", "recording", "release_group")
ENDPOINTS = {"/1/popularity/recording": "popularity_recording", "/1/popularity/artist": "popularity_artist",
             "/1/metadata/recording/": "metadata_recording", "/1/metadata/lookup/": "metadata_lookup"}
RATE_LIMITED_MESSAGE = ("You have exceeded your rate limit. See the X-RateLimit-* response headers for more "
                        "information on your current rate limit.")
EXPENSIVE_ENDPOINT_MESSAGE = ("Due to bad actors and AI scrapers causing undue traffic on our sites, you need to "
                              "provide an Auth token for this endpoint. Sorry for this mess.")
UNKNOWN_ERROR = "An unknown error occured."  # sic: listenbrainz/webserver/errors.py
NOT_FOUND = ("The requested URL was not found on the server. If you entered the URL manually please check your "
             "spelling and try again.")


class ApiError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


class ListenBrainzState:
    """What the handler threads share, under one lock. ``rate_limit`` (per client address) and
    ``token_rate_limit`` (per known token) are (requests, window seconds), None for no limit; ``today`` says
    which day's counts the popularity endpoints answer; ``clock`` (epoch seconds) places the rate windows."""

    def __init__(self, world: MusicBrainzWorld, rate_limit: tuple[int, float] | None = (30, 10.0),
                 token_rate_limit: tuple[int, float] | None = (50, 10.0), tokens: set[str] | None = None,
                 lookup_needs_token: bool = True, popularity_needs_token: bool = False,
                 today: Callable[[], date] = date.today, fuzzy_lookup: bool = True,
                 clock: Callable[[], float] = time.time):
        self.world = world
        self.rate_limit, self.token_rate_limit = rate_limit, token_rate_limit
        self.tokens = {SANDBOX_TOKEN} if tokens is None else set(tokens)
        self.lookup_needs_token, self.popularity_needs_token = lookup_needs_token, popularity_needs_token
        self.today, self.fuzzy_lookup, self.clock = today, fuzzy_lookup, clock
        self.lock = threading.Lock()
        self.requests: Counter[str] = Counter()
        self.items: Counter[str] = Counter()  # ids or lookups asked, by endpoint
        self.rejected: Counter[int] = Counter()  # 429, 400, 401 and the injected 5xx
        self.windows: dict[tuple[str, int], int] = {}  # (client key, window end) -> requests counted
        self.failures: dict[str, deque[int]] = defaultdict(deque)
        self.log: list[tuple[str, int]] = []  # (endpoint, status) in arrival order

    def fail_next(self, endpoint: str, status: int, times: int = 1) -> None:
        """The next ``times`` requests to ``endpoint`` (``popularity_recording``, …) answer ``status`` (429 with
        the rate-limit headers, 500 as the Flask app does, 503 as the gateway does)."""
        if endpoint not in ENDPOINTS.values():
            raise ValueError(f"endpoint `{endpoint}`: one of {', '.join(ENDPOINTS.values())}")
        with self.lock:
            self.failures[endpoint].extend([status] * times)

    def stats(self) -> dict:
        with self.lock:
            return {"requests": dict(self.requests), "items": dict(self.items),
                    "rejected_429": self.rejected[429], "rejected_400": self.rejected[400],
                    "rejected_401": self.rejected[401],
                    "injected_5xx": sum(n for status, n in self.rejected.items() if status >= 500)}

    def count_window(self, key: str, limit: int, window_s: float) -> dict[str, int]:
        """brainzutils' RateLimit: a counter per key and fixed window (aligned to the clock), counted even past
        the limit; over it when the count exceeds the limit."""
        per = max(1, int(round(window_s)))
        now = int(self.clock())
        reset = (now // per) * per + per
        with self.lock:
            for stale in [k for k in self.windows if k[1] < now]:
                del self.windows[stale]
            current = self.windows.get((key, reset), 0) + 1
            self.windows[(key, reset)] = current
        return {"limit": limit, "current": current, "remaining": max(limit - current, 0), "reset": reset,
                "reset_in": reset - now}


class _Handler(BaseHTTPRequestHandler):
    server_version = "ListenBrainzSandbox/1"
    state: ListenBrainzState
    _body = b""

    def log_message(self, *args):
        pass

    # --- plumbing ---

    def _send(self, status: int, payload, rate: dict | None = None, content_type: str = "application/json") -> None:
        if content_type == "application/json":
            body = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()  # as Flask's jsonify
        else:
            body = payload.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Access-Control-Allow-Origin", "*")
        if rate is not None:
            self.send_header("Access-Control-Expose-Headers",
                             "X-RateLimit-Remaining,X-RateLimit-Limit,X-RateLimit-Reset,X-RateLimit-Reset-In")
            self.send_header("X-RateLimit-Remaining", str(rate["remaining"]))
            self.send_header("X-RateLimit-Limit", str(rate["limit"]))
            self.send_header("X-RateLimit-Reset", str(rate["reset"]))
            self.send_header("X-RateLimit-Reset-In", str(rate["reset_in"]))
        self.end_headers()
        self.wfile.write(body)

    def _token(self) -> str | None:
        header = self.headers.get("Authorization")
        if not header:
            return None
        parts = header.split(" ")
        return parts[1] if len(parts) > 1 else ""

    def _rate(self) -> dict:
        st = self.state
        token = self._token()
        if token and token in st.tokens and st.token_rate_limit is not None:
            limit, window = st.token_rate_limit
            key = f"token:{token}"
        else:
            limit, window = st.rate_limit if st.rate_limit is not None else (10**9, 10.0)
            key = f"ip:{self.client_address[0]}"
        return st.count_window(key, limit, window)

    def _authorize(self, message_for_missing: str | None = None) -> None:
        """validate_auth_header: the header, its second word, a token the server knows."""
        header = self.headers.get("Authorization")
        if not header:
            raise ApiError(401, message_for_missing or "You need to provide an Authorization header.")
        parts = header.split(" ")
        if len(parts) < 2:
            raise ApiError(401, message_for_missing or "Provided Authorization header is invalid.")
        if parts[1] not in self.state.tokens:
            raise ApiError(401, message_for_missing or "Invalid authorization token.")

    def _json_body(self):
        raw = self._body
        if "json" not in (self.headers.get("Content-Type") or ""):
            raise ApiError(415, "Did not attempt to load JSON data because the request Content-Type was not "
                                "'application/json'.")
        try:
            return json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ApiError(400, f"Failed to decode JSON object: {exc}") from None

    # --- dispatch ---

    def do_GET(self):  # noqa: N802
        url = urlsplit(self.path)
        if url.path == "/sandbox/stats":
            return self._send(200, self.state.stats())
        self._dispatch("GET", url.path, {k: v[0] for k, v in parse_qs(url.query).items()})

    def do_POST(self):  # noqa: N802
        # Read whole before any answer: closing on an unread body can reset the connection under the client.
        length = int(self.headers.get("Content-Length") or 0)
        self._body = self.rfile.read(length) if length else b""
        self._dispatch("POST", urlsplit(self.path).path, {})

    def _dispatch(self, method: str, path: str, query: dict) -> None:
        st = self.state
        if path + "/" in ENDPOINTS and path.startswith("/1/metadata/"):
            # Flask's strict slashes: the route ends in "/", a path without it is redirected, method kept.
            location = path + "/" + (f"?{urlsplit(self.path).query}" if urlsplit(self.path).query else "")
            self.send_response(308)
            self.send_header("Location", location)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        endpoint = ENDPOINTS.get(path)
        if endpoint is None:
            return self._send(404, {"code": 404, "error": NOT_FOUND})
        if method == "GET" and endpoint.startswith("popularity"):
            return self._send(405, {"code": 405, "error": "The method is not allowed for the requested URL."})
        with st.lock:
            st.requests[endpoint] += 1
            injected = st.failures[endpoint].popleft() if st.failures[endpoint] else None
        rate = self._rate()
        status, payload, content_type = 200, None, "application/json"
        try:
            if injected is not None:
                raise ApiError(injected, "injected")
            if rate["current"] > rate["limit"]:
                raise ApiError(429, RATE_LIMITED_MESSAGE)
            payload = getattr(self, f"_{endpoint}")(method, query)
        except ApiError as exc:
            status = exc.status
            if status == 429:
                payload = {"code": 429, "error": RATE_LIMITED_MESSAGE}
            elif status >= 502:  # from the gateway in front of the app, not JSON
                payload, content_type = f"<html><body><h1>{status} Service Temporarily Unavailable</h1></body></html>", "text/html"
            elif status == 415:
                payload, content_type = f"<!doctype html>\n<title>415 Unsupported Media Type</title>\n<p>{exc.message}</p>\n", "text/html"
            elif status == 500 and exc.message == "injected":
                payload = {"code": 500, "error": "Failed to fetch metadata for recordings. Please try again."}
            else:
                payload = {"code": status, "error": exc.message}
        except (AttributeError, TypeError, KeyError):  # what the Flask views do with a body of the wrong shape
            status, payload = 500, {"code": 500, "error": UNKNOWN_ERROR}
        with st.lock:
            if status != 200:
                st.rejected[status] += 1
            st.log.append((endpoint, status))
        self._send(status, payload, rate, content_type)

    # --- popularity ---

    def _ids(self, body, key: str, entity: str) -> list[str]:
        try:
            ids = body[key]
        except (KeyError, TypeError):
            raise ApiError(400, f"{key} JSON element must be present and contain a list of {key}") from None
        for mbid in ids:
            if not is_uuid(mbid):
                raise ApiError(400, f"{entity}_mbid {mbid} is not valid.")
        if len(ids) == 0:
            raise ApiError(400, f"At least one valid {entity}_mbid must be present.")
        return ids

    def _popularity(self, entity: str) -> list[dict]:
        body = self._json_body()
        key = f"{entity}_mbids"
        ids = self._ids(body, key, entity)
        if len(ids) > MAX_ITEMS_PER_GET:
            raise ApiError(400, f"Maximum number of {key} that can be fetched at once is {MAX_ITEMS_PER_GET}")
        if self.state.popularity_needs_token:
            self._authorize(EXPENSIVE_ENDPOINT_MESSAGE)
        with self.state.lock:
            self.state.items[f"popularity_{entity}"] += len(ids)
        day = self.state.today()
        world = self.state.world
        counts = world.recording_popularity if entity == "recording" else world.artist_popularity
        out = []
        for mbid in ids:
            found = counts(mbid, day)
            out.append({key[:-1]: mbid, "total_listen_count": found[0] if found else None,
                        "total_user_count": found[1] if found else None})
        return out

    def _popularity_recording(self, method: str, query: dict) -> list[dict]:
        return self._popularity("recording")

    def _popularity_artist(self, method: str, query: dict) -> list[dict]:
        return self._popularity("artist")

    # --- metadata ---

    @staticmethod
    def _incs(value) -> list[str]:
        if not value:
            return []
        if not isinstance(value, str):
            raise ApiError(400, "inc must be a string")
        incs = value.split()
        for inc in incs:
            if inc not in ALLOWED_INCS:
                raise ApiError(400, f"invalid inc argument '{inc}'. Must be one of {', '.join(ALLOWED_INCS)}.")
        return incs

    def _metadata_recording(self, method: str, query: dict) -> dict:
        if method == "GET":
            incs = self._incs(query.get("inc"))
            if "recording_mbids" not in query:
                raise ApiError(400, "recording_mbids argument must be present and contain a comma separated list "
                                    "of recording_mbids")
            ids = []
            for mbid in query["recording_mbids"].split(","):
                if not is_uuid(mbid.strip()):
                    raise ApiError(400, f"Recording mbid {mbid} is not valid.")
                ids.append(mbid.strip())
        else:
            body = self._json_body()
            incs = self._incs(body.get("inc"))
            if "recording_mbids" not in body:
                raise ApiError(400, "recording_mbids JSON element must be present and contain a list of recording_mbids")
            ids = body["recording_mbids"]
            for mbid in ids:
                if not is_uuid(mbid):
                    raise ApiError(400, f"recording_mbid {mbid} is not valid.")
            if len(ids) == 0:
                raise ApiError(400, "At least one valid recording_mbid must be present.")
            if len(ids) > MAX_ITEMS_PER_GET:
                raise ApiError(400, f"Maximum number of recordings_mbids that can be fetched at once is {MAX_ITEMS_PER_GET}")
        with self.state.lock:
            self.state.items["metadata_recording"] += len(ids)
        out = {}
        for mbid in ids:
            rec = self.state.world.recording(str(uuid.UUID(mbid)))
            if rec is not None:
                out[rec.mbid] = metadata(self.state.world, rec, incs)
        return out

    # --- lookup ---

    def _match(self, artist: str, recording: str, release: str | None) -> dict | None:
        found = self.state.world.lookup(artist, recording, release, fuzzy=self.state.fuzzy_lookup)
        if found is None:
            return None
        row, stage = found
        out = {"artist_credit_name": row.artist_credit_name, "artist_credit_id": row.artist_credit_id,
               "artist_mbids": list(row.artist_mbids), "recording_mbid": row.recording_mbid,
               "recording_name": row.recording_name, "release_mbid": row.release_mbid,
               "release_name": row.release_name, "recording_arg": recording}
        if stage == "fuzzy":
            out["match_type"] = 3  # MATCH_TYPE_HIGH_QUALITY
        return out

    def _metadata_lookup(self, method: str, query: dict):
        if self.state.lookup_needs_token:
            self._authorize()
        if method == "GET":
            artist, recording, release = query.get("artist_name"), query.get("recording_name"), query.get("release_name")
            if not artist:
                raise ApiError(400, "artist_name is invalid or not present in arguments")
            if not recording:
                raise ApiError(400, "recording_name is invalid or not present in arguments")
            if len(artist) + len(recording) + len(release or "") > MAX_MAPPING_QUERY_LENGTH:
                raise ApiError(400, f"total number of characters in artist_name, recording_name and release_name"
                                    f" arguments must be less than {MAX_MAPPING_QUERY_LENGTH}")
            with self.state.lock:
                self.state.items["metadata_lookup"] += 1
            match = self._match(artist, recording, release)
            if match is None:
                return {}
            # process_results: these six, nothing echoed
            return {k: match[k] for k in ("recording_mbid", "release_mbid", "artist_mbids", "recording_name",
                                          "release_name", "artist_credit_name")}
        body = self._json_body()
        recordings = body.get("recordings", [])
        if not recordings:
            raise ApiError(400, "recordings is invalid or not present in body")
        if len(recordings) > MAX_LOOKUPS_PER_POST:
            raise ApiError(400, f"Number of recordings in request body exceeds maximum permitted. ({MAX_LOOKUPS_PER_POST})")
        results = []
        for idx, item in enumerate(recordings):
            artist, recording, release = item.get("artist_name"), item.get("recording_name"), item.get("release_name")
            if not artist:
                raise ApiError(400, f"Recording {idx} artist_name is invalid or not present")
            if not recording:
                raise ApiError(400, f"Recording {idx} recording_name is invalid or not present")
            if len(artist) + len(recording) + len(release or "") > MAX_MAPPING_QUERY_LENGTH:
                raise ApiError(400, f"Recording {idx} total number of characters in artist_name, recording_name and"
                                    f" release_name arguments must be less than {MAX_MAPPING_QUERY_LENGTH}")
            results.append({"artist_name_arg": artist, "recording_name_arg": recording, "release_name_arg": release,
                            "index": idx})
        with self.state.lock:
            self.state.items["metadata_lookup"] += len(recordings)
        for item, result in zip(recordings, results, strict=True):
            match = self._match(item["artist_name"], item["recording_name"], item.get("release_name"))
            if match is not None:
                result.update(match)
        return results


_GENRE_NAMESPACE = uuid.UUID("1d8ff0b4-4c5e-4c1e-9e2a-6f7f0c2b9a11")


def metadata(world: MusicBrainzWorld, rec: WorldRecording, incs: list[str]) -> dict:
    """One recording as ``fetch_metadata`` answers it (``mbid_mapping/mapping/mb_metadata_cache.py`` shapes)."""
    recording = {"name": rec.name, "rels": [], "isrcs": list(rec.isrcs)}
    if rec.first_release_date:
        recording["first_release_date"] = rec.first_release_date
    if rec.length_ms:
        recording["length"] = rec.length_ms
    out: dict = {"recording": recording}
    if "artist" in incs:
        artists = []
        for mbid, (name, join) in zip(rec.artist_mbids, rec.artist_names, strict=True):
            artist = world.artists[mbid]
            data = {"name": name, "join_phrase": join, "artist_mbid": mbid}
            if artist.begin_year is not None:
                data["begin_year"] = artist.begin_year
            data["type"] = artist.type
            if artist.area is not None:
                data["area"] = artist.area
            if artist.type == "Person":
                data["gender"] = artist.gender
            artists.append(data)
        out["artist"] = {"name": rec.artist_credit_name, "artist_credit_id": rec.artist_credit_id, "artists": artists}
    if "tag" in incs:
        def tag(name: str, count: int) -> dict:
            # MusicBrainz's genres carry their id; a free tag ("seen live") has none (a LEFT JOIN on genre there).
            return {"tag": name, "count": count, **({"genre_mbid": str(uuid.uuid5(_GENRE_NAMESPACE, name))}
                                                    if name in GENRES else {})}

        out["tag"] = {"recording": [tag(t, c) for t, c in rec.tags],
                      "artist": [{**tag(t, c), "artist_mbid": m} for m in dict.fromkeys(rec.artist_mbids)
                                 for t, c in world.artist_tags.get(m, [])],
                      "release_group": [tag(t, c) for t, c in
                                        world.release_group_tags.get(world.releases[rec.release_mbid].release_group_mbid, [])]}
    if "release" in incs:
        release = world.releases[rec.release_mbid]
        data = {"mbid": release.mbid, "release_group_mbid": release.release_group_mbid, "name": release.name,
                "album_artist_name": release.album_artist_name}
        if release.year is not None:
            data["year"] = release.year
        if release.caa_id is not None:
            data["caa_id"], data["caa_release_mbid"] = release.caa_id, release.mbid
        out["release"] = data
    return out


class ListenBrainzSandboxServer(LoopbackServer):
    """The sandbox on a background thread (tests, benchmarks, the demo)."""

    def __init__(self, state: ListenBrainzState, port: int = 0):
        super().__init__(_Handler, state, port, name="listenbrainz-sandbox")


def _rate(text: str, parser: argparse.ArgumentParser, option: str) -> tuple[int, float] | None:
    if text == "none":
        return None
    match = re.fullmatch(r"(\d+)/(\d+(?:\.\d+)?)s", text)
    if not match:
        parser.error(f"{option} `{text}`: expected N/Ms, such as 30/10s, or none")
    return int(match.group(1)), float(match.group(2))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.standins.listenbrainz_sandbox",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--msd", required=True, help="generated MSD sample root (its AdditionalFiles/ holds the identities)")
    parser.add_argument("--port", type=int, default=8767)
    parser.add_argument("--seed", type=int, default=DEMO_SEED, help="world seed (the default is the demo's)")
    parser.add_argument("--rate-limit", default="30/10s", help="N/Ms per client address, or none")
    parser.add_argument("--token-rate-limit", default="50/10s", help="N/Ms per token, or none")
    parser.add_argument("--token", action="append", help=f"a token the sandbox accepts (default {SANDBOX_TOKEN})")
    parser.add_argument("--lookup-without-token", action="store_true", help="metadata/lookup as before Dec 2025")
    parser.add_argument("--popularity-needs-token", action="store_true", help="popularity as on the days it did")
    parser.add_argument("--exact-lookup", action="store_true",
                        help="no fuzzy stage in metadata/lookup, as at listenbrainz-server 0a119846")
    parser.add_argument("--day", help="answer counts for this day (YYYY-MM-DD) instead of today")
    args = parser.parse_args(argv)
    from pipeline.standins.spotify_catalog import load_identities

    world = build_world(load_identities(args.msd), seed=args.seed)
    day = date.fromisoformat(args.day) if args.day else None
    tokens = set(args.token or [SANDBOX_TOKEN])
    state = ListenBrainzState(world, rate_limit=_rate(args.rate_limit, parser, "--rate-limit"),
                              token_rate_limit=_rate(args.token_rate_limit, parser, "--token-rate-limit"), tokens=tokens,
                              lookup_needs_token=not args.lookup_without_token,
                              popularity_needs_token=args.popularity_needs_token,
                              today=(lambda: day) if day else date.today, fuzzy_lookup=not args.exact_lookup)
    server = ListenBrainzSandboxServer(state, args.port)
    print(f"ListenBrainz sandbox on {server.url}: {len(world.recordings)} recordings, "
          f"{sum(1 for a in world.artists.values() if not a.merged_into)} artists\n"
          f"point the pipeline at it:\n  export MUSIC_ETL_LISTENBRAINZ_API_URL={server.url}\n"
          f"  export LISTENBRAINZ_TOKEN={sorted(tokens)[0]}", flush=True)
    return server.serve_until_interrupted()


if __name__ == "__main__":
    sys.exit(main())
