"""One reader per export format; each returns :class:`~analysis.search.readers.base.Entries`."""
