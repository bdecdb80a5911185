"""`loopline users` as a subprocess: the first admin, a prompted password, tokens, deactivation, and the demo admin."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from bot.runtime import Runtime
from bot.store.engagement import AuditEvent
from bot.store.staff import User
from bot.web.app import create_app
from tests.conftest import make_settings
from tests.e2e.test_cli import _run
from tests.support.staff import sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


def _runtime(tmp_path: Path) -> Runtime:
    runtime = Runtime(make_settings(f"sqlite:///{tmp_path}/cli.db", LOOPLINE_TELEGRAM_TOKEN=""))
    runtime.prepare(migrate=False)
    return runtime


def test_first_admin_from_a_password_file_then_a_token_that_works(tmp_path: Path) -> None:
    assert _run(["migrate"], tmp_path).returncode == 0
    secret = tmp_path / "password.txt"
    secret.write_text("a long enough password\n", encoding="utf-8")
    made = _run(
        ["users", "create", "--email", "Ana@Health.example", "--role", "admin", "--password-file", str(secret)],
        tmp_path,
    )
    assert made.returncode == 0, made.stderr
    assert "created admin ana@health.example" in made.stdout
    again = _run(
        ["users", "create", "--email", "ana@health.example", "--role", "admin", "--password-file", str(secret)],
        tmp_path,
    )
    assert again.returncode == 1 and "already exists" in again.stderr
    token = _run(["users", "token", "--email", "ana@health.example", "--name", "reports"], tmp_path)
    assert token.returncode == 0 and token.stdout.startswith("ll_")
    runtime = _runtime(tmp_path)
    try:
        with runtime.db.transaction() as session:
            stored = session.scalars(select(User.password_hash).where(User.email == "ana@health.example")).one()
        # The shipped command hashes at production cost (the suite's own process uses cheap parameters).
        assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$"), stored
        with TestClient(create_app(runtime, deliver=False)) as client:
            assert (
                client.get("/api/v1/me", headers={"Authorization": "Bearer " + token.stdout.strip()}).status_code == 200
            )
            sign_in(client, "ana@health.example", "a long enough password")
        with runtime.db.transaction() as session:
            actions = list(session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))
        assert actions[:2] == ["user.create", "token.create"]
        assert "login" in actions
    finally:
        runtime.close()
    listed = _run(["users", "list"], tmp_path)
    assert "ana@health.example\tadmin" in listed.stdout
    assert _run(["users", "deactivate", "--email", "ana@health.example"], tmp_path).returncode == 0
    runtime = _runtime(tmp_path)
    try:
        with TestClient(create_app(runtime, deliver=False)) as client:
            assert (
                client.get("/api/v1/me", headers={"Authorization": "Bearer " + token.stdout.strip()}).status_code == 401
            )
    finally:
        runtime.close()


def test_prompted_password_must_match_and_be_long(tmp_path: Path) -> None:
    assert _run(["migrate"], tmp_path).returncode == 0
    differ = _run(
        ["users", "create", "--email", "s@x.example", "--role", "staff"],
        tmp_path,
        stdin="first password 1\nsecond password 2\n",
    )
    assert differ.returncode == 2 and "differ" in differ.stderr
    short = _run(["users", "create", "--email", "s@x.example", "--role", "staff"], tmp_path, stdin="short\nshort\n")
    assert short.returncode == 1 and "at least 12 characters" in short.stderr
    partner = _run(
        ["users", "create", "--email", "p@x.example", "--role", "partner"],
        tmp_path,
        stdin="partner password\npartner password\n",
    )
    assert partner.returncode == 1 and "organization" in partner.stderr


def test_demo_prints_an_admin_login_that_signs_in(tmp_path: Path) -> None:
    demo = _run(["demo", "--residents"], tmp_path)
    assert demo.returncode == 0, demo.stderr
    assert "8 demo residents answered the poll and gave feedback" in demo.stdout
    found = re.search(r"sign in at http://127.0.0.1:8000/login as (\S+) with the password (\S+)", demo.stdout)
    assert found, demo.stdout
    again = _run(["demo", "--residents"], tmp_path)
    assert "The demo residents are already there." in again.stdout
    assert found.group(2) not in again.stdout  # a new password each run
    password = re.search(r"with the password (\S+)", again.stdout)
    assert password
    runtime = _runtime(tmp_path)
    try:
        with TestClient(create_app(runtime, deliver=False)) as client:
            sign_in(client, found.group(1), password.group(1))
            inbox = client.get("/dashboard/inbox").text
            assert "Une clinique" not in inbox and "No hay intérpretes en la clínica." in inbox
            assert "诊所的等候时间太长了。" in inbox and "نحتاج إلى إنارة أفضل في الحديقة." in inbox
            results = client.get("/dashboard/polls/health-priorities").text
            assert "8 respondents" in results or ">8<" in results
    finally:
        runtime.close()
