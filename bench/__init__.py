"""Benchmarks (``make bench``): throughput figures printed for people, never asserted in tests."""
