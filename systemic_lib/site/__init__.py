"""The reports folder as a site: the manifest of every job, the index pages, and councils compared (read from the
stage JSON files only)."""
