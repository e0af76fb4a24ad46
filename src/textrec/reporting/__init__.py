"""The pipeline report: one HTML page and a markdown summary built from the stages' output files."""
