"""Co-design search: a NAS-Bench-201 cell and its overlay architecture together (issue 11, docs/codesign.md)."""
