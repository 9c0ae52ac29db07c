"""Order Desk benchmarks (`python -m benchmarks`, `make bench`): see design/PERFORMANCE.md."""
