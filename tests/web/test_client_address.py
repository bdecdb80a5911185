"""Sign-in throttling that one address cannot turn against everyone: failures count per (e-mail, address) and per
address, and the address is X-Forwarded-For's only behind a proxy named in LOOPLINE_TRUSTED_PROXIES."""

from __future__ import annotations

from collections.abc import Iterator
from ipaddress import ip_network
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from starlette.testclient import TestClient

from bot.cli import main
from bot.runtime import Runtime
from bot.settings import SettingsError, load_settings
from bot.staff import accounts
from bot.store.engagement import AuditEvent
from bot.web.app import create_app
from bot.web.proxies import client_host
from tests.conftest import make_settings
from tests.support.staff import PASSWORD, csrf_of, make_user

ATTACKER, STAFF, PROXY = "203.0.113.7", "198.51.100.2", "10.0.0.2"
WRONG = "not the password at all"


def _browser(app: object, address: str) -> TestClient:
    """A client whose connection comes from this address."""
    return TestClient(app, base_url="http://testserver", client=(address, 50000))  # type: ignore[arg-type]


def _login(browser: TestClient, email: str, password: str, forwarded_for: str | None = None) -> int:
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for is not None else {}
    form = browser.get("/login")
    data = {"email": email, "password": password, "csrf_token": csrf_of(form.text)}
    return browser.post("/login", data=data, headers=headers, follow_redirects=False).status_code


def _failed_sign_in_actors(runtime: Runtime) -> list[str]:
    with runtime.db.transaction() as session:
        query = select(AuditEvent.actor).where(AuditEvent.action == "login.failed").order_by(AuditEvent.id)
        return list(session.scalars(query))


@pytest.fixture
def behind_proxy(database_url: str) -> Iterator[Runtime]:
    """A store whose settings trust the proxy at PROXY."""
    runtime = Runtime(make_settings(database_url, LOOPLINE_TELEGRAM_TOKEN="", LOOPLINE_TRUSTED_PROXIES=PROXY))
    runtime.prepare(migrate=True)
    yield runtime
    runtime.close()


def test_failures_from_one_address_do_not_lock_the_account_elsewhere(client: TestClient, runtime: Runtime) -> None:
    email = make_user(runtime, "admin")
    attacker = _browser(client.app, ATTACKER)
    for _ in range(accounts.ADDRESS_FAILURES_ALLOWED + 3):
        assert _login(attacker, email, WRONG) in (401, 429)
    assert _login(attacker, email, PASSWORD) == 429  # the attacker's address stays locked out
    assert _login(_browser(client.app, STAFF), email, PASSWORD) == 303  # the admin, from elsewhere, signs in


def test_an_account_is_locked_only_for_the_address_that_failed(client: TestClient, runtime: Runtime) -> None:
    email, other = make_user(runtime, "staff"), make_user(runtime, "viewer")
    attacker = _browser(client.app, ATTACKER)
    for _ in range(accounts.EMAIL_FAILURES_ALLOWED):
        assert _login(attacker, email, WRONG) == 401
    assert _login(attacker, email, PASSWORD) == 429
    assert _login(attacker, other, PASSWORD) == 303  # the address itself is not locked yet
    assert _login(_browser(client.app, STAFF), email, PASSWORD) == 303


def test_forwarded_for_is_ignored_without_trusted_proxies(client: TestClient, runtime: Runtime) -> None:
    email = make_user(runtime, "staff")
    attacker = _browser(client.app, ATTACKER)
    for n in range(accounts.ADDRESS_FAILURES_ALLOWED):
        assert _login(attacker, f"nobody{n}@health.example", WRONG, forwarded_for=f"192.0.2.{n + 1}") == 401
    assert _login(attacker, email, PASSWORD, forwarded_for=STAFF) == 429  # the address is locked, for every account
    assert set(_failed_sign_in_actors(runtime)) == {f"anonymous:{ATTACKER}"}
    assert _login(_browser(client.app, STAFF), email, PASSWORD) == 303


def test_forwarded_for_decides_behind_a_trusted_proxy(behind_proxy: Runtime) -> None:
    runtime, app = behind_proxy, create_app(behind_proxy, deliver=False)
    email = make_user(runtime, "admin")
    proxy = _browser(app, PROXY)
    for n in range(accounts.ADDRESS_FAILURES_ALLOWED):
        assert _login(proxy, f"nobody{n}@health.example", WRONG, forwarded_for=ATTACKER) == 401
    assert _login(proxy, email, PASSWORD, forwarded_for=ATTACKER) == 429
    # What the attacker writes left of the address the proxy saw is not believed.
    assert _login(proxy, email, PASSWORD, forwarded_for=f"{STAFF}, {ATTACKER}") == 429
    assert _login(proxy, email, PASSWORD, forwarded_for=STAFF) == 303
    assert set(_failed_sign_in_actors(runtime)) == {f"anonymous:{ATTACKER}"}
    # A connection that does not come from the proxy is its own address, whatever it claims.
    assert _login(_browser(app, "192.0.2.99"), email, WRONG, forwarded_for=STAFF) == 401
    assert _failed_sign_in_actors(runtime)[-1] == "anonymous:192.0.2.99"


TRUSTED = (ip_network("10.0.0.0/24"), ip_network("fd00::/8"))


@pytest.mark.parametrize(
    ("peer", "forwarded_for", "expected"),
    [
        ("203.0.113.7", ["198.51.100.2"], "203.0.113.7"),  # not from a proxy: the header is ignored
        ("10.0.0.2", [], "10.0.0.2"),  # from the proxy itself
        ("10.0.0.2", ["198.51.100.2"], "198.51.100.2"),
        ("10.0.0.2", ["1.1.1.1, 198.51.100.2"], "198.51.100.2"),  # the right-most one not trusted
        ("10.0.0.2", ["1.1.1.1, 198.51.100.2, 10.0.0.9"], "198.51.100.2"),  # through two proxies
        ("10.0.0.2", ["1.1.1.1", "198.51.100.2"], "198.51.100.2"),  # the header sent twice, in order
        ("10.0.0.2", ["10.0.0.7, 10.0.0.8"], "10.0.0.7"),  # only proxies: the first of them
        ("10.0.0.2", ["not-an-address, 10.0.0.8"], "10.0.0.8"),  # garbage: the hop that passed it on
        ("10.0.0.2", [" 2001:DB8::1 "], "2001:db8::1"),
        ("fd00::5", ["::ffff:198.51.100.2"], "198.51.100.2"),
        ("::ffff:10.0.0.2", ["198.51.100.2"], "198.51.100.2"),
        ("testclient", ["198.51.100.2"], "testclient"),  # a peer that is not an address stays itself
        ("", [], "unknown"),
    ],
)
def test_the_rule_for_the_client_address(peer: str, forwarded_for: list[str], expected: str) -> None:
    assert client_host(peer, forwarded_for, TRUSTED) == expected


def test_trusted_proxies_setting() -> None:
    base = {"LOOPLINE_DATABASE_URL": "sqlite:///x.db"}
    assert load_settings(base).trusted_proxies == ()
    given = load_settings({**base, "LOOPLINE_TRUSTED_PROXIES": " 10.0.0.2, 172.30.57.0/24 ,fd00::/8,"})
    assert given.trusted_proxies == (ip_network("10.0.0.2/32"), ip_network("172.30.57.0/24"), ip_network("fd00::/8"))
    for bad in ("10.0.0.300", "10.0.0.0/33", "10.0.0.1/8", "proxy.internal", "*", "10.0.0.2;10.0.0.3"):
        with pytest.raises(SettingsError) as raised:
            load_settings({**base, "LOOPLINE_TRUSTED_PROXIES": bad})
        assert raised.value.variable == "LOOPLINE_TRUSTED_PROXIES"
        assert "\n" not in str(raised.value)


def test_a_bad_trusted_proxies_value_stops_the_command_with_one_line(tmp_path: Path) -> None:
    env = {"LOOPLINE_DATABASE_URL": f"sqlite:///{tmp_path}/x.db", "LOOPLINE_TRUSTED_PROXIES": "10.0.0.0/33"}
    for command in (["migrate"], ["users", "list"]):
        result = CliRunner().invoke(main, command, env=env)
        assert result.exit_code == 2, (command, result.output)
        (line,) = result.stderr.splitlines()
        assert line.startswith("loopline: LOOPLINE_TRUSTED_PROXIES: "), line
    assert not (tmp_path / "x.db").exists()
