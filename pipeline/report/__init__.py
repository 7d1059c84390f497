"""The run report: facts from the warehouse and staging, figures, one self-contained HTML page."""
