"""The deployment files in deploy/ agree with the code.

Commands and options exist in the CLI, every LOOPLINE_* variable they set is one the code reads, health checks
hit a real route on the port the server listens on, and the image runs `loopline` as a non-root user with the
source layout the code expects. No container engine is needed: the Dockerfile is read as text.
"""

from __future__ import annotations

import asyncio
import json
import re
import shlex
import tomllib
from collections.abc import Iterator
from ipaddress import ip_address, ip_network
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import click
import pytest
import yaml

from bot.cli import main
from bot.settings import load_settings

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
DOCKERFILE = DEPLOY / "Dockerfile"
COMPOSE = DEPLOY / "compose.yaml"
K8S = DEPLOY / "k8s"
HEALTH_PATH = "/healthz"
REQUIRED = ("LOOPLINE_DATABASE_URL", "LOOPLINE_PUBLIC_URL")
WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "Pod"}
_SUBSTITUTION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")


# --- reading the files -----------------------------------------------------------------------------------


def _dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, comments dropped and continuation lines joined."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, rest = (pending + line).partition(" ")
        instructions.append((keyword.upper(), rest.strip()))
        pending = ""
    assert not pending, "deploy/Dockerfile ends with a line continuation"
    return instructions


def _stages() -> list[list[tuple[str, str]]]:
    """The Dockerfile's build stages, each starting with its FROM."""
    stages: list[list[tuple[str, str]]] = []
    for keyword, rest in _dockerfile():
        if keyword == "FROM":
            stages.append([])
        if stages:
            stages[-1].append((keyword, rest))
    assert stages, "deploy/Dockerfile has no FROM"
    return stages


def _final(keyword: str) -> str | None:
    """The arguments of the last `keyword` instruction of the final stage (the image that runs)."""
    found = [rest for kw, rest in _stages()[-1] if kw == keyword]
    return found[-1] if found else None


def _exec_form(keyword: str) -> list[str]:
    value = _final(keyword)
    assert value is not None, f"deploy/Dockerfile: the final stage has no {keyword}"
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError:
        pytest.fail(f"deploy/Dockerfile: {keyword} {value} is not in exec (JSON array) form")
    assert isinstance(parsed, list), f"deploy/Dockerfile: {keyword} must be a JSON array"
    return [str(item) for item in parsed]


def _exposed_ports() -> set[int]:
    ports = set()
    for keyword, rest in _stages()[-1]:
        if keyword == "EXPOSE":
            ports |= {int(token.split("/")[0]) for token in rest.split()}
    return ports


def _compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    assert isinstance(data, dict), "deploy/compose.yaml is not a mapping"
    return data


def _k8s_docs() -> list[tuple[str, dict[str, Any]]]:
    docs = []
    for path in sorted(K8S.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if doc is not None:
                docs.append((path.name, doc))
    assert docs, "deploy/k8s holds no manifests"
    return docs


def _k8s(kind: str) -> list[tuple[str, dict[str, Any]]]:
    return [(name, doc) for name, doc in _k8s_docs() if doc.get("kind") == kind]


def _pod_template(doc: dict[str, Any]) -> dict[str, Any]:
    """The pod a workload runs: its metadata and spec."""
    if doc["kind"] == "Pod":
        return doc
    spec = doc["spec"]["jobTemplate"]["spec"] if doc["kind"] == "CronJob" else doc["spec"]
    template: dict[str, Any] = spec["template"]
    return template


def _pod_spec(doc: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = _pod_template(doc)["spec"]
    return spec


def _pod_labels(doc: dict[str, Any]) -> dict[str, str]:
    labels: dict[str, str] = _pod_template(doc)["metadata"].get("labels", {})
    return labels


def _k8s_containers() -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(where, workload document, container) for every container of every workload."""
    for name, doc in _k8s_docs():
        if doc.get("kind") in WORKLOAD_KINDS:
            spec = _pod_spec(doc)
            for container in spec.get("initContainers", []) + spec["containers"]:
                yield f"deploy/k8s/{name} ({doc['metadata']['name']}, container {container['name']})", doc, container


def _loopline_services() -> dict[str, dict[str, Any]]:
    """The compose services that run the Loopline image (the ones built from deploy/Dockerfile)."""
    services = _compose()["services"]
    return {
        name: service
        for name, service in services.items()
        if isinstance(service.get("build"), dict) and "Dockerfile" in service["build"].get("dockerfile", "")
    }


def _compose_env(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        return dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(key): value for key, value in env.items()}


def _interpolate(value: str, given: dict[str, str]) -> str:
    """Compose's ${VAR}, ${VAR:-default}, ${VAR:?error} substitution with only `given` in the environment."""

    def replace(match: re.Match[str]) -> str:
        name, operator, word = match.group(1), match.group(2), match.group(3)
        current = given.get(name)
        if operator in (":-", "-"):
            return current if current or (operator == "-" and current is not None) else word
        if operator in (":?", "?"):
            if not current:
                raise LookupError(f"{name}: {word}")
            return current
        return current or ""

    return _SUBSTITUTION.sub(replace, value)


# --- invocations of the CLI ------------------------------------------------------------------------------


def _invocations() -> list[tuple[str, list[str]]]:
    """(where, arguments after `loopline`) for the image's default command, compose and every k8s container."""
    entrypoint = _exec_form("ENTRYPOINT")
    default = _exec_form("CMD")
    found = [("deploy/Dockerfile CMD", default)]
    for name, service in _loopline_services().items():
        where = f"deploy/compose.yaml service {name}"
        if "entrypoint" in service:
            given = service["entrypoint"]
            assert (shlex.split(given) if isinstance(given, str) else given) == entrypoint, (
                f"{where}: entrypoint {given!r} replaces the image's {entrypoint}"
            )
        command = service.get("command", default)
        found.append((where, shlex.split(command) if isinstance(command, str) else [str(c) for c in command]))
    for where, _doc, container in _k8s_containers():
        command = container.get("command")
        args = [str(a) for a in container.get("args", [])]
        if command is not None:
            assert command[:1] == ["loopline"], f"{where}: command {command} does not run `loopline`"
            args = [str(c) for c in command[1:]] + args
        found.append((where, args or default))
    return found


def _resolve(argv: list[str]) -> tuple[click.Command, list[str], list[str]]:
    """The click command an argument list names, its path and the arguments left for it."""
    command: click.Command = main
    path: list[str] = []
    rest = list(argv)
    while isinstance(command, click.Group):
        assert rest, f"`loopline {' '.join(path)}` needs a subcommand"
        name = rest.pop(0)
        sub = command.commands.get(name)
        assert sub is not None, (
            f"`loopline {' '.join([*path, name])}` is not a command of the CLI "
            f"(it has: {', '.join(sorted(command.commands))})"
        )
        command, path = sub, [*path, name]
    return command, path, rest


def _option_value(command: click.Command, rest: list[str], option: str) -> Any:
    """The value an option takes in `rest` (the CLI's default when absent), as click converts it."""
    context = command.make_context("loopline", list(rest), resilient_parsing=False)
    for param in command.params:
        if option in param.opts:
            return context.params[param.name or ""]
    raise AssertionError(f"{option} is not an option of `loopline {command.name}`")


def _serve_invocations() -> list[tuple[str, list[str]]]:
    return [(where, argv) for where, argv in _invocations() if argv[:1] == ["serve"]]


def _serve_port(argv: list[str]) -> int:
    command, _path, rest = _resolve(argv)
    return int(_option_value(command, rest, "--port"))


# --- tests -----------------------------------------------------------------------------------------------


def test_every_deploy_yaml_parses_and_k8s_manifests_are_namespace_less() -> None:
    problems = []
    for path in sorted(DEPLOY.rglob("*.yaml")):
        try:
            docs = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]
        except yaml.YAMLError as exc:
            problems.append(f"{path.relative_to(ROOT)}: not valid YAML: {exc}")
            continue
        if not docs:
            problems.append(f"{path.relative_to(ROOT)}: empty")
    for name, doc in _k8s_docs():
        for key in ("apiVersion", "kind", "metadata"):
            if key not in doc:
                problems.append(f"deploy/k8s/{name}: a document has no {key}")
        if "namespace" in doc.get("metadata", {}):
            problems.append(f"deploy/k8s/{name}: sets metadata.namespace; the manifests must be namespace-less")
    assert problems == [], "\n".join(problems)


def test_every_command_and_option_used_exists_in_the_cli() -> None:
    invocations = _invocations()
    used = {argv[0] for _where, argv in invocations if argv}
    assert {"serve", "worker", "migrate"} <= used, f"serve, worker and migrate should all be deployed; found {used}"
    problems = []
    for where, argv in invocations:
        try:
            command, path, rest = _resolve(argv)
        except AssertionError as exc:
            problems.append(f"{where}: {exc}")
            continue
        known = {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)}
        for token in rest:
            if token.startswith("-") and token.split("=", 1)[0] not in known:
                problems.append(
                    f"{where}: `loopline {' '.join(path)}` has no option {token.split('=', 1)[0]} "
                    f"(it has: {', '.join(sorted(known))})"
                )
        try:
            command.make_context("loopline " + " ".join(path), list(rest), resilient_parsing=False)
        except click.ClickException as exc:
            problems.append(f"{where}: `loopline {' '.join(argv)}` is refused by the CLI: {exc.format_message()}")
    assert problems == [], "\n".join(problems)


def test_serve_listens_on_all_interfaces_and_leaves_delivery_to_the_workers() -> None:
    problems = []
    for where, argv in _serve_invocations():
        command, _path, rest = _resolve(argv)
        host = _option_value(command, rest, "--host")
        if host not in ("0.0.0.0", "::"):
            problems.append(f"{where}: serve listens on {host!r}, unreachable from outside the container")
        if where != "deploy/Dockerfile CMD" and not _option_value(command, rest, "--no-delivery"):
            problems.append(f"{where}: serve runs without --no-delivery although worker processes are deployed")
    assert problems == [], "\n".join(problems)


def test_every_loopline_variable_set_is_read_by_the_code() -> None:
    code = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "bot").rglob("*.py"))
    read = set(re.findall(r"LOOPLINE_[A-Z0-9_]+", code)) - {"LOOPLINE_"}
    assert read, "no LOOPLINE_* variables found in bot/: the pattern is wrong"
    set_by: dict[str, set[str]] = {}
    compose = _compose()
    for name in compose.get("x-loopline-env", {}):
        set_by.setdefault(name, set()).add("deploy/compose.yaml x-loopline-env")
    for service_name, service in compose["services"].items():
        for name in _compose_env(service):
            set_by.setdefault(name, set()).add(f"deploy/compose.yaml service {service_name}")
    for kind, keys in (("ConfigMap", ("data",)), ("Secret", ("data", "stringData"))):
        for file_name, doc in _k8s(kind):
            for key in keys:
                for name in doc.get(key) or {}:
                    set_by.setdefault(name, set()).add(f"deploy/k8s/{file_name}")
    for where, _doc, container in _k8s_containers():
        for item in container.get("env", []):
            set_by.setdefault(item["name"], set()).add(where)
    unknown = {
        name: sorted(places) for name, places in set_by.items() if name.startswith("LOOPLINE_") and name not in read
    }
    assert unknown == {}, f"LOOPLINE_* variables set in deploy/ that no code in bot/ reads: {unknown}"


def test_compose_services_share_one_production_env() -> None:
    compose = _compose()
    anchor = compose.get("x-loopline-env")
    assert isinstance(anchor, dict), "deploy/compose.yaml: no x-loopline-env mapping shared by the services"
    services = _loopline_services()
    assert services, "deploy/compose.yaml: no service is built from deploy/Dockerfile"
    problems = []
    for name, service in services.items():
        env = _compose_env(service)
        if env != anchor:
            problems.append(f"service {name}: its environment differs from x-loopline-env")
        for variable in REQUIRED:
            raw = env.get(variable)
            try:
                value = _interpolate(str(raw or ""), {})
            except LookupError:
                continue  # ${VAR:?…}: compose refuses to start without it, as it should
            if not value:
                problems.append(f"service {name}: {variable} is not set (or defaults to empty)")
    if anchor.get("LOOPLINE_SIMULATOR") != "off":
        problems.append(f"LOOPLINE_SIMULATOR is {anchor.get('LOOPLINE_SIMULATOR')!r}, not the string 'off'")
    if anchor.get("LOOPLINE_TELEGRAM_MODE", "webhook") != "webhook":
        problems.append("LOOPLINE_TELEGRAM_MODE must be webhook: several processes cannot all poll Telegram")
    assert problems == [], "deploy/compose.yaml:\n" + "\n".join(problems)

    given = {"POSTGRES_PASSWORD": "secret", "LOOPLINE_PUBLIC_URL": "https://loopline.example.org"}
    env = {key: _interpolate(str(value), given) for key, value in anchor.items()}
    settings = load_settings(env)  # raises SettingsError naming the variable the code would refuse
    assert not settings.is_sqlite, "deploy/compose.yaml: LOOPLINE_DATABASE_URL is not a PostgreSQL URL"
    assert not settings.simulator, "deploy/compose.yaml: the simulator (no sign-in) would be on"
    host = urlsplit(settings.database_url).hostname
    assert host in compose["services"], f"deploy/compose.yaml: LOOPLINE_DATABASE_URL names host {host!r}, no service"


def test_the_proxy_in_front_of_serve_is_trusted() -> None:
    compose = _compose()
    given = {"POSTGRES_PASSWORD": "secret", "LOOPLINE_PUBLIC_URL": "https://loopline.example.org"}
    env = {key: _interpolate(str(value), given) for key, value in compose["x-loopline-env"].items()}
    trusted = load_settings(env).trusted_proxies
    (network,) = compose["networks"]["default"]["ipam"]["config"]
    gateway = ip_address(network["gateway"])
    assert gateway in ip_network(network["subnet"]), "deploy/compose.yaml: the gateway is outside the subnet"
    # The host's proxy arrives through the published ports from the gateway, and nothing else is trusted.
    assert trusted == (ip_network(gateway),), f"deploy/compose.yaml: LOOPLINE_TRUSTED_PROXIES is {trusted}"
    for file_name, doc in _k8s("ConfigMap"):
        data = {**(doc.get("data") or {}), "LOOPLINE_DATABASE_URL": "postgresql://loopline@db/loopline"}
        assert load_settings(data).trusted_proxies, f"deploy/k8s/{file_name}: no LOOPLINE_TRUSTED_PROXIES"


def test_compose_runs_migrations_once_before_the_other_processes() -> None:
    compose = _compose()
    services = _loopline_services()
    migrations = [name for name, s in services.items() if (s.get("command") or [None])[0] == "migrate"]
    assert len(migrations) == 1, f"deploy/compose.yaml: expected one one-shot migrate service, found {migrations}"
    migrate = migrations[0]
    assert services[migrate].get("restart", "no") == "no", f"deploy/compose.yaml: {migrate} must not restart"
    problems = []
    for name, service in services.items():
        if name == migrate:
            continue
        condition = (service.get("depends_on") or {}).get(migrate, {}).get("condition")
        if condition != "service_completed_successfully":
            problems.append(f"service {name} does not wait for {migrate} to complete successfully ({condition})")
    postgres = compose["services"].get("postgres", {})
    if not str(postgres.get("image", "")).startswith("postgres:16"):
        problems.append(f"postgres service image is {postgres.get('image')!r}, not postgres:16")
    if not postgres.get("volumes"):
        problems.append("postgres service keeps its data in no volume")
    if not postgres.get("healthcheck"):
        problems.append("postgres service has no healthcheck")
    build = next(iter(services.values()))["build"]
    if (COMPOSE.parent / build["context"]).resolve() != ROOT:
        problems.append(f"build context {build['context']!r} is not the repository root")
    if (COMPOSE.parent / build["context"] / build["dockerfile"]).resolve() != DOCKERFILE:
        problems.append(f"build dockerfile {build['dockerfile']!r} is not deploy/Dockerfile")
    assert problems == [], "deploy/compose.yaml:\n" + "\n".join(problems)


def test_k8s_workloads_get_the_settings_they_need() -> None:
    config_maps = {doc["metadata"]["name"]: doc.get("data") or {} for _f, doc in _k8s("ConfigMap")}
    secrets = {
        doc["metadata"]["name"]: {**(doc.get("data") or {}), **(doc.get("stringData") or {})}
        for _f, doc in _k8s("Secret")
    }
    problems = []
    for where, _doc, container in _k8s_containers():
        env: dict[str, str] = {}
        for source in container.get("envFrom", []):
            if "configMapRef" in source:
                name = source["configMapRef"]["name"]
                if name not in config_maps:
                    problems.append(f"{where}: envFrom names ConfigMap {name!r}, which deploy/k8s does not define")
                env.update(config_maps.get(name, {}))
            if "secretRef" in source:
                name = source["secretRef"]["name"]
                if name not in secrets:
                    problems.append(f"{where}: envFrom names Secret {name!r}, which deploy/k8s does not define")
                env.update(secrets.get(name, {}))
        env.update({item["name"]: item.get("value", "<from reference>") for item in container.get("env", [])})
        missing = [variable for variable in REQUIRED if not env.get(variable)]
        if missing:
            problems.append(f"{where}: {', '.join(missing)} not set (from its envFrom and env)")
        if env.get("LOOPLINE_SIMULATOR") != "off":
            problems.append(f"{where}: LOOPLINE_SIMULATOR is {env.get('LOOPLINE_SIMULATOR')!r}, not 'off'")
        if env.get("LOOPLINE_TELEGRAM_MODE", "webhook") != "webhook":
            problems.append(f"{where}: LOOPLINE_TELEGRAM_MODE must be webhook with several processes")
    assert problems == [], "\n".join(problems)

    # The non-secret settings are valid as they stand (the Secret's credentials are placeholders by design).
    for file_name, doc in _k8s("ConfigMap"):
        database_url = next(
            (values["LOOPLINE_DATABASE_URL"] for values in secrets.values() if "LOOPLINE_DATABASE_URL" in values),
            "postgresql://loopline@db/loopline",
        )
        settings = load_settings({**(doc.get("data") or {}), "LOOPLINE_DATABASE_URL": database_url})
        assert not settings.is_sqlite, f"deploy/k8s/{file_name}: LOOPLINE_DATABASE_URL is not a PostgreSQL URL"


def test_k8s_has_the_migrate_job_and_both_deployments_run_as_non_root() -> None:
    roles: dict[str, list[str]] = {}
    problems = []
    for where, doc, container in _k8s_containers():
        args = [str(a) for a in container.get("args", [])]
        roles.setdefault(args[0] if args else "", []).append(f"{doc['kind']} {doc['metadata']['name']}")
        pod = _pod_spec(doc).get("securityContext", {})
        own = container.get("securityContext", {})
        if not (own.get("runAsNonRoot", pod.get("runAsNonRoot"))):
            problems.append(f"{where}: securityContext.runAsNonRoot is not true")
        if "resources" not in container or "requests" not in container["resources"]:
            problems.append(f"{where}: no resource requests")
    assert any(r.startswith("Job ") for r in roles.get("migrate", [])), f"no Job runs `loopline migrate`: {roles}"
    assert any(r.startswith("Deployment ") for r in roles.get("serve", [])), f"no Deployment serves: {roles}"
    assert any(r.startswith("Deployment ") for r in roles.get("worker", [])), f"no Deployment of workers: {roles}"
    assert problems == [], "\n".join(problems)


def _health_checks() -> list[tuple[str, str, int, int]]:
    """(where, path, port checked, port served) for the image, the compose serve services and k8s probes."""
    checks = []
    url = re.compile(r"https?://[^\s'\"]+")
    default_port = _serve_port(_exec_form("CMD"))
    found = url.findall(_final("HEALTHCHECK") or "")
    assert found, "deploy/Dockerfile: no HEALTHCHECK calling an http:// URL"
    for link in found:
        parts = urlsplit(link)
        checks.append(("deploy/Dockerfile HEALTHCHECK", parts.path, parts.port or 80, default_port))
    for name, service in _loopline_services().items():
        command = service.get("command") or _exec_form("CMD")
        argv = shlex.split(command) if isinstance(command, str) else [str(c) for c in command]
        if argv[:1] != ["serve"]:
            continue
        test = (service.get("healthcheck") or {}).get("test")
        links = url.findall(test if isinstance(test, str) else " ".join(test or []))
        if not links:
            checks.append((f"deploy/compose.yaml service {name}", "<no healthcheck>", 0, _serve_port(argv)))
        for link in links:
            parts = urlsplit(link)
            checks.append((f"deploy/compose.yaml service {name}", parts.path, parts.port or 80, _serve_port(argv)))
    for where, _doc, container in _k8s_containers():
        args = [str(a) for a in container.get("args", [])] or _exec_form("CMD")
        if args[:1] != ["serve"]:
            continue
        named = {p.get("name"): p["containerPort"] for p in container.get("ports", [])}
        for probe in ("readinessProbe", "livenessProbe"):
            http = (container.get(probe) or {}).get("httpGet")
            if http is None:
                checks.append((f"{where} {probe}", "<no httpGet probe>", 0, _serve_port(args)))
                continue
            port = http["port"]
            checks.append((f"{where} {probe}", http.get("path", "/"), named.get(port, port), _serve_port(args)))
    return checks


def test_health_checks_call_healthz_on_the_served_port(tmp_path: Path) -> None:
    import httpx
    from starlette.routing import Route

    from bot.runtime import Runtime
    from bot.web.app import create_app

    runtime = Runtime(
        load_settings({"LOOPLINE_DATABASE_URL": f"sqlite:///{tmp_path}/x.db", "LOOPLINE_SIMULATOR": "off"})
    )
    try:
        app = create_app(runtime, deliver=False)
        routes = {route.path: route for route in app.routes if isinstance(route, Route)}
        assert HEALTH_PATH in routes, f"the app has no {HEALTH_PATH} route (it has {sorted(routes)})"
        assert "GET" in (routes[HEALTH_PATH].methods or set()), f"{HEALTH_PATH} does not answer GET"

        async def get() -> httpx.Response:  # no lifespan: nothing starts but the request
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://loopline.test") as client:
                return await client.get(HEALTH_PATH)

        response = asyncio.run(get())
        assert response.status_code == 200, f"{HEALTH_PATH} answered {response.status_code} with a working database"
    finally:
        runtime.close()

    checks = _health_checks()
    assert any(where.startswith("deploy/compose.yaml") for where, *_ in checks), "no compose serve healthcheck"
    assert any("readinessProbe" in where for where, *_ in checks), "no k8s readiness probe on a serve container"
    assert any("livenessProbe" in where for where, *_ in checks), "no k8s liveness probe on a serve container"
    exposed = _exposed_ports()
    problems = []
    for where, path, checked, served in checks:
        if path != HEALTH_PATH or path not in routes:
            problems.append(f"{where}: checks {path!r}, but the app's health route is {HEALTH_PATH}")
        if checked != served:
            problems.append(f"{where}: checks port {checked}, but serve listens on --port {served}")
        if checked not in exposed:
            problems.append(f"{where}: checks port {checked}, which deploy/Dockerfile does not EXPOSE ({exposed})")
    assert problems == [], "\n".join(problems)


def test_k8s_container_port_and_service_match_serve_port() -> None:
    problems = []
    serve_pods: list[dict[str, str]] = []
    other_pods: list[dict[str, str]] = []
    named_ports: dict[str, int] = {}
    served: set[int] = set()
    for where, doc, container in _k8s_containers():
        args = [str(a) for a in container.get("args", [])]
        if args[:1] != ["serve"]:
            other_pods.append(_pod_labels(doc))
            continue
        serve_pods.append(_pod_labels(doc))
        port = _serve_port(args)
        served.add(port)
        declared = [p["containerPort"] for p in container.get("ports", [])]
        if port not in declared:
            problems.append(f"{where}: serve --port {port} but the containerPort is {declared}")
        named_ports.update({p["name"]: p["containerPort"] for p in container.get("ports", []) if "name" in p})
    assert serve_pods, "deploy/k8s: no container runs `loopline serve`"
    services = _k8s("Service")
    assert services, "deploy/k8s: no Service in front of the serve pods"
    for file_name, doc in services:
        selector = doc["spec"].get("selector", {})
        where = f"deploy/k8s/{file_name} ({doc['metadata']['name']})"
        if not any(selector.items() <= labels.items() for labels in serve_pods):
            problems.append(f"{where}: selector {selector} matches no serve pod")
        if any(selector.items() <= labels.items() for labels in other_pods):
            problems.append(f"{where}: selector {selector} also matches worker/migrate pods, which serve no HTTP")
        if doc["spec"].get("type", "ClusterIP") != "ClusterIP":
            problems.append(f"{where}: type is {doc['spec']['type']}, expected ClusterIP")
        for port in doc["spec"]["ports"]:
            target = port.get("targetPort", port["port"])
            target = named_ports.get(target, target)
            if target not in served:
                problems.append(f"{where}: port {port['port']} targets {target}, but serve listens on {served}")
        if 80 not in [p["port"] for p in doc["spec"]["ports"]]:
            problems.append(f"{where}: does not listen on port 80")
    assert problems == [], "\n".join(problems)


def test_dockerfile_builds_a_slim_multi_stage_non_root_loopline_image() -> None:
    stages = _stages()
    args = {}
    for keyword, rest in _dockerfile():
        if keyword == "ARG" and "=" in rest:
            name, _, value = rest.partition("=")
            args[name] = value
    bases = [
        re.sub(r"\$\{?(\w+)\}?", lambda m: args.get(m.group(1), m.group(0)), rest.split()[0])
        for _kw, rest in (s[0] for s in stages)
    ]
    assert len(stages) >= 2, "deploy/Dockerfile: not multi-stage (a builder stage, then the runtime stage)"
    assert bases[-1] == "python:3.11-slim", f"deploy/Dockerfile: the runtime stage is based on {bases[-1]}"
    assert any(kw == "COPY" and "--from=" in rest for kw, rest in stages[-1]), (
        "deploy/Dockerfile: the runtime stage copies nothing from the builder stage"
    )

    user = _final("USER")
    assert user is not None, "deploy/Dockerfile: the runtime stage sets no USER, so the processes run as root"
    uid = user.split(":")[0]
    assert uid not in ("root", "0"), f"deploy/Dockerfile: USER {user} is root"
    assert uid.isdigit(), f"deploy/Dockerfile: USER {user} is not numeric; Kubernetes runAsNonRoot cannot verify it"

    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]
    assert _exec_form("ENTRYPOINT") == ["loopline"], 'deploy/Dockerfile: ENTRYPOINT is not ["loopline"]'
    assert "loopline" in scripts, "pyproject.toml declares no `loopline` script for the image's ENTRYPOINT"
    assert _exec_form("CMD")[:1] == ["serve"], "deploy/Dockerfile: the default CMD does not serve"

    env: dict[str, str] = {}
    for keyword, rest in stages[-1]:
        if keyword == "ENV":
            env.update(token.partition("=")[::2] for token in shlex.split(rest) if "=" in token)
    assert env.get("PYTHONUNBUFFERED") == "1", "deploy/Dockerfile: PYTHONUNBUFFERED=1 is not set in the runtime stage"


def test_dockerfile_keeps_locales_and_migrations_next_to_the_bot_package() -> None:
    """The code reads Path(bot.__file__).parent.parent / "locales" and / "migrations"."""
    placed: dict[str, PurePosixPath] = {}
    installs: list[str] = []
    for stage in _stages():
        workdir = PurePosixPath("/")
        for keyword, rest in stage:
            if keyword == "WORKDIR":
                workdir = workdir / rest
            elif keyword == "COPY" and "--from=" not in rest:
                *sources, dest = [t for t in shlex.split(rest) if not t.startswith("--")]
                for source in sources:
                    name = source.strip("./")
                    if name in ("bot", "locales", "migrations"):
                        target = workdir / dest
                        placed[name] = target.parent if target.name == name else target
            elif keyword == "RUN" and "pip install" in rest:
                installs.append(rest)
    missing = {"bot", "locales", "migrations"} - placed.keys()
    assert not missing, f"deploy/Dockerfile: does not copy {sorted(missing)} into the image"
    assert len(set(placed.values())) == 1, (
        f"deploy/Dockerfile: bot, locales and migrations land in different directories {placed}; "
        "the code looks for locales/ and migrations/ next to the bot package"
    )
    project = str(placed["bot"])
    project_installs = [
        cmd for cmd in installs if re.search(rf"pip install[^&;]*\s(\.|{re.escape(project)}/?)(\s|$)", cmd)
    ]
    assert project_installs, (
        f"deploy/Dockerfile: the project at {project} is never pip-installed (no `loopline` script)"
    )
    for cmd in project_installs:
        assert re.search(r"\s(-e|--editable)\s", cmd), (
            f"deploy/Dockerfile: `{cmd}` installs the project into site-packages, away from locales/ and "
            "migrations/; install it editable (-e) so bot/ stays in the source tree"
        )
    copied = [rest for kw, rest in _stages()[-1] if kw == "COPY" and "--from=" in rest]
    assert any(project in rest.split() or f"{project}/" in rest.split() for rest in copied), (
        f"deploy/Dockerfile: the runtime stage does not copy {project} from the builder at the same path, "
        "so the editable install's path finder would point nowhere"
    )
