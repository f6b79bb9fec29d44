"""Use cases: public courier and booking reads, saga commands."""
