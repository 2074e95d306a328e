"""Search exports: readers for what databases and reference managers write, the normalised keys
records are compared on, and deduplication.

- :mod:`analysis.search.exports` reads one export into the record table (``read_export``,
  ``read_export_report``); :mod:`analysis.search.detect` recognises the format by content;
- :mod:`analysis.search.readers` holds one reader per format, :mod:`analysis.search.fields`
  maps export fields to record fields from ``analysis/search/field_aliases.csv``;
- :mod:`analysis.search.normalize` builds the keys (DOI, PMID, title, author, year...);
- :mod:`analysis.search.dedup` links duplicates into clusters and measures them against labels.
"""
