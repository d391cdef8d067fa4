"""The `township` command line: the top layer, above the flows (see docs/architecture.md)."""
