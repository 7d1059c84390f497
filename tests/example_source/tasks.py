"""``ExampleEnrich``: one partition's songs looked up in the CSV, staged for the partition's load."""

from __future__ import annotations

import csv
import hashlib

from pipeline.tasks.base import SourceStage
from pipeline.tasks.extract import ExtractPartition, staged_songs
from tests.example_source.settings import example


def read_facts(path: str) -> dict[str, dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        return {row["track_id"]: row for row in csv.DictReader(fh)}


class ExampleEnrich(SourceStage):
    source = "example"
    stage = "example"

    def requires(self):
        return ExtractPartition(partition=self.partition)

    @classmethod
    def output_settings(cls) -> dict:
        with open(example().facts, "rb") as fh:  # the facts' content, not their path, versions the output
            return {"facts_sha256": hashlib.sha256(fh.read()).hexdigest()[:16]}

    def run(self):
        if not self.start():
            return
        facts = read_facts(example().facts)
        songs = staged_songs(self.partition)
        rows = [{"track_id": s.track_id, "msd_partition": self.partition, "label": facts[s.track_id]["label"],
                 "plays": int(facts[s.track_id]["plays"])} for s in songs if s.track_id in facts]
        self.write_files({"facts.jsonl.gz": rows})
        self.write_manifest({"songs": len(songs), "statuses": {"matched": len(rows), "not_found": len(songs) - len(rows)},
                             "rows": {"facts.jsonl.gz": len(rows)}, "requests": {"sent_total": 0}})
