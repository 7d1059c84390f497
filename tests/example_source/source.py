"""The example source's declaration: one table, two view columns, a report section."""

from __future__ import annotations

from pipeline.sources.base import ReportSection, Source
from pipeline.warehouse.table import Table
from tests.example_source.settings import example


class Example(Source):
    name = "example"
    title = "Example"
    on_by_default = False
    tables = (Table("example_facts", "example", "facts.jsonl.gz", key=("track_id",), owned=True),)
    terms = "Example facts are the test's own."

    def settings(self):
        return example()

    def stages(self):
        from tests.example_source.tasks import ExampleEnrich

        return (ExampleEnrich,)

    def report_sections(self, context):
        section = ReportSection("example", "Example facts", self.name, "report.html.j2")
        if context.empty_why or "example_facts" not in context.tables:
            section.available, section.why = False, context.empty_why or "no example facts are loaded"
            return [section]
        section.facts = {"labelled": context.backend.scalar("SELECT count(*) FROM example_facts"),
                         "plays": context.backend.scalar("SELECT sum(plays) FROM example_facts")}
        return [section]


SOURCE = Example()
