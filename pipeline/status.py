"""Where each partition stands: extracted, enriched by each source, loaded (``python -m pipeline status``).

A stage whose staging was made with other settings or code versions than the configured ones
(``[spotify] match_threshold`` changed, a new reader version, …) is shown as stale, naming what
changed: the next run redoes it (enrichment from its journal, without paying again).
"""

from __future__ import annotations

import sys

from pipeline import answers, config, staging, versioning
from pipeline.partitions import discover_partitions
from pipeline.tasks import DeezerEnrich, EnrichPartition, ExtractPartition, LoadPartition, SpotifySearch
from pipeline.tasks.enrich import sent_total
from pipeline.warehouse.backends import redact, warehouse_backend
from pipeline.warehouse.load import load_id_for
from pipeline.warehouse.target import marker_table_exists_sql


def _loaded_ids() -> dict[str, str] | None:
    """Partition → load id recorded in the warehouse's marker table ({} if there is none yet);
    None, with the reason printed, when the warehouse cannot be read."""
    backend = warehouse_backend()
    try:
        if not backend.query(marker_table_exists_sql(backend.dialect)):
            return {}
        return dict(backend.query("SELECT msd_partition, load_id FROM etl_load_markers WHERE step = 'load'"))
    except Exception as exc:  # status must still print what is staged when the warehouse is unreachable
        print(f"warehouse not readable, so the loaded column is unknown: {str(exc).strip()}", file=sys.stderr)
        return None
    finally:
        backend.close()


def stale_reason(task) -> str | None:
    """For a stage with no output under the configured settings: what differs from the latest
    output it has under other settings (None if it never completed at all)."""
    older = [f for f in staging.manifest_folders(staging.partition_prefix(task.stage, task.partition))
             if f != task.folder]
    if not older:
        return None
    manifests = [staging.ManifestTarget(folder).read()[0] for folder in older]
    latest = max(manifests, key=lambda m: m.get("written_at", ""))
    changes = versioning.changed_settings(latest.get("settings", {}), task.version_settings())
    return f"stale {task.stage} staging ({'; '.join(changes) or 'older layout'})"


def main() -> int:
    """0 when the table could be drawn, 2 when there is no MSD partition to show, 1 when the
    warehouse could not be read (what is staged is still shown)."""
    partitions = discover_partitions(config.msd().root)
    if not partitions:
        print(f"error: no MSD partitions under `{config.msd().root}`: set [msd] root (environment MUSIC_ETL_MSD_ROOT) "
              f"to the folder that holds A/, B/, … (make download-msd-subset, or make sample)", file=sys.stderr)
        return 2
    deezer_on = "deezer" in config.enabled_sources()
    loaded = _loaded_ids()
    print(f"MSD root {config.msd().root} -> staging {staging.root()} -> warehouse {redact(config.warehouse().url)}")
    source_columns = f"{'Spotify':>9}{'rate':>6}{'requests':>9}" + (f"{'Deezer':>8}{'rate':>6}{'requests':>9}"
                                                                    if deezer_on else "")
    print(f"{'partition':<10}{'tracks':>7}{'quarant.':>9}{source_columns}  loaded")
    # Per source: songs it was asked about, songs matched, requests sent.
    totals = {"tracks": 0, "quarantined": 0, "spotify": [0, 0, 0], "deezer": [0, 0, 0]}
    complete = 0
    for partition in partitions:
        extract, enrich = ExtractPartition(partition=partition), EnrichPartition(partition=partition)
        if not extract.output().exists():
            print(f"{partition:<10}  {stale_reason(extract) or 'not extracted'}")
            continue
        counts = extract.output().read()[0]["counts"]
        totals["tracks"] += counts["tracks"]
        totals["quarantined"] += counts["quarantined"]
        line = f"{partition:<10}{counts['tracks']:>7}{counts['quarantined']:>9}"
        if not enrich.output().exists():
            # A changed search setting shows in the search stage, where it was set.
            search = SpotifySearch(partition=partition)
            reason = (None if search.output().exists() else stale_reason(search)) or stale_reason(enrich)
            print(f"{line}  {reason or 'not enriched'}")
            continue
        line += _source_cells(enrich.output().read()[0], counts["tracks"], totals["spotify"], width=9)
        if deezer_on:
            deezer = DeezerEnrich(partition=partition)
            if not deezer.output().exists():
                print(f"{line}  {stale_reason(deezer) or 'not enriched on Deezer'}")
                continue
            line += _source_cells(deezer.output().read()[0], counts["tracks"], totals["deezer"], width=8)
        current = load_id_for(partition, LoadPartition(partition=partition).input_manifests())
        if loaded is None:
            state = "unknown"
        else:
            state = "yes" if loaded.get(partition) == current else ("older staging" if partition in loaded else "no")
        complete += state == "yes"
        print(f"{line}  {state}")
    # Each source's rate over the songs it was asked about: songs not yet looked for are not unmatched.
    total_line = f"{'total':<10}{totals['tracks']:>7}{totals['quarantined']:>9}"
    for source, width in (("spotify", 9), ("deezer", 8)) if deezer_on else (("spotify", 9),):
        songs, matched, requests = totals[source]
        total_line += f"{matched:>{width}}{matched / songs if songs else 0:>6.2f}{requests:>9}"
    print(f"{total_line}  {complete}/{len(partitions)} partitions loaded")
    for source in ("spotify", "deezer") if deezer_on else ("spotify",):
        spent = answers.total_spent(source)
        print(f"{source.capitalize()} requests sent by every run so far: {spent['sent_total']} in {spent['runs']} task "
              f"runs" + (f" ({spent['rate_limited']} rate-limited)" if source == "spotify" else ""))
    print("rate: matched / tracks of the enriched partitions; requests: requests sent to each source to produce "
          "each partition's current enrichment, every one (retries, rate-limited, error and token requests "
          "included; answers from the store cost none)" + ("" if deezer_on else "; Deezer is off ([sources] enabled)"))
    return 0 if loaded is not None else 1


def _source_cells(manifest: dict, tracks: int, totals: list[int], width: int) -> str:
    """One source's matched, rate and requests for a partition (added to ``totals``)."""
    matched = manifest["statuses"]["matched"]
    songs = manifest.get("songs", tracks)  # quarantined files are not songs to match
    totals[0] += songs
    totals[1] += matched
    totals[2] += sent_total(manifest)
    return f"{matched:>{width}}{matched / songs if songs else 0:>6.2f}{sent_total(manifest):>9}"


if __name__ == "__main__":
    from pipeline.__main__ import main as front_end

    sys.exit(front_end(["status"]))
