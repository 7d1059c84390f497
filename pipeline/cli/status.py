"""``python -m pipeline status``: where each partition stands: extracted, enriched by each enabled source,
loaded.

A stage whose staging was made with other settings or code versions than the configured ones
(a source's ``match_threshold`` changed, a new reader version, …) is shown as stale, naming what
changed: the next run redoes it (enrichment from the stored answers, without paying again).
"""

from __future__ import annotations

import argparse
import os
import sys

from pipeline import config, staging, versioning
from pipeline.partitions import discover_partitions
from pipeline.redaction import redact_text
from pipeline.sources import answers, registry
from pipeline.sources.base import requests_sent
from pipeline.tasks.extract import ExtractPartition
from pipeline.tasks.load import LoadPartition
from pipeline.warehouse.backends import redact, warehouse_backend
from pipeline.warehouse.load import load_id_for
from pipeline.warehouse.target import marker_table_exists_sql


def add_parser(sub) -> None:
    sub.add_parser("status", help="where each partition stands")


def command(args: argparse.Namespace) -> int:
    return main()


def _loaded_ids() -> dict[str, str] | None:
    """Partition → load id recorded in the warehouse's marker table ({} if there is none yet);
    None, with the reason printed, when the warehouse cannot be read."""
    backend = warehouse_backend()
    try:
        if not backend.query(marker_table_exists_sql(backend.dialect)):
            return {}
        return dict(backend.query("SELECT msd_partition, load_id FROM etl_load_markers WHERE step = 'load'"))
    except Exception as exc:  # status must still print what is staged when the warehouse is unreachable
        # A driver's message may quote the URL, or part of it: shown without its password.
        reason = redact_text(str(exc).strip(), config.warehouse().url)
        print(f"warehouse not readable, so the loaded column is unknown: {reason}", file=sys.stderr)
        return None
    finally:
        backend.close()


def _staging_root_exists() -> bool:
    root = staging.root().rstrip("/")
    if not staging.is_s3(root):
        return os.path.isdir(root)
    bucket, key = staging.split_s3_path(root + "/")
    try:
        answer = staging.s3_client().s3.meta.client.list_objects_v2(Bucket=bucket, Prefix=key, MaxKeys=1)
    except Exception:  # noqa: BLE001 - an unreachable bucket shows in the rows below; this line is only a hint
        return True
    return bool(answer.get("KeyCount"))


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


def _not_enriched(source, partition: str) -> str:
    """Why a source's loaded stage has no output: the first of its stages that is not done says, where a
    setting changed (a changed search setting shows in the search stage, where it was set)."""
    for stage in source.stages():
        task = stage(partition=partition)
        if not task.output().exists():
            reason = stale_reason(task)
            if reason:
                return reason
    return f"not enriched on {source.title}"


def _width(source) -> int:
    return max(len(source.title) + 2, 8)


def main() -> int:
    """0 when the table could be drawn, 2 when there is no MSD partition to show, 1 when the
    warehouse could not be read (what is staged is still shown)."""
    partitions = discover_partitions(config.msd().root)
    if not partitions:
        print(f"error: no MSD partitions under `{config.msd().root}`: set [msd] root (environment MUSIC_ETL_MSD_ROOT) "
              f"to the folder that holds A/, B/, … (make download-msd-subset, or make sample)", file=sys.stderr)
        return 2
    sources = registry.enabled()
    loaded = _loaded_ids()
    print(f"MSD root {config.msd().root} -> staging {staging.root()} -> warehouse {redact(config.warehouse().url)}; "
          f"answers {answers.answers_root()}")
    staged_here = _staging_root_exists()
    if not staged_here:
        print(f"staging root {staging.root()} does not exist ([staging] root, environment MUSIC_ETL_STAGING_ROOT): "
              f"nothing was staged there" + (f", yet the warehouse holds loads of {len(loaded)} partition(s): is the "
                                             f"root mistyped?" if loaded else " yet"))
    print(f"{'partition':<10}{'tracks':>7}{'quarant.':>9}"
          + "".join(f"{s.title:>{_width(s)}}{'rate':>6}{'requests':>9}" for s in sources) + "  loaded")
    # Per source: songs it was asked about, songs matched, requests sent.
    totals = {"tracks": 0, "quarantined": 0, **{s.name: [0, 0, 0, False] for s in sources}}
    complete = 0
    never_staged = []  # partitions this staging root holds no extraction of, in any version
    for partition in partitions:
        extract = ExtractPartition(partition=partition)
        if not extract.output().exists():
            reason = stale_reason(extract)
            if reason is None:
                never_staged.append(partition)
            print(f"{partition:<10}  {reason or 'not extracted'}")
            continue
        counts = extract.output().read()[0]["counts"]
        totals["tracks"] += counts["tracks"]
        totals["quarantined"] += counts["quarantined"]
        line = f"{partition:<10}{counts['tracks']:>7}{counts['quarantined']:>9}"
        missing = None
        for source in sources:
            target = source.loaded_stage(partition).output()
            if not target.exists():
                missing = _not_enriched(source, partition)
                break
            line += _source_cells(target.read()[0], counts["tracks"], totals[source.name], width=_width(source))
        if missing:
            print(f"{line}  {missing}")
            continue
        current = load_id_for(partition, LoadPartition(partition=partition).input_manifests())
        if loaded is None:
            state = "unknown"
        else:
            state = "yes" if loaded.get(partition) == current else ("older staging" if partition in loaded else "no")
        complete += state == "yes"
        print(f"{line}  {state}")
    # Each source's rate over the songs it was asked about: songs not yet looked for are not unmatched.
    total_line = f"{'total':<10}{totals['tracks']:>7}{totals['quarantined']:>9}"
    for source in sources:
        songs, matched, requests, in_batch = totals[source.name]
        total_line += f"{matched:>{_width(source)}}{matched / songs if songs else 0:>6.2f}{'batch' if in_batch else requests:>9}"
    print(f"{total_line}  {complete}/{len(partitions)} partitions loaded")
    elsewhere = [p for p in never_staged if p in (loaded or {})]
    if elsewhere and staged_here:
        print(f"the warehouse holds loads of {len(elsewhere)} partition(s) this staging root never staged "
              f"({', '.join(elsewhere[:5])}{', …' if len(elsewhere) > 5 else ''}): they were loaded from another staging "
              f"root; check [staging] root (environment MUSIC_ETL_STAGING_ROOT)")
    for source in sources:
        spent = answers.total_spent(source.name)
        print(f"{source.title} requests sent by every run so far: {spent['sent_total']} in {spent['runs']} task "
              f"run{'' if spent['runs'] == 1 else 's'}"
              + (f" ({spent['rate_limited']} rate-limited)" if spent["rate_limited"] else ""))
    off = [s.name for s in registry.registered() if s not in sources]
    print("rate: matched / tracks of the enriched partitions; requests: requests sent to each source to produce "
          "each partition's current enrichment, every one (retries, rate-limited, error and token requests "
          "included; answers from the store cost none; batch: asked across partitions, counted in the totals below)"
          + (f"; off ([sources] enabled): {', '.join(off)}" if off else ""))
    return 0 if loaded is not None else 1


def _source_cells(manifest: dict, tracks: int, totals: list[int], width: int) -> str:
    """One source's matched, rate and requests for a partition (added to ``totals``)."""
    matched = (manifest.get("statuses") or {}).get("matched", 0)
    songs = manifest.get("songs", tracks)  # quarantined files are not songs to match
    totals[0] += songs
    totals[1] += matched
    totals[2] += requests_sent(manifest)
    # A stage whose requests a cross-partition step sent (1,000 songs a request) has none of its own to show.
    in_batch = bool((manifest.get("requests") or {}).get("asked_in_batch"))
    totals[3] = totals[3] or in_batch
    asked = "batch" if in_batch else requests_sent(manifest)
    return f"{matched:>{width}}{matched / songs if songs else 0:>6.2f}{asked:>9}"
