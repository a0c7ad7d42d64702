"""The benchmark harness and its reports; run its modules from the repository root, e.g.
`python -m benchmarks.run ...` (see benchmarks/README.md)."""
