"""What is staged: one line per partition from the manifests (``python -m pipeline.status``)."""

from __future__ import annotations

import sys

from pipeline import config, staging
from pipeline.partitions import discover_partitions


def staged_partitions(stage: str = "msd") -> list[dict]:
    rows = []
    for partition in discover_partitions(config.msd().root):
        target = staging.target(f"{staging.partition_prefix(stage, partition)}/{staging.MANIFEST}")
        if not target.exists():
            rows.append({"partition": partition, "done": False})
            continue
        manifest = staging.read_json(target)
        rows.append({"partition": partition, "done": True, **manifest["counts"]})
    return rows


def main() -> int:
    rows = staged_partitions()
    print(f"MSD root {config.msd().root} -> staging {staging.root()}")
    print(f"{'partition':<10}{'files':>8}{'tracks':>8}{'artists':>9}{'quarantined':>13}{'utf8 fixes':>12}")
    totals = {"files": 0, "tracks": 0, "artists": 0, "quarantined": 0, "decode_warnings": 0}
    for row in rows:
        if not row["done"]:
            print(f"{row['partition']:<10}{'not extracted':>50}")
            continue
        for key in totals:
            totals[key] += row[key]
        print(f"{row['partition']:<10}{row['files']:>8}{row['tracks']:>8}{row['artists']:>9}"
              f"{row['quarantined']:>13}{row['decode_warnings']:>12}")
    done = sum(r["done"] for r in rows)
    print(f"{'total':<10}{totals['files']:>8}{totals['tracks']:>8}{totals['artists']:>9}"
          f"{totals['quarantined']:>13}{totals['decode_warnings']:>12}   ({done}/{len(rows)} partitions extracted)")
    return 0 if done == len(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
