"""AcousticBrainz's section of the run report: how many songs have features, and whether they agree with what the
MSD's Echo Nest analysis and Deezer measured.

* Tempo: AcousticBrainz's ``ab_bpm`` against MSD's ``tempo`` and Deezer's ``deezer_bpm``: the share within 2% of
  the other, the share an octave apart (double or half, within 2% of that), the rest; and the ratio's histogram in
  tenths of an octave (0 is the same tempo, ±1 an octave).
* Key: ``ab_key``/``ab_mode`` against MSD's ``key``/``mode``: the share with the same key, the same mode, both, and
  the share MSD gives the relative major/minor (same notes, another tonic: a classic confusion of key finders).

The SQL sticks to what DuckDB, PostgreSQL and Redshift share (CASE, ``abs``, ``floor``, ``log`` of base 10, ``%``),
counts are summed in SQL and the shares taken in Python.
"""

from __future__ import annotations

from pipeline.sources.base import FigureSpec, ReportContext, ReportSection

TEMPLATE = "report.html.j2"
TOLERANCE = 0.02  # within 2%: what counts as the same tempo
LOG10_2 = 0.301029995663981


def tempo_agreement_sql(other: str) -> str:
    """Songs with both tempos, those within 2%, and those an octave apart (twice or half the other, within 2%)."""
    same = f"abs(ab_bpm - {other}) <= {TOLERANCE} * {other}"
    octave = (f"(abs(ab_bpm - 2 * {other}) <= {TOLERANCE} * 2 * {other} OR "
              f"abs(ab_bpm - 0.5 * {other}) <= {TOLERANCE} * 0.5 * {other})")
    return (f"SELECT count(*), sum(CASE WHEN {same} THEN 1 ELSE 0 END), "
            f"sum(CASE WHEN NOT ({same}) AND {octave} THEN 1 ELSE 0 END) "
            f"FROM enriched_songs WHERE ab_bpm > 0 AND {other} > 0")


def ratio_bins_sql(other: str) -> str:
    """The songs by log2(ab_bpm / other) in tenths of an octave (log10 over log10(2): ``log`` is base 10 in every
    dialect), rounded to the nearest tenth."""
    return (f"SELECT floor(10 * log(ab_bpm / {other}) / {LOG10_2} + 0.5) AS bin, count(*) FROM enriched_songs "
            f"WHERE ab_bpm > 0 AND {other} > 0 GROUP BY 1 ORDER BY 1")


KEY_AGREEMENT_SQL = (
    "SELECT count(*), sum(CASE WHEN ab_key = key THEN 1 ELSE 0 END), sum(CASE WHEN ab_mode = mode THEN 1 ELSE 0 END), "
    "sum(CASE WHEN ab_key = key AND ab_mode = mode THEN 1 ELSE 0 END), "
    "sum(CASE WHEN ab_mode <> mode AND ((ab_mode = 1 AND (ab_key + 9) % 12 = key) OR (ab_mode = 0 AND (ab_key + 3) % 12 "
    "= key)) THEN 1 ELSE 0 END) "
    "FROM enriched_songs WHERE ab_key IS NOT NULL AND ab_mode IS NOT NULL AND key IS NOT NULL AND mode IS NOT NULL")

COVERAGE_SQL = ("SELECT count(*), sum(CASE WHEN status <> 'no_recording' THEN 1 ELSE 0 END), "
                "sum(CASE WHEN status = 'matched' THEN 1 ELSE 0 END), sum(CASE WHEN submissions > 1 THEN 1 ELSE 0 END), "
                "sum(CASE WHEN key_share < 1 THEN 1 ELSE 0 END), sum(submissions) FROM acousticbrainz_features")


def _share(part, whole) -> float | None:
    return round(float(part or 0) / whole, 3) if whole else None


def sections(source, context: ReportContext) -> list[ReportSection]:
    backend = context.backend
    section = ReportSection("acousticbrainz", "Audio features: AcousticBrainz, checked against MSD and Deezer",
                            source.name, TEMPLATE)
    why = context.empty_why
    if not why and not ("acousticbrainz_features" in context.tables
                        and backend.scalar("SELECT count(*) FROM acousticbrainz_features")):
        why = "no AcousticBrainz features are loaded ([sources] enabled leaves AcousticBrainz out, or it has not run)"
    if why:
        section.available, section.why = False, why
        return [section]
    songs, resolved, found, several, split_keys, submissions = backend.query(COVERAGE_SQL)[0]
    comparisons = []
    for label, column, present in (("MSD's Echo Nest tempo", "tempo", True),
                                   ("Deezer's bpm", "deezer_bpm", {"deezer_matches", "deezer_tracks"} <= context.tables)):
        if not present:
            comparisons.append({"against": label, "songs": 0, "why": "Deezer is not loaded"})
            continue
        both, same, octave = backend.query(tempo_agreement_sql(column))[0]
        comparisons.append({"against": label, "songs": both, "same": _share(same, both), "octave": _share(octave, both),
                            "other": _share((both or 0) - (same or 0) - (octave or 0), both), "why": ""})
        bins = {int(b): int(n) for b, n in backend.query(ratio_bins_sql(column)) if b is not None}
        if bins:
            section.figures.append(FigureSpec(
                f"fig-ab-bpm-{column.replace('_', '-')}", f"AcousticBrainz tempo against {label}",
                f"log2 of ab_bpm over {column}, in tenths of an octave: 0 is the same tempo, 1 twice as fast, -1 half "
                f"as fast (a beat tracker's octave error).", "histogram",
                {"counts": bins, "bin_width": 0.1, "xlabel": f"log2(ab_bpm / {column})", "ylabel": "songs",
                 "colour": source.colour}))
    keyed, same_key, same_mode, both, relative = backend.query(KEY_AGREEMENT_SQL)[0]
    section.facts = {
        "songs": songs, "resolved": resolved, "found": found, "found_share": _share(found, songs),
        "found_of_resolved": _share(found, resolved), "several": several, "split_keys": split_keys,
        "submissions": submissions, "tempo": comparisons, "tolerance": f"{TOLERANCE:.0%}",
        "key": {"songs": keyed, "same_key": _share(same_key, keyed), "same_mode": _share(same_mode, keyed),
                "both": _share(both, keyed), "relative": _share(relative, keyed)}}
    return [section]
