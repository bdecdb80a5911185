"""Benchmark harness for Loopline's inbound webhook path.

Not collected by pytest (no ``test_*.py`` files here); run it with
``python -m tests.perf.bench_webhook`` (``make bench``). See README.md.
"""
