"""The project's commands (`make run`, `make test`, `make bench`) and the process helpers they, the test suite and
the benchmarks share (`scripts.processes`)."""
