"""The four event functions, one folder each: ingest, score, persist, alert."""
