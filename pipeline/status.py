"""Where each partition stands: extracted, enriched, loaded (``python -m pipeline.status``)."""

from __future__ import annotations

import sys

from pipeline import config, staging
from pipeline.partitions import discover_partitions


def _manifest(stage: str, partition: str) -> dict | None:
    target = staging.target(f"{staging.partition_prefix(stage, partition)}/{staging.MANIFEST}")
    return staging.read_json(target) if target.exists() else None


def _loaded_ids() -> dict[str, str]:
    """Partition → load id recorded in the warehouse's marker table ({} if there is none yet)."""
    from pipeline.tasks.load import warehouse_backend
    from pipeline.warehouse.target import marker_table_exists_sql

    backend = warehouse_backend()
    try:
        if not backend.query(marker_table_exists_sql(backend.dialect)):
            return {}
        return dict(backend.query("SELECT msd_partition, load_id FROM etl_load_markers WHERE step = 'load'"))
    except Exception as exc:  # status must still print what is staged when the warehouse is unreachable
        print(f"(warehouse not readable: {exc})")
        return {}
    finally:
        backend.close()


def main() -> int:
    from pipeline.warehouse.load import load_id_for

    loaded = _loaded_ids()
    print(f"MSD root {config.msd().root} -> staging {staging.root()} -> warehouse {config.warehouse().url}")
    print(f"{'partition':<10}{'tracks':>7}{'quarant.':>9}{'matched':>9}{'rate':>7}{'requests':>9}  loaded")
    totals = {"tracks": 0, "quarantined": 0, "matched": 0, "requests": 0}
    partitions = discover_partitions(config.msd().root)
    complete = 0
    for partition in partitions:
        msd, spotify = _manifest("msd", partition), _manifest("spotify", partition)
        if msd is None:
            print(f"{partition:<10}{'not extracted':>14}")
            continue
        counts = msd["counts"]
        totals["tracks"] += counts["tracks"]
        totals["quarantined"] += counts["quarantined"]
        line = f"{partition:<10}{counts['tracks']:>7}{counts['quarantined']:>9}"
        if spotify is None:
            print(line + f"{'not enriched':>25}")
            continue
        matched = spotify["statuses"]["matched"]
        totals["matched"] += matched
        totals["requests"] += spotify["requests"]["this_run_total"]
        current = load_id_for(partition)
        state = "yes" if loaded.get(partition) == current else ("older staging" if partition in loaded else "no")
        complete += state == "yes"
        print(line + f"{matched:>9}{spotify['match_rate'] or 0:>7.2f}{spotify['requests']['this_run_total']:>9}  {state}")
    rate = totals["matched"] / totals["tracks"] if totals["tracks"] else 0
    print(f"{'total':<10}{totals['tracks']:>7}{totals['quarantined']:>9}{totals['matched']:>9}{rate:>7.2f}"
          f"{totals['requests']:>9}  {complete}/{len(partitions)} partitions loaded")
    return 0


if __name__ == "__main__":
    sys.exit(main())
