"""docker-compose.yml cannot run here (no Docker engine), so its structure is checked against the code:
every command is a real `layers` subcommand, every LAYERS_* variable is a setting, every port is the
one the service binds, every dependency and volume exists, and every service has a health check."""

from __future__ import annotations

import pytest
import yaml

from cli.main import SERVICES
from tests.support.deployment import ROOT, image_env, parse_command, setting_of

COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
APP_SERVICES = {name: spec for name, spec in COMPOSE["services"].items() if spec.get("build")}


def test_every_part_has_a_container() -> None:
    assert set(APP_SERVICES) == set(SERVICES)
    assert {"postgres", "rabbitmq", "redis"} <= set(COMPOSE["services"])
    assert (ROOT / "Dockerfile").is_file()


@pytest.mark.parametrize("name", sorted(APP_SERVICES))
def test_command_is_a_real_subcommand(name: str) -> None:
    command = APP_SERVICES[name]["command"]
    args = parse_command(command)
    assert (args.command, args.service) == ("serve", name)


@pytest.mark.parametrize("name", sorted(APP_SERVICES))
def test_env_vars_are_settings(name: str) -> None:
    env = APP_SERVICES[name].get("environment", {})
    assert env, f"{name} has no environment"
    for key in env:
        setting_of(key, name)


@pytest.mark.parametrize("name", sorted(APP_SERVICES))
def test_ports_match_bound_addresses(name: str) -> None:
    spec = APP_SERVICES[name]
    env = spec.get("environment", {})
    exposed = {str(p).split(":")[-1] for p in spec.get("expose", []) + spec.get("ports", [])}
    assert env["LAYERS_METRICS_PORT"] in exposed  # every process serves /metrics
    exposed.discard(env["LAYERS_METRICS_PORT"])
    if name == "gateway":
        assert exposed == {env["LAYERS_HTTP_PORT"]}
        assert env["LAYERS_HTTP_HOST"] == "0.0.0.0"
    elif name == "renderer":
        assert not exposed  # a queue consumer listens on nothing
    else:
        bind = env[f"LAYERS_{name.upper()}_ADDR"]
        assert bind.startswith("0.0.0.0:")
        assert exposed == {bind.split(":")[1]}


def test_clients_dial_servers_that_exist() -> None:
    for name, spec in APP_SERVICES.items():
        for key, value in spec.get("environment", {}).items():
            if key.endswith("_ADDR") and not value.startswith("0.0.0.0"):
                host, port = value.split(":")
                target = APP_SERVICES[host]
                assert target["environment"][key] == f"0.0.0.0:{port}", f"{name}: {key}"
            if key.endswith("_DB_URL"):
                assert "@postgres:5432/" in value
            if key == "LAYERS_AMQP_URL":
                assert "@rabbitmq:5672" in value
            if key == "LAYERS_REDIS_URL":
                assert value.startswith("redis://redis:6379/")
                assert "redis" in spec["depends_on"], f"{name} uses Redis without waiting for it"


def test_rate_limits_and_broadcasts_share_one_redis() -> None:
    """The gateway counts rate limits and hears revoked keys, changed jobs and balances in the Redis content
    and billing broadcast them to."""
    gateway = APP_SERVICES["gateway"]["environment"]["LAYERS_REDIS_URL"]
    assert APP_SERVICES["content"]["environment"]["LAYERS_REDIS_URL"] == gateway
    assert APP_SERVICES["billing"]["environment"]["LAYERS_REDIS_URL"] == gateway


def test_dependencies_volumes_and_health() -> None:
    services = COMPOSE["services"]
    volumes = set(COMPOSE.get("volumes", {}))
    init_sql = (ROOT / "deploy" / "postgres-init.sql").read_text()
    for name, spec in services.items():
        for dependency in spec.get("depends_on", {}):
            assert dependency in services, f"{name} depends on unknown {dependency}"
        for mount in spec.get("volumes", []):
            source = mount.split(":")[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), source
            else:
                assert source in volumes, source
        assert "healthcheck" in spec, f"{name} has no health check"
    for db in ("content", "media", "billing", "webhooks"):
        assert f"CREATE DATABASE {db};" in init_sql


def test_dockerfile_copies_every_package() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    for package in ("layers", "common", "services", "gateway", "cli"):
        assert f"COPY {package} ./{package}" in dockerfile


@pytest.mark.parametrize("name", sorted(APP_SERVICES))
def test_health_checks_are_real_commands(name: str) -> None:
    test = APP_SERVICES[name]["healthcheck"]["test"]
    if test[1] == "layers":
        args = parse_command(test[2:])
        assert args.command == "health"
        if args.addr:
            assert (
                args.addr.split(":")[1]
                == APP_SERVICES[name]["environment"][f"LAYERS_{name.upper()}_ADDR"].split(":")[1]
            )
        else:
            assert args.heartbeat.parent.as_posix() == image_env("LAYERS_DATA_DIR")
    else:
        assert "8080/healthz" in " ".join(test)
