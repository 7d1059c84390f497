"""Matching rules on real MSD artist and title strings (pipeline/standins/data/msd_subset_names.txt,
and the ones issue 12 quotes), against Spotify candidates spelled the way Spotify lists them."""

from __future__ import annotations

import pytest

from pipeline.matching import ladder
from pipeline.matching.decide import AMBIGUOUS, MATCHED, NOT_FOUND, Song, decide, score
from pipeline.matching.names import artist_credits, fold, lead_artist, parse_title, query_words
from pipeline.standins.msd_sample import read_real_names

REAL = set(read_real_names())


def song(artist="Otis Reed", title="Black Heart", duration=200.0, year=1999, release="Golden Train"):
    return Song("TRAAAAA128F0000001", "SOAAAAA12A8C000001", artist, title, release, duration, year)


def track(name="Black Heart", artists=("Otis Reed",), duration_s=200.0, track_id="t" * 22, album="Golden Train",
          release_date="1999-05-01", isrc="USAAA0000001"):
    return {"id": track_id, "name": name, "duration_ms": int(duration_s * 1000), "isrc": isrc,
            "artists": [{"id": f"a{i}" * 11, "name": a} for i, a in enumerate(artists)],
            "album": {"id": "b" * 22, "name": album, "release_date": release_date, "release_date_precision": "day"}}


def real(artist: str, title: str) -> Song:
    assert (artist, title) in REAL, f"not a row of the MSD subset: {artist} / {title}"
    return song(artist=artist, title=title)


# --- featured and joint artists ------------------------------------------------------------------

@pytest.mark.parametrize("msd_artist, title, spotify_artists", [
    ("Shakira Featuring Wyclef Jean", None, ("Shakira", "Wyclef Jean")),
    ("DJ X-Change featuring DJ Joey A", "Come Over", ("DJ X-Change", "DJ Joey A")),
    ("2-4 Grooves feat. Reki D.", None, ("2-4 Grooves", "Reki D.")),
    ("Geiom Ft. Marita", "Sugar Coated Lover", ("Geiom", "Marita")),
    ("Heavy D / McGruff", "Wanna Be A Player", ("Heavy D", "McGruff")),
    ("Nick Ingman;Gavyn Wright", "Wessex Loses a Bride", ("Nick Ingman", "Gavyn Wright")),
    ("Carl Cox Vs Yousef", "I Want You (Forever)", ("Carl Cox", "Yousef")),
    ("Carl Doy with NZSO", None, ("Carl Doy", "NZSO")),
    ("Bebo & Cigala", "Inolvidable", ("Bebo", "Cigala")),             # a duo as two artists …
    ("Nick Cave & The Bad Seeds", None, ("Nick Cave & The Bad Seeds",)),  # … or as one
    ("Mike Jones (Featuring CJ_ Mello & Lil' Bran)", "Laws Patrolling (Album Version)", ("Mike Jones", "CJ Mello")),
])
def test_featured_and_joint_artists(msd_artist, title, spotify_artists):
    names = [a for a, _ in REAL]
    assert msd_artist in names
    title = title or next(t for a, t in REAL if a == msd_artist)
    msd = real(msd_artist, title)
    clean = parse_title(title).core
    decision = decide(msd, [track(name=clean, artists=spotify_artists)])
    assert decision.status == MATCHED and decision.best.artist_sim == 1.0, decision
    # The query names the primary artist only: a feat. inside artist: finds nothing (web-api #608).
    rung, query = ladder.first_query(msd)
    assert rung == ladder.FREE_TEXT
    assert query.startswith(query_words(lead_artist(msd_artist)))
    assert not any(w in query.lower().split() for w in ("feat", "featuring", "ft", "vs", "with"))
    # Another artist with the same title is still rejected.
    assert decide(msd, [track(name=clean, artists=("Nina Simone",))]).status == NOT_FOUND


def test_credits_split_in_order_with_the_primary_first():
    assert artist_credits("Montserrat Caballé;Placido Domingo;Vicente Sardinero") == \
        ["Montserrat Caballé", "Placido Domingo", "Vicente Sardinero"]
    assert artist_credits("The Pharcyde / Big Boy / Schmooche Cat / Randy Mack")[0] == "The Pharcyde"
    assert artist_credits("AC/DC") == ["AC/DC"]  # no spaces around the slash: one name
    assert lead_artist("Earth_ Wind & Fire") == "Earth, Wind"


# --- version and edition suffixes ------------------------------------------------------------------

@pytest.mark.parametrize("msd_artist, msd_title, spotify_title", [
    ("The Notorious B.I.G.", "Who Shot Ya (Amended Album Version)", "Who Shot Ya"),
    ("The Stooges", "Not Right (Remastered LP Version)", "Not Right - Remastered"),
    ("Whitesnake", "Young Blood (2007 Digital Remaster)", "Young Blood - Remastered 2007"),
    ("Ol' Dirty Bastard", "Hippa To Da Hoppa [Explicit Version]", "Hippa To Da Hoppa"),
    ("Jeff And Sheri Easter", "The Moon And I (Ordinary Day Album Version)", "The Moon And I"),
    ("Nick Cave & The Bad Seeds", "She Fell Away (2009 Digital Remaster)", "She Fell Away - 2009 Remaster"),
    ("Twista", "The Day After (featuring Syleena Johnson) (Explicit Chopped & Screwed Version)",
     "The Day After - Chopped & Screwed"),
    ("VHS Or Beta", "The Melting Moon (Edit)", "The Melting Moon - Radio Edit"),
])
def test_packaging_is_stripped_and_versions_agree(msd_artist, msd_title, spotify_title):
    msd = real(msd_artist, msd_title)
    decision = decide(msd, [track(name=spotify_title, artists=(artist_credits(msd_artist)[0],))])
    assert decision.status == MATCHED, decision
    assert decision.best.title_sim == 1.0


def test_a_version_only_one_side_has_is_penalised():
    msd = real("Nick Cave & The Bad Seeds", "She Fell Away (2009 Digital Remaster)")
    studio = track(name="She Fell Away", artists=("Nick Cave & The Bad Seeds",), track_id="s" * 22)
    live = track(name="She Fell Away - Live", artists=("Nick Cave & The Bad Seeds",), track_id="l" * 22)
    assert decide(msd, [live, studio]).best.track["id"] == studio["id"]
    assert decide(msd, [live]).status == NOT_FOUND
    # "(Live)" on MSD's side: the live take is the right one.
    assert parse_title("Rock Me (Live In Boston_ 1970) (1st Show)") == parse_title(
        "Rock Me (1st Show) - Live In Boston, 1970")
    assert parse_title("The Day After (featuring Syleena Johnson) (Explicit Chopped & Screwed Version)").markers == {"remix"}
    assert parse_title("Fire (Oscar G Space Vocal Mix)").markers == {"mix"}
    assert parse_title("Heart (Hey, River)").core == "Heart (Hey, River)"  # part of the title, not a version
    assert parse_title("Feat of Strength").core == "Feat of Strength"


def test_a_subtitle_the_catalog_leaves_out_is_close_not_equal():
    msd = real("Leon Russell", "Jambalaya (On The Bayou)") if ("Leon Russell", "Jambalaya (On The Bayou)") in REAL \
        else song(artist="Leon Russell", title="Jambalaya (On The Bayou)")
    decision = decide(msd, [track(name="Jambalaya", artists=("Leon Russell",))])
    assert decision.status == MATCHED and 0.9 <= decision.best.title_sim < 1.0


# --- apostrophes and elisions --------------------------------------------------------------------

@pytest.mark.parametrize("msd_artist, msd_title, spotify_artist, spotify_title", [
    ("Pharcyde", "Passin' Me By", "The Pharcyde", "Passin\u2019 Me By"),
    ("Otis Reed", "He's Waitin'", "Otis Reed", "He\u2019s Waitin\u2019"),
    ("Cam'Ron / JR Writer", "Shake", "Cam\u2019ron", "Shake"),
    ("Otis Reed", "Pa'lla pa'ca", "Otis Reed", "Pa'lla Pa'ca"),
    ("Otis Reed", "Im Slowly Turning Into You", "Otis Reed", "I'm Slowly Turning Into You"),
    ("Fabolous", "Ma' Be Easy [Explicit Version]", "Fabolous", "Ma\u2019 Be Easy"),
])
def test_apostrophes_never_cost_a_word(msd_artist, msd_title, spotify_artist, spotify_title):
    msd = song(artist=msd_artist, title=msd_title)
    decision = decide(msd, [track(name=spotify_title, artists=(spotify_artist,))])
    assert decision.status == MATCHED and decision.best.title_sim == 1.0, decision
    _, query = ladder.first_query(msd)
    assert "'" not in query and "\u2019" not in query  # apostrophes in filters find nothing (web-api #1041)
    # Every word of the title is in the query, its apostrophe joined.
    assert set(fold(parse_title(msd_title).core).split()) <= set(fold(query).split())


# --- MSD's "_", "&" against "and", a leading "The", all caps, transliteration ----------------------

@pytest.mark.parametrize("msd_artist, msd_title, spotify_artist, spotify_title", [
    ("Olov Johansson_ Catriona Mckay", "Rain / Ekoln", "Olov Johansson, Catriona Mckay", "Rain / Ekoln"),
    ("Sizzla", "Love & Devotion", "Sizzla", "Love and Devotion"),
    ("Beatles", "Black Heart", "The Beatles", "Black Heart"),
    ("Despina Vandi", "OUTE ENA EFHARISTO", "Despina Vandi", "Oute Ena Efharisto"),
    ("Bjork", "Joga", "Björk", "Jóga"),
])
def test_spelling_variants(msd_artist, msd_title, spotify_artist, spotify_title):
    decision = decide(song(artist=msd_artist, title=msd_title), [track(name=spotify_title, artists=(spotify_artist,))])
    assert decision.status == MATCHED and decision.best.title_sim == 1.0 and decision.best.artist_sim == 1.0, decision


def test_queries_leave_out_what_may_be_spelled_the_other_way():
    rung, query = ladder.first_query(song(artist="The Beatles", title="Love & Devotion (Album Version)"))
    assert (rung, query) == (ladder.FREE_TEXT, "Beatles Love Devotion")
    assert ladder.first_query(song(artist=None)) is None
    assert ladder.first_query(song(artist="!!!", title="Myth Takes")) == (ladder.FREE_TEXT, "Myth Takes")


# --- one recording on several releases -------------------------------------------------------------

def test_copies_of_one_recording_are_a_tie_broken_by_release_then_duration_then_date():
    msd = song(release="Golden Train", duration=200.0, year=None)
    album = track(track_id="a" * 22, album="Golden Train", release_date="1999-05-01", isrc="US1", duration_s=200.9)
    deluxe = track(track_id="d" * 22, album="Golden Train (Deluxe Edition)", release_date="2009-05-01", isrc="US1",
                   duration_s=200.0)
    best_of = track(track_id="c" * 22, album="Greatest Hits", release_date="2004", isrc="US9", duration_s=200.0)
    single = track(track_id="s" * 22, album="Black Heart", release_date="1998", isrc="US8", duration_s=199.5)
    decision = decide(msd, [best_of, deluxe, single, album])
    assert decision.status == MATCHED and decision.best.track["id"] == album["id"]
    assert decision.tie_broken_among == 4
    # Without MSD's album among them: the closest length, then the earliest date.
    assert decide(msd, [best_of, deluxe]).best.track["id"] in (best_of["id"], deluxe["id"])
    assert decide(msd, [best_of, {**deluxe, "album": {**deluxe["album"], "name": "Greatest Hits"}}]).best.track["id"] \
        == best_of["id"]  # same release name and length: the earlier date


def test_two_different_recordings_equally_close_stay_ambiguous():
    msd = song(year=None)
    one = track(track_id="a" * 22, artists=("Otis Reed",), isrc="US1")
    other = track(track_id="b" * 22, artists=("Otis Reed", "Mary King"), isrc="US2", duration_s=201)
    other["artists"][0]["name"] = "Otis Reed Jr"
    decision = decide(msd, [one, {**other, "name": "Black Heart (Acoustic)"}])
    assert decision.status == MATCHED  # the acoustic take is penalised, not a rival
    twin = {**one, "id": "c" * 22, "isrc": "US3", "artists": [{"id": "x" * 22, "name": "Otis Reed"}], "duration_ms": 212_000}
    assert decide(msd, [one, twin]).status in (MATCHED, AMBIGUOUS)
    assert decide(song(duration=None, year=None), [one, {**twin, "name": "Black Heart (Part 2)"}]).status == MATCHED


def test_duration_tolerance():
    assert decide(song(duration=200), [track(duration_s=203.5)]).status == MATCHED
    assert score(song(duration=200), track(duration_s=203.5)).duration_diff_s == 3.5
    # A minute longer is another recording (extended or live take).
    assert decide(song(duration=200), [track(duration_s=260)]).status == NOT_FOUND


def test_tribute_and_karaoke_acts_are_rejected():
    assert decide(song(), [track(artists=("The Black Tribute Band",), album="Tribute to Otis Reed")]).status == NOT_FOUND
    assert decide(song(), [track(name="Black Heart (Karaoke Version)", artists=("Karaoke Hits Band",))]).status == NOT_FOUND
