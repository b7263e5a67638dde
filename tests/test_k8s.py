"""deploy/k8s cannot be applied here (no cluster, no kustomize), so it is rendered offline
(tests.support.kustomize), every object is validated against the Kubernetes API's JSON schemas
(kubernetes-validate, strict: no unknown fields) and KEDA's CRD types (cloudcoil-models-keda), and the
result is checked against the code as docker-compose.yml is: every variable a setting, every command one
the CLI parses, every port the one the process binds, every queue the one the workers consume, and the
NetworkPolicies the caller map that the workloads' own addresses spell out."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
from cloudcoil.models.keda import v1alpha1 as keda
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from cli.main import SERVICES
from common.callers import CALLERS
from common.grpc_server import READINESS_SERVICE
from common.settings import Settings
from tests.support.deployment import ROOT, image_env, image_uid, parse_command, setting_of
from tests.support.kustomize import KustomizeError, build, load

K8S = ROOT / "deploy" / "k8s"
# The oldest Kubernetes these manifests are meant for (gRPC probes, autoscaling/v2, policy/v1) and the newest.
KUBERNETES_VERSIONS = ("1.29.0", "1.37.0")
RENDERED = {"base": build(K8S / "base"), "production": build(K8S / "overlays" / "production")}
ADMIN_JOB = load(K8S / "admin" / "job.yaml")
SECRET = "layers-secrets"
# Settings whose values are credentials or carry them: only ever from the Secret.
SECRET_SETTINGS = {"content_db_url", "media_db_url", "billing_db_url", "webhooks_db_url"} | {
    "amqp_url",
    "redis_url",
    "signing_secret",
    "webhook_secret_key",
}
# The queue each autoscaled worker consumes (services/renderer/worker.py, services/webhooks/server.py).
CONSUMED_QUEUE = {"renderer": "render_queue", "webhooks": "webhooks_queue"}

Object = dict[str, Any]
# Where each process's certificate, key and CA are mounted (a Secret per identity), by variable.
TLS_DIR = Path("/etc/layers/grpc-tls")
TLS_FILES = {"LAYERS_GRPC_TLS_CERT": "tls.crt", "LAYERS_GRPC_TLS_KEY": "tls.key", "LAYERS_GRPC_TLS_CA": "ca.crt"}


def objects(variant: str, kind: str) -> dict[str, Object]:
    return {o["metadata"]["name"]: o for o in RENDERED[variant] if o["kind"] == kind}


def pod_spec(workload: Object) -> Object:
    return dict(workload["spec"]["template"]["spec"])


def container(workload: Object) -> Object:
    (only,) = pod_spec(workload)["containers"]
    return dict(only)


def component(workload: Object) -> str:
    return str(workload["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/component"])


def literal_env(workload: Object) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container(workload).get("env", []) if "value" in e}


def name_of(obj: Object) -> str:
    return str(obj["metadata"].get("name") or obj["metadata"]["generateName"])


class ManifestSettings(Settings):
    """Settings from the given values alone, not from this test process's environment."""

    @classmethod
    def settings_customise_sources(  # type: ignore[override]
        cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource, **_: Any
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)


def settings_of(workload: Object) -> Settings:
    """The settings the container's process reads: its literal variables over the image's environment (but
    the certificate files, which exist only in the pod: test_every_process_speaks_mtls_with_its_own_identity)."""
    env = {"LAYERS_DATA_DIR": image_env("LAYERS_DATA_DIR"), **literal_env(workload)}
    env = {k: v for k, v in env.items() if k not in TLS_FILES}
    return ManifestSettings.model_validate({setting_of(k, name_of(workload)): v for k, v in env.items()})


def workloads(variant: str) -> list[Object]:
    return [*objects(variant, "Deployment").values(), *ADMIN_JOB]


def validate(obj: Object, version: str) -> None:
    """Raise unless the object is valid for that Kubernetes version (and, for KEDA's kinds, its CRD)."""
    if obj["apiVersion"].startswith("keda.sh/"):
        model = getattr(keda, obj["kind"])
        # The models ignore unknown fields: what comes back out must be all that went in.
        echoed = model.model_validate(obj).model_dump(by_alias=True, exclude_unset=True, mode="json")
        if echoed != obj:
            raise ValueError(f"{obj['kind']} {obj['metadata']['name']}: fields the CRD does not have")
        return
    kubernetes_validate.validate(obj, version, strict=True)


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("variant", sorted(RENDERED))
def test_every_object_is_valid_for_the_kubernetes_api(variant: str, version: str) -> None:
    for obj in [*RENDERED[variant], *ADMIN_JOB]:
        validate(obj, version)


def test_the_validators_refuse_what_a_cluster_would() -> None:
    deployment = copy.deepcopy(objects("base", "Deployment")["gateway"])
    container(deployment)  # one container
    deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbes"] = {}  # a typo
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(deployment, KUBERNETES_VERSIONS[0])
    scaled = copy.deepcopy(objects("base", "ScaledObject")["renderer"])
    scaled["spec"]["maxReplicas"] = 3  # an HPA field, not KEDA's
    with pytest.raises(ValueError, match="fields the CRD does not have"):
        validate(scaled, KUBERNETES_VERSIONS[0])
    del scaled["spec"]["maxReplicas"], scaled["spec"]["scaleTargetRef"]["name"]
    with pytest.raises(ValueError, match="name"):
        validate(scaled, KUBERNETES_VERSIONS[0])


def test_the_renderer_applies_the_production_overlay_as_kustomize_does() -> None:
    base, production = objects("base", "Deployment"), objects("production", "Deployment")
    assert {o["metadata"].get("namespace") for o in RENDERED["production"] if o["kind"] != "Namespace"} == {"layers"}
    assert all(o["metadata"]["labels"]["app.kubernetes.io/part-of"] == "layers" for o in RENDERED["base"])
    assert {container(d)["image"] for d in production.values()} == {"registry.example.com/layers-partner-api:0.1.0"}
    gateway_env = literal_env(production["gateway"])
    assert gateway_env["LAYERS_HTTP_WORKERS"] == "2"  # merged by name: patched in place, the rest kept
    assert [e["name"] for e in container(production["gateway"])["env"]] == [
        e["name"] for e in container(base["gateway"])["env"]
    ]
    assert container(production["renderer"])["volumeMounts"] == container(base["renderer"])["volumeMounts"]
    assert production["content"]["spec"]["replicas"] == 2 and "replicas" not in base["content"]["spec"]
    scaled = objects("production", "ScaledObject")["renderer"]["spec"]
    assert (
        scaled["maxReplicaCount"] == 40
        and scaled["triggers"] == objects("base", "ScaledObject")["renderer"]["spec"]["triggers"]
    )


def test_the_renderer_refuses_kustomize_features_it_does_not_implement(tmp_path: Path) -> None:
    (tmp_path / "kustomization.yaml").write_text("resources: []\nnamePrefix: prod-\n")
    with pytest.raises(KustomizeError, match="namePrefix"):
        build(tmp_path)
    (tmp_path / "kustomization.yaml").write_text(f"resources: [{K8S / 'base'}]\npatches: [{{path: p.yaml}}]\n")
    (tmp_path / "p.yaml").write_text(
        "apiVersion: v1\nkind: Service\nmetadata: {name: gateway}\nspec:\n  ports: [{port: 80}]\n"
    )
    with pytest.raises(KustomizeError, match="ports"):
        build(tmp_path)


@pytest.mark.parametrize("variant", sorted(RENDERED))
def test_one_deployment_per_service_running_a_real_command(variant: str) -> None:
    deployments = objects(variant, "Deployment")
    assert set(deployments) == set(SERVICES)
    for name, deployment in deployments.items():
        args = parse_command(container(deployment)["args"])
        assert (args.command, args.service) == ("serve", name)
        assert component(deployment) == name
    for job in ADMIN_JOB:
        assert parse_command(container(job)["args"]).command == "admin"
        assert component(job) == "admin"


@pytest.mark.parametrize("variant", sorted(RENDERED))
def test_variables_are_settings_and_credentials_come_from_the_secret(variant: str) -> None:
    readme = (ROOT / "README.md").read_text()
    for workload in workloads(variant):
        where = name_of(workload)
        for variable in container(workload)["env"]:
            field = setting_of(variable["name"], where)
            if field in SECRET_SETTINGS:
                assert set(variable) == {"name", "valueFrom"}, f"{where}: {variable['name']} must come from the Secret"
            if "valueFrom" in variable:
                ref = variable["valueFrom"]["secretKeyRef"]
                assert ref["name"] == SECRET
                assert f"--from-literal={ref['key']}=" in readme, f"the README does not say how to set {ref['key']}"
        settings_of(workload)  # the literal values are valid settings


@pytest.mark.parametrize("variant", sorted(RENDERED))
def test_ports_probes_and_services_match_what_each_process_binds(variant: str) -> None:
    services = objects(variant, "Service")
    for name, deployment in objects(variant, "Deployment").items():
        main = container(deployment)
        settings = settings_of(deployment)
        ports = {p["name"]: p["containerPort"] for p in main.get("ports", [])}
        # Every process serves /metrics on LAYERS_METRICS_PORT, for Prometheus to scrape from its pod.
        assert settings.metrics_port is not None and ports.pop("metrics") == settings.metrics_port
        annotations = deployment["spec"]["template"]["metadata"]["annotations"]
        assert annotations == {"prometheus.io/scrape": "true", "prometheus.io/port": str(settings.metrics_port)}
        if name == "renderer":
            assert not ports and name not in services  # a queue consumer listens on nothing else
            for probe in ("startupProbe", "livenessProbe"):
                args = parse_command(main[probe]["exec"]["command"][1:])
                assert main[probe]["exec"]["command"][0] == "layers" and args.command == "health"
                assert args.heartbeat == settings.data_dir / "renderer-heartbeat"
            continue
        if name == "gateway":
            assert settings.http_host == "0.0.0.0"
            assert ports == {"http": settings.http_port}
            assert main["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
            assert main["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
        else:
            host, _, port = getattr(settings, f"{name}_addr").rpartition(":")
            health = settings.grpc_health_port
            assert host == "0.0.0.0" and ports == {"grpc": int(port), "health": health}
            # The gRPC health service every server has, on its plaintext health port (the service port takes
            # only mTLS callers, and the kubelet has no certificate): overall status for liveness, readiness
            # by name.
            assert main["livenessProbe"]["grpc"] == {"port": health}
            assert main["readinessProbe"]["grpc"] == {"port": health, "service": READINESS_SERVICE}
        service = services[name]
        assert service["spec"]["selector"] == deployment["spec"]["template"]["metadata"]["labels"]
        # The Service carries the traffic; the health port is the kubelet's, on the pod itself.
        assert [p["targetPort"] for p in service["spec"]["ports"]] == [p for p in ports if p != "health"]


def serving_ports(deployment: dict[str, Any]) -> list[dict[str, Any]]:
    """A container's ports but /metrics, which only Prometheus reaches, and the health port the kubelet's
    probes use (from the node, which NetworkPolicies do not govern)."""
    return [p for p in container(deployment)["ports"] if p["name"] not in ("metrics", "health")]


def callers(variant: str) -> dict[str, set[str]]:
    """Who dials whom, read from each workload's LAYERS_*_ADDR (host:port of a Service), checked to reach
    the port the target binds."""
    services, deployments = objects(variant, "Service"), objects(variant, "Deployment")
    dialed: dict[str, set[str]] = {name: set() for name in services}
    for workload in workloads(variant):
        for key, value in literal_env(workload).items():
            host, _, port = value.rpartition(":")
            if key.endswith("_ADDR") and host != "0.0.0.0":
                assert key == f"LAYERS_{host.upper()}_ADDR", f"{component(workload)}: {key} dials {host}"
                (service_port,) = services[host]["spec"]["ports"]
                assert service_port["port"] == int(port)
                target = serving_ports(deployments[host])
                assert [p["name"] for p in target] == [service_port["targetPort"]]
                dialed[host].add(component(workload))
    return dialed


@pytest.mark.parametrize("variant", sorted(RENDERED))
def test_network_policies_admit_exactly_the_callers(variant: str) -> None:
    policies = objects(variant, "NetworkPolicy")
    deny = policies.pop("default-deny-ingress")
    assert deny["spec"] == {"podSelector": {}, "policyTypes": ["Ingress"]}
    scrape = policies.pop("metrics")["spec"]
    assert scrape["podSelector"] == {"matchLabels": {"app.kubernetes.io/name": "layers"}}
    (scrape_rule,) = scrape["ingress"]
    metrics_ports = {
        p["containerPort"]
        for d in objects(variant, "Deployment").values()
        for p in container(d)["ports"]
        if p["name"] == "metrics"
    }
    assert scrape_rule["ports"] == [{"protocol": "TCP", "port": port} for port in sorted(metrics_ports)]
    assert scrape_rule["from"] == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}
    ]
    expected = callers(variant)
    # The caller map: the gateway calls every service, the renderer content and media, content media
    # and billing, the admin CLI content, media and billing; nothing calls webhooks but the gateway.
    assert expected == {
        "gateway": set(),
        "content": {"gateway", "renderer", "admin"},
        "media": {"gateway", "renderer", "content", "admin"},
        "billing": {"gateway", "content", "admin"},
        "webhooks": {"gateway"},
    }
    deployments = objects(variant, "Deployment")
    assert set(policies) == set(expected)  # none for the renderer: it takes no connections
    for name, policy in policies.items():
        assert policy["spec"]["podSelector"]["matchLabels"] == deployments[name]["spec"]["selector"]["matchLabels"]
        (rule,) = policy["spec"]["ingress"]
        assert [p["port"] for p in rule["ports"]] == [p["containerPort"] for p in serving_ports(deployments[name])]
        if name == "gateway":
            assert "from" not in rule  # partners, through whatever ingress the cluster has
            continue
        admitted = {peer["podSelector"]["matchLabels"]["app.kubernetes.io/component"] for peer in rule["from"]}
        assert admitted == expected[name], name


@pytest.mark.parametrize("variant", sorted(RENDERED))
def test_containers_are_non_root_read_only_and_write_only_to_volumes(variant: str) -> None:
    for workload in workloads(variant):
        spec, main = pod_spec(workload), container(workload)
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["runAsUser"] == image_uid()
        assert spec["automountServiceAccountToken"] is False
        assert main["securityContext"] == {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        }
        assert set(main["resources"]["requests"]) == {"cpu", "memory"}
        volumes = {v["name"]: v for v in spec["volumes"]}
        mounts = {Path(m["mountPath"]): m for m in main["volumeMounts"]}
        assert all(m["name"] in volumes for m in mounts.values())
        # Read-only: the certificates; everything else mounted is somewhere the process may write.
        assert {p for p, m in mounts.items() if m.get("readOnly")} == {TLS_DIR}
        settings = settings_of(workload)
        # Where the process writes: temporary files, and the folders the settings name (data, blobs, renders).
        written = [Path("/tmp")]
        if workload["kind"] == "Deployment":
            written += [settings.data_dir, settings.render_work]
        if component(workload) == "media":
            written.append(settings.blobs)
            assert volumes[mounts[settings.blobs]["name"]]["persistentVolumeClaim"]["claimName"] in objects(
                variant, "PersistentVolumeClaim"
            )
        for folder in written:
            assert any(folder.is_relative_to(mount) for mount in mounts), f"{component(workload)} writes {folder}"


@pytest.mark.parametrize("variant", sorted(RENDERED))
def test_autoscaling_targets_the_gateway_on_cpu_and_workers_on_their_queues(variant: str) -> None:
    deployments = objects(variant, "Deployment")
    (hpa,) = objects(variant, "HorizontalPodAutoscaler").values()
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "gateway"}
    assert [m["resource"]["name"] for m in hpa["spec"]["metrics"]] == ["cpu"]
    assert "cpu" in container(deployments["gateway"])["resources"]["requests"]  # utilisation is of the request
    (auth,) = objects(variant, "TriggerAuthentication").values()
    assert auth["spec"]["secretTargetRef"] == [{"parameter": "host", "name": SECRET, "key": "amqp-url"}]
    scaled = objects(variant, "ScaledObject")
    assert set(scaled) == set(CONSUMED_QUEUE)
    for name, scaled_object in scaled.items():
        assert scaled_object["spec"]["scaleTargetRef"] == {"name": name}
        assert "replicas" not in deployments[name]["spec"]  # KEDA owns the count
        (trigger,) = scaled_object["spec"]["triggers"]
        assert trigger["type"] == "rabbitmq" and trigger["authenticationRef"] == {"name": auth["metadata"]["name"]}
        assert trigger["metadata"]["queueName"] == getattr(settings_of(deployments[name]), CONSUMED_QUEUE[name])
        assert trigger["metadata"]["mode"] == "QueueLength" and int(trigger["metadata"]["value"]) > 0


@pytest.mark.parametrize("variant", sorted(RENDERED))
def test_every_deployment_has_a_disruption_budget(variant: str) -> None:
    budgets = objects(variant, "PodDisruptionBudget")
    for name, deployment in objects(variant, "Deployment").items():
        assert budgets[name]["spec"]["selector"] == deployment["spec"]["selector"]


@pytest.mark.parametrize("variant", sorted(RENDERED))
def test_every_process_speaks_mtls_with_its_own_identity(variant: str) -> None:
    """Each workload's LAYERS_GRPC_TLS_* name the files of its own Secret, read-only: the certificate whose
    common name is the identity the caller map (common.callers) knows it by, its component's name."""
    servers = {"content", "media", "billing", "webhooks"}
    identities = set()
    for workload in workloads(variant):
        name, env = component(workload), literal_env(workload)
        assert {k: env.get(k) for k in TLS_FILES} == {k: str(TLS_DIR / f) for k, f in TLS_FILES.items()}, name
        mount = next(m for m in container(workload)["volumeMounts"] if Path(m["mountPath"]) == TLS_DIR)
        assert mount["readOnly"] is True
        volume = next(v for v in pod_spec(workload)["volumes"] if v["name"] == mount["name"])
        assert volume["secret"]["secretName"] == f"layers-grpc-tls-{name}"
        assert volume["secret"]["defaultMode"] == 0o440  # the process's group (fsGroup) reads, nobody writes
        assert pod_spec(workload)["securityContext"]["fsGroup"] == image_uid(), f"{name}: the key is unreadable"
        identities.add(name)
    # Every identity that calls is in the caller map, and every server has a certificate of its own.
    assert identities - servers == set(CALLERS) - servers and servers <= identities
