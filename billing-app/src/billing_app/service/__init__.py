"""Use cases: public account operations and saga commands."""
