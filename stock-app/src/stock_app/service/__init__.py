"""Use cases: public product operations and saga commands."""
