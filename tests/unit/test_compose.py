"""docker-compose.yml, Dockerfile and deploy/*.env, checked statically (no Docker engine).

Every check is a helper that returns the problems it finds; each test asserts the real files
have none, and `test_each_check_catches_a_broken_copy` applies the same helpers to broken
copies of the parsed compose file to show that every check can fail.
"""

from __future__ import annotations

import copy
import importlib
import json
import re
import shlex
import subprocess
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.main import get_command

from monitor.cli import app as cli_app
from monitor.config import ENV_PREFIX, Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
INFRA = ("postgres", "redis")
APP_SERVICES = ("migrate", "api", "mllp", "worker", "deliveries", "scheduler")
# The process each app service runs: the path of sub-commands of `sodium-monitor`.
PROCESS = {"migrate": ["db", "upgrade"], "api": ["api"], "mllp": ["mllp"],
           "worker": ["worker"], "deliveries": ["worker"], "scheduler": ["scheduler"]}
# The Celery queues each worker service consumes: results and notifications apart, so a
# hanging notification channel never holds up a result (issue 13, finding 4).
CONSUMES = {"worker": {"celery"}, "deliveries": {"deliveries"}}
# Which settings give the listen address of the services that listen.
LISTENS = {"api": ("API_HOST", "API_PORT"), "mllp": ("MLLP_HOST", "MLLP_PORT")}
# Anyone who reaches the MLLP port could change clinical data: not published by default.
UNPUBLISHED = {"mllp"}
DATA_DIRS = {"postgres": "/var/lib/postgresql/data", "redis": "/data"}

Compose = dict[str, Any]


# ----------------------------------------------------------------------------- reading


def load_compose(path: Path = COMPOSE_FILE) -> Compose:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def services(compose: Compose) -> dict[str, dict[str, Any]]:
    return compose.get("services") or {}


def as_argv(command: Any) -> list[str]:
    """A compose `command` / exec-form value as argv (compose's `$$` is a literal `$`)."""
    if command is None:
        return []
    argv = shlex.split(command) if isinstance(command, str) else [str(a) for a in command]
    return [a.replace("$$", "$") for a in argv]


def env_mapping(value: Any) -> dict[str, str]:
    """`environment` as a dict, from either the mapping or the list (KEY=VALUE) form."""
    if not value:
        return {}
    if isinstance(value, dict):
        return {str(k): "" if v is None else str(v) for k, v in value.items()}
    return {k: v for k, _, v in (str(item).partition("=") for item in value)}


def env_file_paths(service: dict[str, Any]) -> list[tuple[str, bool]]:
    """(path, required) for each `env_file` entry (short string/list or long form)."""
    entries = service.get("env_file") or []
    if isinstance(entries, str):
        entries = [entries]
    out = []
    for entry in entries:
        if isinstance(entry, str):
            out.append((entry, True))
        else:
            out.append((str(entry["path"]), bool(entry.get("required", True))))
    return out


def committed_env_file(relative: str) -> Path | None:
    """The file in the repository for an env_file: itself, or its `.example` when the real
    one holds secrets and is git-ignored."""
    for candidate in (ROOT / relative, ROOT / f"{relative}.example"):
        if candidate.is_file():
            return candidate
    return None


def read_env_file(path: Path) -> dict[str, str]:
    out = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        assert sep, f"{path.name}: not KEY=VALUE: {raw!r}"
        out[key.strip()] = value.strip()
    return out


def effective_env(compose: Compose, name: str) -> dict[str, str]:
    """What the container sees: the committed env files in order, then `environment`."""
    service = services(compose)[name]
    env: dict[str, str] = {}
    for relative, _ in env_file_paths(service):
        path = committed_env_file(relative)
        if path is not None:
            env.update(read_env_file(path))
    env.update(env_mapping(service.get("environment")))
    return env


def strings(node: Any) -> list[str]:
    """Every string (keys and values) in a parsed YAML tree."""
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for k, v in node.items() for s in strings(k) + strings(v)]
    if isinstance(node, list):
        return [s for item in node for s in strings(item)]
    return []


def setting_names() -> set[str]:
    return {ENV_PREFIX + field.upper() for field in Settings.model_fields}


# ----------------------------------------------------------------------------- commands

ROOT_COMMAND = get_command(cli_app)


def _walk(command: Any, name: str, args: list[str], parent: Any = None,
          obj: Any = None) -> tuple[list[str], dict[str, Any]]:
    """Resolve `args` through click groups down to a command and parse its options exactly as
    the CLI would: an unknown command, an unknown option or a bad value raises. (Duck-typed:
    typer ships its own copy of click, celery uses the real one.)"""
    ctx = command.make_context(name, list(args), parent=parent, obj=obj)
    if not hasattr(command, "resolve_command"):
        return [], dict(ctx.params)
    # Where a group keeps the sub-command's name: `_protected_args` (click 8.2+ and typer's
    # copy, whose public `protected_args` is deprecated or None), else `protected_args`.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        protected = (getattr(ctx, "_protected_args", None)
                     or getattr(ctx, "protected_args", None) or [])
    rest = [*protected, *ctx.args]
    if not rest:
        raise ValueError(f"{name}: a sub-command is required")
    sub_name, sub, sub_args = command.resolve_command(ctx, rest)
    if sub is None:
        raise ValueError(f"{name}: no such command {rest[0]!r}")
    path, params = _walk(sub, sub_name, sub_args, ctx)
    return [sub_name, *path], params


def parse_sodium_monitor(argv: list[str]) -> tuple[list[str], dict[str, Any]]:
    """(sub-command path, parsed options) of a `sodium-monitor ...` argv."""
    assert argv and argv[0] == "sodium-monitor", argv
    return _walk(ROOT_COMMAND, "sodium-monitor", argv[1:])


def _why(error: Exception) -> str:
    format_message = getattr(error, "format_message", None)
    text = format_message() if callable(format_message) else str(error)
    return text or type(error).__name__


def celery_problems(argv: list[str]) -> list[str]:
    """A `celery -A MODULE ...` argv: the module holds this project's Celery app and the rest
    parses as that celery sub-command."""
    from celery import Celery
    from celery.bin.base import CLIContext
    from celery.bin.celery import celery as celery_command

    where = shlex.join(argv)
    try:
        target = celery_command.make_context("celery", argv[1:]).params.get("app")
    except Exception as error:
        return [f"{where}: {_why(error)}"]
    if not target:
        return [f"{where}: no -A/--app"]
    module_name, _, attribute = str(target).partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        return [f"{where}: -A {target}: {error}"]
    apps = [getattr(module, n, None) for n in ([attribute] if attribute else ["app", "celery"])]
    celery_app = next((a for a in apps if isinstance(a, Celery)), None)
    if celery_app is None:
        return [f"{where}: -A {target} holds no Celery app"]
    try:  # sub-command options read the app (as `celery` itself provides it) while parsing
        _walk(celery_command, "celery", argv[1:],
              obj=CLIContext(app=celery_app, no_color=True, workdir=None, quiet=True))
    except Exception as error:
        return [f"{where}: {_why(error)}"]
    return []


def command_problems(argv: list[str]) -> list[str]:
    """Problems with one argv that should be a command of this project."""
    if not argv:
        return ["empty command"]
    if argv[0] == "sodium-monitor":
        try:
            parse_sodium_monitor(argv)
        except Exception as error:
            return [f"{shlex.join(argv)}: {_why(error)}"]
        return []
    if argv[0] == "celery":
        return celery_problems(argv)
    return [f"{shlex.join(argv)}: neither sodium-monitor nor celery"]


def shell_segments(script: str) -> list[list[str]]:
    """The simple commands of a CMD-SHELL script (split at | && || ;)."""
    lexer = shlex.shlex(script.replace("$$", "$"), posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    segments: list[list[str]] = [[]]
    for token in lexer:
        if token in ("|", "||", "&&", ";", "&"):
            segments.append([])
        else:
            segments[-1].append(token)
    return [s for s in segments if s]


def healthcheck_commands(service: dict[str, Any]) -> list[list[str]]:
    test = (service.get("healthcheck") or {}).get("test")
    if not test:
        return []
    if isinstance(test, str):
        return shell_segments(test)
    kind, *rest = test
    if kind == "CMD-SHELL":
        return shell_segments(" ".join(rest))
    if kind == "CMD":
        return [as_argv(rest)]
    return []


# ----------------------------------------------------------------------------- checks


def service_problems(compose: Compose) -> list[str]:
    missing = [n for n in (*INFRA, *APP_SERVICES) if n not in services(compose)]
    problems = [f"service {n} missing" for n in missing]
    image = {n: (services(compose).get(n) or {}).get("image") for n in INFRA}
    if image["postgres"] != "postgres:16":
        problems.append(f"postgres image is {image['postgres']!r}, expected postgres:16")
    if image["redis"] != "redis:7":
        problems.append(f"redis image is {image['redis']!r}, expected redis:7")
    return problems


def image_problems(compose: Compose) -> list[str]:
    """Every app service: the same build of ./Dockerfile and the same image name."""
    problems = []
    seen = {(repr(services(compose)[n].get("build")), services(compose)[n].get("image"))
            for n in APP_SERVICES if n in services(compose)}
    if len(seen) != 1:
        problems.append(f"app services differ in build/image: {sorted(seen)}")
    for name in APP_SERVICES:
        build = services(compose).get(name, {}).get("build")
        context = build if isinstance(build, str) else (build or {}).get("context")
        dockerfile = "Dockerfile" if isinstance(build, str) else (build or {}).get(
            "dockerfile", "Dockerfile")
        if context not in (".", "./") or dockerfile != "Dockerfile":
            problems.append(f"{name}: not built from ./Dockerfile ({build!r})")
    return problems


def app_command_problems(compose: Compose) -> list[str]:
    problems = []
    for name in APP_SERVICES:
        argv = as_argv(services(compose)[name].get("command"))
        found = command_problems(argv)
        problems += [f"{name}: {p}" for p in found]
        if not found and argv[0] == "sodium-monitor":
            path, _ = parse_sodium_monitor(argv)
            if path != PROCESS[name]:
                problems.append(f"{name} runs sodium-monitor {' '.join(path)}, "
                                f"expected {' '.join(PROCESS[name])}")
    return problems


def healthcheck_problems(compose: Compose) -> list[str]:
    problems = []
    expected = {"postgres": "pg_isready", "redis": "redis-cli ping", "api": "/healthz",
                "mllp": "socket", "worker": "inspect ping", "deliveries": "inspect ping",
                "scheduler": "sodium-monitor check"}
    for name, service in services(compose).items():
        health = service.get("healthcheck") or {}
        if name == "migrate":  # one-shot: nothing to probe
            continue
        if health.get("disable") or not health.get("test") or health["test"] == ["NONE"]:
            problems.append(f"{name}: no healthcheck")
            continue
        text = " ".join(as_argv(health["test"])) if not isinstance(health["test"], str) \
            else health["test"]
        if name in expected and expected[name] not in text:
            problems.append(f"{name}: healthcheck does not use {expected[name]!r}")
        for argv in healthcheck_commands(service):
            if argv[0] in ("sodium-monitor", "celery"):
                problems += [f"{name} healthcheck: {p}" for p in command_problems(argv)]
            if argv[0] in ("python", "python3") and "-c" in argv:
                code = argv[argv.index("-c") + 1]
                try:
                    compile(code, f"{name} healthcheck", "exec")
                except SyntaxError as error:
                    problems.append(f"{name} healthcheck: python: {error}")
            if argv[0] in ("curl", "wget"):
                problems.append(f"{name} healthcheck: {argv[0]} is not in the slim image")
        if name in CONSUMES and "$HOSTNAME" not in text.replace("$$", "$"):
            problems.append(f"{name}: the ping must name this container's node "
                            "(celery@$HOSTNAME)")
    return problems


def listen_address(compose: Compose, name: str) -> tuple[str, int]:
    """Where the process of service `name` listens: --host/--port, else its SODIUM_ variable,
    else the Settings default."""
    host_field, port_field = LISTENS[name]
    _, params = parse_sodium_monitor(as_argv(services(compose)[name]["command"]))
    env = effective_env(compose, name)
    defaults = Settings.model_fields
    host = params.get("host") or env.get(ENV_PREFIX + host_field) \
        or defaults[host_field.lower()].default
    port = params.get("port") or env.get(ENV_PREFIX + port_field) \
        or defaults[port_field.lower()].default
    return str(host), int(port)


def published_targets(service: dict[str, Any]) -> list[int]:
    out = []
    for entry in service.get("ports") or []:
        if isinstance(entry, dict):
            out.append(int(entry["target"]))
        else:  # [HOST_IP:][HOST_PORT:]CONTAINER_PORT[/PROTOCOL]
            out.append(int(str(entry).split("/")[0].rsplit(":", 1)[-1]))
    return out


def port_problems(compose: Compose) -> list[str]:
    problems = []
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    exposed = {int(p) for line in re.findall(r"^EXPOSE\s+(.+)$", dockerfile, re.M)
               for p in re.findall(r"\d+", line)}
    for name in LISTENS:
        service = services(compose)[name]
        host, port = listen_address(compose, name)
        if host != "0.0.0.0":
            problems.append(f"{name} listens on {host}: unreachable from outside its container")
        if name in UNPUBLISHED:
            if service.get("ports"):
                problems.append(f"{name} publishes {published_targets(service)}: it must stay "
                                "on the compose networks (publish it with TLS, by an override)")
            if "--insecure" in as_argv(service.get("command")):
                problems.append(f"{name} runs with --insecure")
            if [int(p) for p in service.get("expose") or []] != [port]:
                problems.append(f"{name} exposes {service.get('expose')}, listens on {port}")
        elif published_targets(service) != [port]:
            problems.append(f"{name} publishes {published_targets(service)}, listens on {port}")
        probe_ports = {int(p) for argv in healthcheck_commands(service) for a in argv
                       for p in re.findall(r"(?<![\d.])(\d{4,5})(?![\d.])", a)}
        if probe_ports != {port}:
            problems.append(f"{name} healthcheck probes {sorted(probe_ports)}, "
                            f"listens on {port}")
        if port not in exposed:
            problems.append(f"Dockerfile does not EXPOSE {port} ({name})")
    worker = services(compose).get("worker", {})
    if "container_name" in worker or worker.get("ports"):
        problems.append("worker cannot scale: it has a container_name or published ports")
    return problems


def settings_problems(compose: Compose) -> list[str]:
    """Every SODIUM_ variable, in the compose file or in its committed env files, is a field of
    Settings; and what the app services see is a valid configuration."""
    known = setting_names()
    used: set[str] = set()
    for text in strings(compose):
        used |= set(re.findall(r"\bSODIUM_[A-Z0-9_]+", text))
    for service in services(compose).values():
        for relative, _ in env_file_paths(service):
            path = committed_env_file(relative)
            if path is not None:
                used |= {k for k in read_env_file(path) if k.startswith(ENV_PREFIX)}
    problems = [f"{name} is not a setting (monitor/config.py)" for name in sorted(used - known)]
    for name in APP_SERVICES:
        env = effective_env(compose, name)
        values = {k.removeprefix(ENV_PREFIX).lower(): v for k, v in env.items()
                  if k in known and "${" not in v}
        try:
            Settings.model_validate(values)  # the values alone: no environment, no .env
        except ValueError as error:
            problems.append(f"{name}: invalid configuration: {error}")
        if env.get("SODIUM_LOG_FORMAT") != "json":
            problems.append(f"{name}: SODIUM_LOG_FORMAT is not json")
        if not env.get("SODIUM_DATABASE_URL", "").startswith("postgresql"):
            problems.append(f"{name}: SODIUM_DATABASE_URL is not the postgres service")
        if not env.get("SODIUM_BROKER_URL", "").startswith("redis://"):
            problems.append(f"{name}: SODIUM_BROKER_URL is not the redis service")
    return problems


def depends_problems(compose: Compose) -> list[str]:
    problems = []
    wanted = {"postgres": "service_healthy", "redis": "service_healthy",
              "migrate": "service_completed_successfully"}
    for name in APP_SERVICES:
        depends = services(compose)[name].get("depends_on") or {}
        if isinstance(depends, list):
            problems.append(f"{name}: depends_on without conditions")
            continue
        needs = {"postgres": wanted["postgres"]} if name == "migrate" else wanted
        for other, condition in needs.items():
            got = (depends.get(other) or {}).get("condition")
            if got != condition:
                problems.append(f"{name}: depends_on {other} is {got!r}, expected {condition}")
    return problems


def volume_problems(compose: Compose) -> list[str]:
    problems = []
    declared = set(compose.get("volumes") or {})
    for name, target in DATA_DIRS.items():
        mounts = services(compose)[name].get("volumes") or []
        sources = []
        for mount in mounts:
            if isinstance(mount, dict):
                sources.append((mount.get("source"), mount.get("target")))
            else:
                source, _, rest = str(mount).partition(":")
                sources.append((source, rest.split(":")[0]))
        if not any(s in declared and t == target for s, t in sources):
            problems.append(f"{name}: {target} is not on a named volume")
    return problems


SECRET_KEY = re.compile(r"(PASSWORD|PASSWD|SECRET|TOKEN|API_KEY|PRIVATE_KEY)$", re.I)
URL_CREDENTIALS = re.compile(r"://[^/@\s:]+:[^/@\s]+@")


def secret_problems(compose: Compose) -> list[str]:
    """No literal secret: no non-empty *PASSWORD/*SECRET/... value (a ${VAR} reference is
    fine) and no password inside a URL, in the compose file or the committed env files."""
    problems = []
    pairs: list[tuple[str, str]] = []

    def collect(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if isinstance(value, str | int) and not isinstance(value, bool):
                    pairs.append((str(key), str(value)))
                collect(value)
        elif isinstance(node, list):
            for item in node:
                if isinstance(item, str) and "=" in item:
                    key, _, value = item.partition("=")
                    pairs.append((key, value))
                collect(item)

    collect(compose)
    for key, value in pairs:
        if SECRET_KEY.search(key) and value and not value.startswith("${"):
            problems.append(f"compose file: literal value for {key}")
    problems += [f"compose file: credentials in a URL: {s}" for s in strings(compose)
                 if URL_CREDENTIALS.search(s)]
    for relative in {p for s in services(compose).values() for p, _ in env_file_paths(s)}:
        path = committed_env_file(relative)
        if path is None:
            problems.append(f"{relative}: neither it nor {relative}.example is committed")
            continue
        for key, value in read_env_file(path).items():
            if (SECRET_KEY.search(key) and value) or URL_CREDENTIALS.search(value):
                problems.append(f"{path.relative_to(ROOT)}: a secret value for {key}")
    return problems


def queue_problems(compose: Compose) -> list[str]:
    """Results and notifications are consumed by different worker services."""
    from monitor.runtime.dispatchers import QUEUES

    problems, covered = [], set()
    for name, wanted in CONSUMES.items():
        _, params = parse_sodium_monitor(as_argv(services(compose)[name]["command"]))
        queues = {q for q in (params.get("queues") or "").split(",") if q} or set(QUEUES)
        covered |= queues
        if queues != wanted:
            problems.append(f"{name} consumes {sorted(queues)}, expected {sorted(wanted)}")
    if covered != set(QUEUES):
        problems.append(f"no worker consumes {sorted(set(QUEUES) - covered)}")
    return problems


ALL_CHECKS: dict[str, Callable[[Compose], list[str]]] = {
    "services": service_problems,
    "image": image_problems,
    "commands": app_command_problems,
    "queues": queue_problems,
    "healthchecks": healthcheck_problems,
    "ports": port_problems,
    "settings": settings_problems,
    "depends_on": depends_problems,
    "volumes": volume_problems,
    "secrets": secret_problems,
}


# ----------------------------------------------------------------------------- tests


@pytest.fixture(scope="module")
def compose() -> Compose:
    return load_compose()


def test_the_compose_file_parses(compose: Compose) -> None:
    assert compose["name"] == "sodium-monitor"
    assert isinstance(compose["services"], dict)


@pytest.mark.parametrize("check", list(ALL_CHECKS))
def test_the_compose_file_passes(compose: Compose, check: str) -> None:
    assert ALL_CHECKS[check](compose) == []


def test_the_app_services_share_one_anchor() -> None:
    text = COMPOSE_FILE.read_text(encoding="utf-8")
    assert re.search(r"^x-app: &app$", text, re.M)
    for name in APP_SERVICES:
        assert re.search(rf"^  {name}:\n    <<: \*app$", text, re.M), name


def test_the_secrets_file_is_required_and_git_ignored(compose: Compose) -> None:
    for name in ("postgres", *APP_SERVICES):
        assert ("deploy/secrets.env", True) in env_file_paths(services(compose)[name]), name
    assert "secrets.env" in (ROOT / "deploy" / ".gitignore").read_text(encoding="utf-8")
    assert "POSTGRES_PASSWORD" in read_env_file(ROOT / "deploy" / "secrets.env.example")
    assert "POSTGRES_PASSWORD" not in env_mapping(services(compose)["postgres"].get("environment"))


def test_the_dockerfile() -> None:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    stages = re.findall(r"^FROM\s+(\S+)", text, re.M)
    assert stages and stages[-1] == "python:3.11-slim"
    users = re.findall(r"^USER\s+(\S+)", text, re.M)
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert "[dev]" not in text and "pip install -e" not in text
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    for entry in (".git", ".venv", "var", ".pytest_cache", ".mypy_cache", "tests"):
        assert entry in ignored, entry


@pytest.mark.parametrize(("report", "healthy"), [
    ({"scheduler": "OK", "feeds": "WARNING"}, True),  # a silent feed is not the scheduler's
    ({"scheduler": "WARNING"}, False),                # heartbeat stale or missing
    ({"database": "CRITICAL"}, False),                # check stops before the heartbeat
])
def test_the_scheduler_probe_reads_the_heartbeat(
    compose: Compose, report: dict[str, str], healthy: bool
) -> None:
    """The python half of the scheduler's probe, run on what `check --json` prints."""
    segments = healthcheck_commands(services(compose)["scheduler"])
    assert [s[:3] for s in segments] == [["sodium-monitor", "check", "--json"],
                                         ["python", "-c", segments[1][2]]]
    stdin = json.dumps({"status": "x", "checks": [
        {"name": n, "status": s, "detail": ""} for n, s in report.items()]})
    run = subprocess.run([sys.executable, "-c", segments[1][2]], input=stdin, text=True,
                         capture_output=True, timeout=30)
    assert (run.returncode == 0) is healthy, run.stderr


def test_the_command_checker_knows_the_real_commands() -> None:
    assert command_problems(["sodium-monitor", "check", "--json"]) == []
    assert command_problems(["sodium-monitor", "worker", "--concurrency", "4"]) == []
    assert command_problems(["celery", "-A", "workers.celery_app", "worker"]) == []
    for bad in (["sodium-monitor", "serve"], ["sodium-monitor", "api", "--bind", "x"],
                ["sodium-monitor", "db", "downgrade"], ["sodium-monitor", "db"],
                ["sodium-monitor", "worker", "--concurrency", "many"],
                ["celery", "-A", "workers.nothing_here", "worker"],
                ["celery", "-A", "monitor.config", "worker"],
                ["celery", "-A", "workers.celery_app", "wrker"],
                ["gunicorn", "monitor.web.app"]):
        assert command_problems(bad), bad


def _set(path: str, value: Any) -> Callable[[Compose], None]:
    """A mutation: set the value at a dotted path (list indexes allowed)."""
    def mutate(compose: Compose) -> None:
        *parents, last = path.split(".")
        node: Any = compose
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node.setdefault(key, {})
        if isinstance(node, list):
            node[int(last)] = value
        elif value is _DELETE:
            del node[last]
        else:
            node[last] = value
    return mutate


_DELETE = object()


BROKEN: list[tuple[str, str, Callable[[Compose], None]]] = [
    ("services", "no scheduler", _set("services.scheduler", _DELETE)),
    ("services", "postgres 15", _set("services.postgres.image", "postgres:15")),
    ("image", "one image differs", _set("services.worker.image", "other:latest")),
    ("image", "one build differs", _set("services.api.build", "./elsewhere")),
    ("commands", "unknown sub-command", _set("services.api.command", ["sodium-monitor", "web"])),
    ("commands", "unknown option",
     _set("services.mllp.command", ["sodium-monitor", "mllp", "--listen", "0.0.0.0"])),
    ("commands", "another process", _set("services.scheduler.command",
                                         ["sodium-monitor", "worker"])),
    ("commands", "wrong celery module", _set("services.worker.command",
                                             ["celery", "-A", "workers.app", "worker"])),
    ("queues", "results worker sends notifications",
     _set("services.worker.command", ["sodium-monitor", "worker"])),
    ("queues", "nobody sends notifications",
     _set("services.deliveries.command", ["sodium-monitor", "worker", "--queues", "celery"])),
    ("healthchecks", "none on redis", _set("services.redis.healthcheck", _DELETE)),
    ("healthchecks", "disabled on api", _set("services.api.healthcheck.disable", True)),
    ("healthchecks", "curl", _set("services.api.healthcheck.test",
                                  ["CMD", "curl", "-f", "http://127.0.0.1:8000/healthz"])),
    ("healthchecks", "bad option in the probe",
     _set("services.scheduler.healthcheck.test", "sodium-monitor check --verbose")),
    ("healthchecks", "broken python", _set("services.mllp.healthcheck.test",
                                           ["CMD", "python", "-c", "import socket; socket("])),
    ("ports", "published elsewhere", _set("services.api.ports.0.target", 8080)),
    ("ports", "listens elsewhere",
     _set("services.mllp.command", ["sodium-monitor", "mllp", "--host", "0.0.0.0",
                                    "--port", "2576"])),
    ("ports", "listens on loopback",
     _set("services.api.command", ["sodium-monitor", "api", "--port", "8000"])),
    ("ports", "probe on the wrong port", _set(
        "services.api.healthcheck.test",
        ["CMD", "python", "-c", "import urllib.request; "
         "urllib.request.urlopen('http://127.0.0.1:8080/healthz')"])),
    ("ports", "mllp published", _set("services.mllp.ports", [{"target": 2575,
                                                              "published": "2575"}])),
    ("ports", "mllp insecure",
     _set("services.mllp.command", ["sodium-monitor", "mllp", "--host", "0.0.0.0",
                                    "--port", "2575", "--insecure"])),
    ("ports", "worker pinned", _set("services.worker.container_name", "worker")),
    ("settings", "unknown variable", _set("services.api.environment.SODIUM_API_PROT", "8000")),
    ("settings", "invalid value", _set("services.worker.environment.SODIUM_TIMEZONE", "Mars")),
    ("settings", "console logs", _set("services.mllp.environment.SODIUM_LOG_FORMAT", "console")),
    ("depends_on", "no condition", _set("services.worker.depends_on", ["postgres", "redis"])),
    ("depends_on", "migrate only started",
     _set("services.api.depends_on.migrate.condition", "service_started")),
    ("volumes", "bind mount", _set("services.postgres.volumes",
                                   ["./pgdata:/var/lib/postgresql/data"])),
    ("volumes", "no redis volume", _set("services.redis.volumes", _DELETE)),
    ("secrets", "literal password",
     _set("services.postgres.environment.POSTGRES_PASSWORD", "hunter2")),
    ("secrets", "password in a URL", _set("services.api.environment.SODIUM_DATABASE_URL",
                                          "postgresql+psycopg://sodium:hunter2@postgres/sodium")),
    ("secrets", "uncommitted env file",
     _set("services.api.env_file", [{"path": "deploy/nowhere.env", "required": True}])),
]


@pytest.mark.parametrize(("check", "why", "mutate"), BROKEN, ids=[b[1] for b in BROKEN])
def test_each_check_catches_a_broken_copy(
    compose: Compose, check: str, why: str, mutate: Callable[[Compose], None]
) -> None:
    broken = copy.deepcopy(compose)
    mutate(broken)
    assert ALL_CHECKS[check](broken), f"{check} did not notice: {why}"


def test_every_check_has_a_broken_copy() -> None:
    assert {b[0] for b in BROKEN} == set(ALL_CHECKS)
