"""Everyday commands as a user types them: what they keep, what they refuse, what they say."""

from __future__ import annotations

import os
import subprocess

from tests.conftest import PROJECT_ROOT


def _tree(root) -> set[str]:
    return {os.path.relpath(os.path.join(folder, name), root) for folder, _, names in os.walk(root) for name in names}


def test_clean_data_keeps_the_spotify_answers_and_forgetting_them_takes_their_name(tmp_path):
    data = tmp_path / "data"
    files = ["staging/msd/A/A/v-1/songs.jsonl.gz", "staging/msd/A/A/v-1/_manifest-0123456789abcdef.json",
             "staging/spotify/A/A/v-2/matches.jsonl.gz", "staging/spotify/A/A/journal/run-1.jsonl",
             "staging/spotify/B/C/journal/run-2.jsonl", "staging/runs/host-1.json", "warehouse.duckdb", "msd/A/A/x.h5"]
    for name in files:
        (data / name).parent.mkdir(parents=True, exist_ok=True)
        (data / name).write_bytes(b"paid for" if "journal" in name else b"x")
    clean = subprocess.run(["make", "--no-print-directory", "clean-data", f"DATA={data}"], cwd=PROJECT_ROOT,
                           capture_output=True, text=True, timeout=60)
    assert clean.returncode == 0, clean.stderr
    assert _tree(data) == {"staging/spotify/A/A/journal/run-1.jsonl", "staging/spotify/B/C/journal/run-2.jsonl",
                           "msd/A/A/x.h5"}
    assert "kept the Spotify answers" in clean.stdout
    forget = subprocess.run(["make", "--no-print-directory", "forget-spotify-answers", f"DATA={data}"],
                            cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60)
    assert forget.returncode == 0, forget.stderr
    assert _tree(data) == {"msd/A/A/x.h5"}
