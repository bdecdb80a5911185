"""A PostgreSQL that cannot be reached fails only the tests that need it, each with one line naming the URL."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOWHERE = "postgresql://postgres@127.0.0.1:1/test"  # port 1: nothing listens, the connection is refused at once


@pytest.mark.e2e
def test_tests_that_need_an_unreachable_postgresql_fail_in_one_line_and_the_rest_pass() -> None:
    env = {**os.environ, "LOOPLINE_TEST_POSTGRES_URL": NOWHERE}
    # Fresh (database_url) and empty (empty_database_url) databases, on both backends.
    chosen = ["tests/test_migrations.py", "tests/test_result_tallies.py", "-p", "no:cacheprovider", "-p", "no:xdist"]
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rfE", *chosen],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    out = result.stdout
    summary = re.search(r"(\d+) passed, (\d+) errors? in", out)
    assert result.returncode == 1 and summary, out
    passed, failed = int(summary.group(1)), int(summary.group(2))
    # The fixture that makes the database fails: the test is reported as an error at setup, one line each.
    failures = [line for line in out.splitlines() if line.startswith(("FAILED ", "ERROR "))]
    assert len(failures) == failed and all("[postgres" in line for line in failures), out
    # Every SQLite test passed; the PostgreSQL ones each say, on their line, which server could not be reached.
    assert passed >= failed > 0, out
    lines = out.splitlines()
    headers = [i for i, line in enumerate(lines) if re.match(r"_+ ERROR at setup of \S+\[postgres\] _+$", line)]
    assert len(headers) == failed, out
    for i in headers:
        assert lines[i + 1].startswith(f"PostgreSQL at {NOWHERE} cannot be reached: "), out
        assert lines[i + 2].startswith(("_", "=")), f"more than one line for {lines[i]}:\n{out}"
    assert "Traceback" not in out and "sqlalchemy.exc" not in out, out
