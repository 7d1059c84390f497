"""The sample generator: deterministic, realistic, and carrying the MSD's quirks."""

from __future__ import annotations

import glob
import json
import math
import os
from collections import Counter

import h5py
import pytest

from pipeline.msd.reader import read_msd_file
from pipeline.standins.msd_sample import generate_sample, main


def _read_all(root):
    files = sorted(glob.glob(os.path.join(root, "*", "*", "*", "*.h5")))
    return [read_msd_file(f, expect_single_track=True).records[0] for f in files]


@pytest.fixture(scope="module")
def big_sample(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("big") / "msd")
    generate_sample(root, songs=400, seed=21, partitions=["A/A", "A/B", "A/C", "B/A"])
    return root, _read_all(root)


def test_same_seed_same_sample_and_another_seed_another(tmp_path):
    generate_sample(str(tmp_path / "one"), songs=25, seed=9)
    generate_sample(str(tmp_path / "two"), songs=25, seed=9)
    generate_sample(str(tmp_path / "three"), songs=25, seed=10)
    one, two, three = (_read_all(str(tmp_path / n)) for n in ("one", "two", "three"))
    assert json.dumps(one, sort_keys=True) == json.dumps(two, sort_keys=True)
    assert {r["track_id"] for r in one} != {r["track_id"] for r in three}


def test_partitions_option_places_tracks_only_there(tmp_path, capsys):
    main(["--out", str(tmp_path / "msd"), "--songs", "12", "--seed", "1", "--partitions", "C/D,Z/Q"])
    progress = [line for line in capsys.readouterr().err.splitlines() if "writing the MSD-format sample" in line]
    assert progress and progress[-1].endswith("12/12 files")  # the demo's longest step says how far it is
    dirs = {os.path.relpath(os.path.dirname(os.path.dirname(f)), tmp_path / "msd")
            for f in glob.glob(str(tmp_path / "msd" / "*" / "*" / "*" / "*.h5"))}
    assert dirs == {"C/D", "Z/Q"}


def test_rerun_with_same_parameters_is_a_no_op_and_other_parameters_are_refused(tmp_path):
    out = str(tmp_path / "msd")
    first = generate_sample(out, songs=10, seed=2)
    mtime = os.path.getmtime(os.path.join(out, "AdditionalFiles", "sample_manifest.json"))
    assert generate_sample(out, songs=10, seed=2) == first
    assert os.path.getmtime(os.path.join(out, "AdditionalFiles", "sample_manifest.json")) == mtime
    with pytest.raises(SystemExit, match="already holds a generated sample"):
        generate_sample(out, songs=11, seed=2)


def test_bad_partition_argument_is_refused(tmp_path):
    with pytest.raises(ValueError, match="Invalid MSD partition"):
        main(["--out", str(tmp_path), "--songs", "3", "--partitions", "a/b"])


@pytest.mark.slow
def test_quirks_appear_in_realistic_proportions(big_sample):
    _, records = big_sample
    n = len(records)
    share = lambda pred: sum(1 for r in records if pred(r)) / n  # noqa: E731
    # Reference (971 real files): year 0 21%, NaN coordinates 63%, NaN song_hotttnesss 47%,
    # empty mbtags 36%, empty location 30%, playmeid -1 28%.
    assert 0.12 <= share(lambda r: r["year"] is None) <= 0.32
    assert 0.45 <= share(lambda r: r["artist_latitude"] is None) <= 0.80
    assert all((r["artist_latitude"] is None) == (r["artist_longitude"] is None) for r in records)
    assert 0.35 <= share(lambda r: r["song_hotttnesss"] is None) <= 0.60
    assert 0.20 <= share(lambda r: r["artist_mbtags"] == []) <= 0.55
    assert 0.15 <= share(lambda r: r["artist_location"] is None) <= 0.45
    assert 0.15 <= share(lambda r: r["artist_playmeid"] is None) <= 0.45
    assert all(len(r["similar_artists"]) == 100 and 1 <= len(r["artist_terms"]) <= 64 for r in records)
    assert all(r["artist_hotttnesss"] <= 1.0825 and 0 <= r["artist_familiarity"] <= 1 for r in records)
    assert all(1929 <= r["year"] <= 2010 for r in records if r["year"] is not None)


@pytest.mark.slow
def test_rare_quirks_are_present(big_sample):
    root, records = big_sample
    # MSD's `_` for commas, in titles and artist names; never a comma there.
    assert any("_ " in r["title"] for r in records)
    assert any("_" in r["artist_name"] for r in records)
    assert not any("," in (r["title"] + r["artist_name"] + (r["release"] or "")) for r in records)
    # commas stay in locations, as in the real files
    assert any("," in (r["artist_location"] or "") for r in records)
    # UTF-8 content in ASCII-typed strings
    assert any(not r["artist_name"].isascii() for r in records)
    assert any(not t.isascii() for r in records for t in r["artist_terms"])
    # tempo 0 with no beats, bars or sections
    no_beats = [r for r in records if r["tempo"] is None]
    assert no_beats and all(r["num_beats"] == r["num_bars"] == r["num_sections"] == 0 for r in no_beats)
    assert all(r["duration"] < 2 for r in no_beats)
    # duplicate (artist, title) pairs on different tracks
    pairs = Counter((r["artist_name"].lower(), r["title"].lower()) for r in records)
    assert any(c >= 2 for c in pairs.values())
    # an artist with many tracks, and identical artist fields on all of them
    by_artist = Counter(r["artist_id"] for r in records)
    top, count = by_artist.most_common(1)[0]
    assert count >= 5
    artist_fields = [k for k in records[0] if k.startswith("artist_") or k == "similar_artists"]
    views = {json.dumps({k: r[k] for k in artist_fields}, sort_keys=True) for r in records if r["artist_id"] == top}
    assert len(views) == 1
    # trailing space in a raw location, as in "St Michael, Barbados "
    raw_locations = set()
    for f in glob.glob(os.path.join(root, "*", "*", "*", "*.h5")):
        with h5py.File(f, "r") as h5:
            raw_locations.add(h5["metadata/songs"][0]["artist_location"])
    assert any(loc.endswith(b" ") for loc in raw_locations)


def test_identities_file_matches_the_generated_tracks(big_sample):
    root, records = big_sample
    with open(os.path.join(root, "AdditionalFiles", "sample_identities.jsonl"), encoding="utf-8") as fh:
        identities = [json.loads(line) for line in fh]
    by_id = {r["track_id"]: r for r in records}
    assert set(by_id) == {i["track_id"] for i in identities}
    for ident in identities:
        rec = by_id[ident["track_id"]]
        assert (ident["title"], ident["artist_name"], ident["song_id"]) == (rec["title"], rec["artist_name"], rec["song_id"])
        assert math.isclose(ident["duration"], rec["duration"])
        # canonical spelling keeps the commas MSD replaced
        assert ident["canonical_title"].replace(",", "_") in rec["title"]
    with open(os.path.join(root, "AdditionalFiles", "sample_unique_tracks.txt"), encoding="utf-8") as fh:
        lines = fh.read().splitlines()
    assert len(lines) == len(records) and all(line.count("<SEP>") == 3 for line in lines)


def test_real_names_mode_uses_real_msd_strings_and_keeps_the_synthetic_mode(tmp_path):
    from pipeline.standins.msd_sample import read_real_names

    real = generate_sample(str(tmp_path / "real"), songs=60, seed=2, partitions=["A/A"], names="real")
    assert real["params"]["names"] == "real"
    identities = [json.loads(line) for line in
                  open(tmp_path / "real" / "AdditionalFiles" / "sample_identities.jsonl", encoding="utf-8")]
    rows = set(read_real_names())
    assert len(identities) == 60 and all((i["artist_name"], i["title"]) in rows for i in identities)
    # Durations, years and releases are generated, and the files read back with the real strings.
    track = identities[0]
    record = read_msd_file(glob.glob(str(tmp_path / "real" / "A" / "A" / "*" / f"{track['track_id']}.h5"))[0]).records[0]
    assert (record["artist_name"], record["title"]) == (track["artist_name"], track["title"])
    synthetic = generate_sample(str(tmp_path / "synthetic"), songs=20, seed=2, partitions=["A/A"])
    assert "names" not in synthetic["params"]
    assert not {(i["artist_name"], i["title"]) for i in
                (json.loads(line) for line in open(tmp_path / "synthetic" / "AdditionalFiles" / "sample_identities.jsonl",
                                                   encoding="utf-8"))} & rows
