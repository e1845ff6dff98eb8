"""`make bench`: the performance benchmarks of SPEC §9 (`python -m bench`, see bench/__main__.py)."""
