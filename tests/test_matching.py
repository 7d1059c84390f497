"""Matching rules, one per normalisation, with hand-made Spotify candidates."""

from __future__ import annotations

import pytest

from pipeline.spotify.matching import AMBIGUOUS, MATCHED, NOT_FOUND, Song, decide, score, search_queries
from pipeline.spotify.normalize import fold, parse_title, primary_artist, query_safe


def song(artist="Otis Reed", title="Black Heart", duration=200.0, year=1999, release="Golden Train"):
    return Song("TRAAAAA128F0000001", "SOAAAAA12A8C000001", artist, title, release, duration, year)


def track(name="Black Heart", artists=("Otis Reed",), duration_s=200.0, track_id="t" * 22, album="Golden Train",
          release_date="1999-05-01", isrc="USAAA0000001"):
    return {"id": track_id, "name": name, "duration_ms": int(duration_s * 1000), "isrc": isrc,
            "artists": [{"id": f"a{i}" * 11, "name": a} for i, a in enumerate(artists)],
            "album": {"id": "b" * 22, "name": album, "release_date": release_date, "release_date_precision": "day"}}


@pytest.mark.parametrize("msd_title, spotify_title", [
    ("Black Heart (Album Version)", "Black Heart"),            # MSD's version suffix
    ("Black Heart", "Black Heart - Remastered 2009"),          # Spotify's remaster suffix
    ("Black Heart", "Black Heart - 2011 Remaster"),
    ("Black Heart (LP Version)", "BLACK HEART"),               # case
    ("Corazón Negro", "Corazon Negro"),                        # accents
    ("Yes_ Black Heart", "Yes, Black Heart"),                  # MSD's _ for a comma
    ("Don't Stop Fire", "Don\u2019t Stop Fire"),               # straight vs curly apostrophe
    ("Black Heart (feat. Mary King)", "Black Heart"),          # feat. credit in the title
    ('The "Velvet" Moon', "The Velvet Moon"),                  # quotes
])
def test_title_variants_match(msd_title, spotify_title):
    decision = decide(song(title=msd_title), [track(name=spotify_title)])
    assert decision.status == MATCHED, decision
    assert decision.best.title_sim == 1.0


@pytest.mark.parametrize("msd_artist, spotify_artists", [
    ("Otis Reed feat. Mary King", ("Otis Reed", "Mary King")),  # feat. becomes two artists
    ("Beatles", ("The Beatles",)),                              # leading "The"
    ("Parker_ Reed & King", ("Parker, Reed & King",)),          # _ for a comma
    ("Björk Guðmundsdóttir", ("Bjork Gudmundsdottir",)),        # accents folded to ASCII
    ("Simon & Garfunkel", ("Simon and Garfunkel",)),            # & and "and"
])
def test_artist_variants_match(msd_artist, spotify_artists):
    decision = decide(song(artist=msd_artist), [track(artists=spotify_artists)])
    assert decision.status == MATCHED, decision
    assert decision.best.artist_sim == 1.0


def test_version_markers_the_msd_title_lacks_are_penalised_not_ignored():
    real = track(track_id="r" * 22)
    decoys = [track(name="Black Heart - Live", duration_s=200, track_id="l" * 22),
              track(name="Black Heart (Karaoke Version)", artists=("Karaoke Hits Band",), track_id="k" * 22),
              track(name="Black Heart - Remix", artists=("Otis Reed", "DJ Remixer"), duration_s=260, track_id="x" * 22)]
    assert decide(song(), decoys + [real]).best.track["id"] == real["id"]
    assert decide(song(), decoys).status == NOT_FOUND
    # When MSD itself says Live, the live recording is the right one.
    live = decide(song(title="Black Heart (Live)"), [decoys[0]])
    assert live.status == MATCHED


def test_tribute_band_and_other_artists_are_rejected():
    assert decide(song(), [track(artists=("The Black Tribute Band",), album="Tribute to Otis Reed")]).status == NOT_FOUND
    assert decide(song(), [track(artists=("Nina Simone",))]).status == NOT_FOUND


def test_duration_tolerance():
    assert decide(song(duration=200), [track(duration_s=203.5)]).status == MATCHED
    assert score(song(duration=200), track(duration_s=203.5)).duration_diff_s == 3.5
    # A minute longer is another recording (extended or live take).
    assert decide(song(duration=200), [track(duration_s=260)]).status == NOT_FOUND


def test_the_year_breaks_ties_and_two_distinct_recordings_are_ambiguous():
    a = track(track_id="a" * 22, release_date="1999", isrc="US1")
    b = track(track_id="b" * 22, release_date="2005", isrc="US2")
    assert decide(song(year=1999), [b, a]).best.track["id"] == a["id"]
    assert decide(song(year=None), [a, b]).status == AMBIGUOUS
    # Same ISRC: one recording under two ids (album and compilation), not a real rival.
    assert decide(song(year=None), [a, {**b, "isrc": "US1"}]).status == MATCHED


def test_queries_use_single_quotes_and_avoid_the_known_pitfalls():
    ladder = search_queries(song(artist="Otis Reed feat. Mary King", title="Don't Stop (Album Version)"))
    assert ladder == [("fielded", "track:'Stop' artist:'Otis Reed'"), ("free_text", "Otis Reed Stop")]
    assert '"' not in search_queries(song(title='The "Velvet" Moon'))[0][1]
    assert search_queries(song(artist=None)) == []
    assert search_queries(song(title="Bewitched_ Bothered & Bewildered"))[0][1] == \
        "track:'Bewitched, Bothered & Bewildered' artist:'Otis Reed'"


def test_normalisation_helpers():
    assert fold("Don\u2019t Stop, Björk & Co.") == "dont stop bjork and co"
    assert parse_title("Heart (Hey, River)").core == "Heart (Hey, River)"  # not a version suffix
    assert parse_title("Black Heart - Live at Wembley").markers == {"live"}
    assert parse_title("Feat of Strength").core == "Feat of Strength"
    assert primary_artist("Otis Reed ft. Mary King") == "Otis Reed"
    assert query_safe("Don't") == "Dont"  # nothing else left: the apostrophe goes, not the word
