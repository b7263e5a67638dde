"""Renders a kustomization offline, for the tests of deploy/k8s: kustomize itself is not installed here.

It implements exactly the kustomize features deploy/k8s uses, as `kustomize build` applies them, and
refuses any other field, so a kustomization that grows past them fails loudly instead of rendering wrong:
- `resources`: YAML files and directories holding a kustomization (rendered first);
- `patches` with a `path`: a strategic merge patch on built-in kinds (lists of containers, env, volumes and
  volume mounts merged by their key, lists of scalars replaced, any other list of objects refused) and a
  JSON merge patch (RFC 7386) on custom resources, the target named by the patch's apiVersion, kind and name;
- `namespace`: set on every namespaced object;
- `labels` (`pairs` only): added to every object's metadata.labels, not to selectors or templates;
- `images`: `newName`/`newTag` for containers whose image is `name`.

    python -m tests.support.kustomize deploy/k8s/overlays/production   # prints the rendered YAML
"""

from __future__ import annotations

import copy
import sys
from pathlib import Path
from typing import Any

import yaml

Object = dict[str, Any]

SUPPORTED = {"apiVersion", "kind", "resources", "patches", "namespace", "labels", "images"}
CLUSTER_SCOPED = {"Namespace", "PersistentVolume", "StorageClass", "ClusterRole", "ClusterRoleBinding"}
# Strategic merge keys of the lists of a pod template (the Kubernetes API's patchMergeKey tags); a patch
# of any other list of objects is refused (`ports`, say, merges on different keys in different kinds).
MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
}


class KustomizeError(ValueError):
    pass


def build(directory: Path) -> list[Object]:
    """The objects `kustomize build directory` prints."""
    spec = yaml.safe_load((directory / "kustomization.yaml").read_text())
    unsupported = set(spec) - SUPPORTED
    if unsupported:
        raise KustomizeError(f"{directory}: unsupported kustomization fields {sorted(unsupported)}")
    objects: list[Object] = []
    for entry in spec.get("resources", []):
        path = directory / entry
        objects += build(path) if path.is_dir() else load(path)
    _check_unique(objects, directory)
    for patch in spec.get("patches", []):
        if set(patch) != {"path"}:
            raise KustomizeError(f"{directory}: only patches with a path are supported, not {patch}")
        for document in load(directory / patch["path"]):
            _apply_patch(objects, document, directory / patch["path"])
    if "namespace" in spec:
        _set_namespace(objects, spec["namespace"])
    for label in spec.get("labels", []):
        if set(label) != {"pairs"}:
            raise KustomizeError(f"{directory}: labels support only `pairs`, not {sorted(label)}")
        for obj in objects:
            obj.setdefault("metadata", {}).setdefault("labels", {}).update(label["pairs"])
    for image in spec.get("images", []):
        if not set(image) <= {"name", "newName", "newTag"}:
            raise KustomizeError(f"{directory}: unsupported image fields {sorted(image)}")
        for obj in objects:
            _set_image(obj, image)
    return objects


def load(path: Path) -> list[Object]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def identity(obj: Object) -> tuple[str, str, str]:
    return obj["apiVersion"], obj["kind"], obj["metadata"]["name"]


def _check_unique(objects: list[Object], directory: Path) -> None:
    seen: set[tuple[str, str, str]] = set()
    for obj in objects:
        if identity(obj) in seen:
            raise KustomizeError(f"{directory}: {identity(obj)} is defined twice")
        seen.add(identity(obj))


def _apply_patch(objects: list[Object], patch: Object, source: Path) -> None:
    targets = [obj for obj in objects if identity(obj) == identity(patch)]
    if not targets:
        raise KustomizeError(f"{source}: no resource {identity(patch)} to patch")
    (target,) = targets
    group = patch["apiVersion"].rpartition("/")[0]
    builtin = "." not in group or group.endswith(".k8s.io")
    merged = strategic_merge(target, patch) if builtin else merge_patch(target, patch)
    target.clear()
    target.update(merged)


def strategic_merge(base: Any, patch: Any, key: str = "") -> Any:
    if isinstance(patch, dict) and isinstance(base, dict):
        if any(k.startswith("$") for k in patch):
            raise KustomizeError(f"patch directives are not supported: {sorted(patch)}")
        merged = copy.deepcopy(base)
        for k, v in patch.items():
            merged[k] = strategic_merge(base[k], v, k) if k in base else copy.deepcopy(v)
        return merged
    if isinstance(patch, list) and isinstance(base, list) and key in MERGE_KEYS:
        merge_key = MERGE_KEYS[key]
        merged_list = copy.deepcopy(base)
        for item in patch:
            match = [i for i, old in enumerate(merged_list) if old.get(merge_key) == item.get(merge_key)]
            if match:
                merged_list[match[0]] = strategic_merge(merged_list[match[0]], item)
            else:
                merged_list.append(copy.deepcopy(item))
        return merged_list
    if isinstance(patch, list) and any(isinstance(item, dict) for item in patch):
        raise KustomizeError(f"no strategic merge key known for the list {key!r}")
    return copy.deepcopy(patch)  # scalars and lists of scalars are replaced


def merge_patch(base: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    merged = copy.deepcopy(base) if isinstance(base, dict) else {}
    for k, v in patch.items():
        if v is None:
            merged.pop(k, None)
        else:
            merged[k] = merge_patch(merged.get(k), v)
    return merged


def _set_namespace(objects: list[Object], namespace: str) -> None:
    for obj in objects:
        if obj["kind"] == "Namespace":
            if obj["metadata"]["name"] != namespace:
                raise KustomizeError(f"a Namespace {obj['metadata']['name']} besides namespace {namespace}")
        elif obj["kind"] not in CLUSTER_SCOPED:
            obj["metadata"]["namespace"] = namespace


def _set_image(node: Any, image: dict[str, str]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("containers", "initContainers"):
                for container in value:
                    name, _, tag = container["image"].partition(":")
                    if name == image["name"]:
                        new_tag = image.get("newTag", tag)
                        container["image"] = image.get("newName", name) + (f":{new_tag}" if new_tag else "")
            else:
                _set_image(value, image)
    elif isinstance(node, list):
        for item in node:
            _set_image(item, image)


if __name__ == "__main__":
    sys.stdout.write(yaml.safe_dump_all(build(Path(sys.argv[1])), sort_keys=False))
