#!/usr/bin/env bash
# Render every overlay under k8s/overlays with kustomize and validate the output with kubeconform -strict.
#
#   k8s/validate.sh
#
# Tools: kustomize and kubeconform, pinned below, installed with `go install` into $(go env GOPATH)/bin (or
# $GOBIN) when missing or at another version. Without Go, copies already on PATH are used as they are.
#
# Custom resources (KEDA's ScaledObject, the Prometheus Operator's PodMonitor and PrometheusRule) are validated against the CRDs that come with the operator's Go module,
# turned into strict JSON schemas once (python3 with PyYAML: Debian's python3-yaml, installed when missing).
#
# Schemas (SCHEMA_SOURCE):
#   openapi (default)  built once from the OpenAPI spec of Kubernetes $KUBERNETES_VERSION, which comes with the
#                      k8s.io/kubernetes module from the Go module proxy (works where GitHub is unreachable);
#                      cached in ${XDG_CACHE_HOME:-~/.cache}/chirp-k8s-schemas.
#   remote             kubeconform's own schema repository on raw.githubusercontent.com.
# KUBERNETES_VERSION (default 1.30.14, the oldest Kubernetes these manifests support) picks the schemas.
set -euo pipefail

KUSTOMIZE_VERSION=v5.8.2      # v5.8.3 needs Go >= 1.27
KUBECONFORM_VERSION=v0.8.0
KUBERNETES_VERSION=${KUBERNETES_VERSION:-1.30.14}
# The custom resources the overlays use, validated against the CRDs of these releases (from the Go module proxy).
KEDA_VERSION=v2.21.0
PROMETHEUS_OPERATOR_VERSION=v0.85.0
SCHEMA_SOURCE=${SCHEMA_SOURCE:-openapi}

K8S_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
say() { printf 'validate: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

have_go() { command -v go >/dev/null 2>&1; }

gobin() {
  local dir
  dir=$(go env GOBIN)
  [[ -n $dir ]] || dir=$(go env GOPATH)/bin
  printf '%s\n' "$dir"
}

# tool NAME MODULE_PATH VERSION: print the path of NAME at VERSION, installing it with `go install` if needed.
tool() {
  local name=$1 package=$2 version=$3 dir installed
  if have_go; then
    dir=$(gobin)
    installed=""
    [[ -x $dir/$name ]] && installed=$(go version -m "$dir/$name" 2>/dev/null | awk '$1 == "mod" {print $3; exit}')
    if [[ $installed != "$version" ]]; then
      say "installing $name $version into $dir (go install $package@$version)"
      GOBIN=$dir go install "$package@$version" || die "go install $package@$version failed"
    fi
    printf '%s\n' "$dir/$name"
  elif command -v "$name" >/dev/null 2>&1; then
    say "Go not found: using $(command -v "$name") as it is (wanted $version)"
    command -v "$name"
  else
    die "Go is not installed, and $name is not on PATH. Install Go (https://go.dev/doc/install), then run this" \
      "again: it installs $name $version itself. Or install $name $version by hand."
  fi
}

# Build strict, self-contained JSON schemas (the layout kubeconform expects: <kind>-<group>-<version>.json)
# from the Kubernetes OpenAPI v2 spec, as kubeconform's published ones are built: every object rejects unknown
# fields, int-or-string and quantities accept both types, references are inlined.
openapi_schemas() {
  local cache=${XDG_CACHE_HOME:-$HOME/.cache}/chirp-k8s-schemas/v$KUBERNETES_VERSION-standalone-strict
  if [[ ! -f $cache/.complete ]]; then
    have_go || die "SCHEMA_SOURCE=openapi needs Go to fetch k8s.io/kubernetes; use SCHEMA_SOURCE=remote instead"
    command -v python3 >/dev/null 2>&1 || die "SCHEMA_SOURCE=openapi needs python3"
    say "building schemas of Kubernetes $KUBERNETES_VERSION into $cache (once)"
    local module_dir
    module_dir=$(cd "${TMPDIR:-/tmp}" && GOFLAGS=-mod=mod go mod download -json "k8s.io/kubernetes@v$KUBERNETES_VERSION" |
      python3 -c 'import json, sys; print(json.load(sys.stdin)["Dir"])') ||
      die "could not download k8s.io/kubernetes@v$KUBERNETES_VERSION through the Go module proxy"
    rm -rf "$cache" && mkdir -p "$cache"
    python3 - "$module_dir/api/openapi-spec/swagger.json" "$cache" <<'PYTHON'
import json
import os
import sys

swagger, out = sys.argv[1], sys.argv[2]
definitions = json.load(open(swagger))["definitions"]
SPECIAL = {
    "io.k8s.apimachinery.pkg.util.intstr.IntOrString": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
    "io.k8s.apimachinery.pkg.api.resource.Quantity": {"oneOf": [{"type": "string"}, {"type": "number"}]},
}


def schema(node, seen):
    """Inline $refs, drop documentation, and make every object with known properties strict."""
    ref = node.get("$ref")
    if ref:
        name = ref.rsplit("/", 1)[-1]
        if name in SPECIAL:
            return dict(SPECIAL[name])
        if name in seen:  # recursive types (JSONSchemaProps of CRDs): accept anything below this point
            return {}
        return schema(definitions[name], seen | {name})
    if node.get("format") == "int-or-string":
        return dict(SPECIAL["io.k8s.apimachinery.pkg.util.intstr.IntOrString"])
    result = {}
    for key, value in node.items():
        if key == "description" or key.startswith("x-kubernetes-"):
            continue
        if key == "properties":
            value = {name: schema(sub, seen) for name, sub in value.items()}
        elif key in ("items", "additionalProperties") and isinstance(value, dict):
            value = schema(value, seen)
        result[key] = value
    if "properties" in result:
        result.setdefault("additionalProperties", False)
    return result


written = 0
for name, definition in definitions.items():
    for gvk in definition.get("x-kubernetes-group-version-kind", []):
        group = gvk["group"].split(".")[0]
        suffix = (f"-{group}" if group else "") + f"-{gvk['version']}"
        with open(os.path.join(out, f"{gvk['kind']}{suffix}.json".lower()), "w") as f:
            json.dump(schema(definition, {name}), f)
        written += 1
print(f"validate: {written} schemas written", file=sys.stderr)
PYTHON
    touch "$cache/.complete"
  fi
  printf '%s\n' "$cache/{{ .ResourceKind }}{{ .KindSuffix }}.json"
}

# Strict JSON schemas, in kubeconform's <group>/<kind>_<version>.json layout, from the CRDs in the Go module
# $1 at version $2 (their directory $3 in it): each version's openAPIV3Schema, with every object that lists its
# properties closed to others, as kubeconform's own CRD converter does.
crd_schemas() {
  local module=$1 version=$2 crds=$3 cache module_dir
  cache=${XDG_CACHE_HOME:-$HOME/.cache}/chirp-k8s-schemas/crds-${module//\//_}-$version
  if [[ ! -f $cache/.complete ]]; then
    have_go || die "custom resource schemas need Go to fetch $module"
    python3 -c 'import yaml' 2>/dev/null || install_pyyaml
    say "building the schemas of $module $version's CRDs into $cache (once)"
    module_dir=$(cd "${TMPDIR:-/tmp}" && GOFLAGS=-mod=mod go mod download -json "$module@$version" |
      python3 -c 'import json, sys; print(json.load(sys.stdin)["Dir"])') ||
      die "could not download $module@$version through the Go module proxy"
    rm -rf "$cache" && mkdir -p "$cache"
    python3 - "$module_dir/$crds" "$cache" <<'PYTHON'
import glob
import json
import os
import sys

import yaml

crds, out = sys.argv[1], sys.argv[2]
# PyYAML reads a bare `=` (an enum value in some CRDs) as YAML 1.1's "value" type, which it cannot build.
yaml.SafeLoader.add_constructor("tag:yaml.org,2002:value", yaml.SafeLoader.construct_yaml_str)


def strict(node):
    if isinstance(node, dict):
        node = {key: strict(value) for key, value in node.items() if key != "description"}
        if "properties" in node and not node.get("x-kubernetes-preserve-unknown-fields"):
            node.setdefault("additionalProperties", False)
        return node
    return [strict(item) for item in node] if isinstance(node, list) else node


written = 0
for path in sorted(glob.glob(os.path.join(crds, "*.yaml"))):
    for crd in yaml.safe_load_all(open(path)):
        if not crd or crd.get("kind") != "CustomResourceDefinition":
            continue
        group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"].lower()
        os.makedirs(os.path.join(out, group), exist_ok=True)
        for version in crd["spec"]["versions"]:
            with open(os.path.join(out, group, f"{kind}_{version['name']}.json"), "w") as f:
                json.dump(strict(version["schema"]["openAPIV3Schema"]), f)
            written += 1
print(f"validate: {written} custom resource schemas written", file=sys.stderr)
PYTHON
    [[ -n $(ls "$cache") ]] || die "no schema could be made from the CRDs of $module $version"
    touch "$cache/.complete"
  fi
  printf '%s\n' "$cache/{{ .Group }}/{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json"
}

install_pyyaml() {
  command -v apt-get >/dev/null 2>&1 || die "python3 has no PyYAML: install it (python3-yaml, or pip install pyyaml)"
  say "python3 has no PyYAML: installing python3-yaml with apt-get"
  local sudo=""
  [[ $(id -u) -eq 0 ]] || sudo=sudo
  $sudo apt-get install -y -q python3-yaml >/dev/null || { $sudo apt-get update -q >/dev/null &&
    $sudo apt-get install -y -q python3-yaml >/dev/null; } || die "apt-get install python3-yaml failed"
}

KUSTOMIZE=$(tool kustomize sigs.k8s.io/kustomize/kustomize/v5 "$KUSTOMIZE_VERSION")
KUBECONFORM=$(tool kubeconform github.com/yannh/kubeconform/cmd/kubeconform "$KUBECONFORM_VERSION")

case $SCHEMA_SOURCE in
  openapi) SCHEMA_LOCATION=$(openapi_schemas) ;;
  remote) SCHEMA_LOCATION=default ;;
  *) die "SCHEMA_SOURCE must be openapi or remote, not '$SCHEMA_SOURCE'" ;;
esac
KEDA_SCHEMAS=$(crd_schemas github.com/kedacore/keda/v2 "$KEDA_VERSION" config/crd/bases)
MONITORING_SCHEMAS=$(crd_schemas github.com/prometheus-operator/prometheus-operator "$PROMETHEUS_OPERATOR_VERSION" \
  example/prometheus-operator-crd)

OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

status=0
for overlay in "$K8S_DIR"/overlays/*/; do
  name=$(basename "$overlay")
  if ! "$KUSTOMIZE" build "$overlay" >"$OUT/$name.yaml"; then
    say "$name: kustomize build failed"
    status=1
    continue
  fi
  say "$name: $(grep -c '^kind:' "$OUT/$name.yaml") resources rendered; kubeconform (Kubernetes $KUBERNETES_VERSION):"
  "$KUBECONFORM" -strict -summary -kubernetes-version "$KUBERNETES_VERSION" -schema-location "$SCHEMA_LOCATION" \
    -schema-location "$KEDA_SCHEMAS" -schema-location "$MONITORING_SCHEMAS" "$OUT/$name.yaml" || status=1
done

if [[ $status -eq 0 ]]; then say "all overlays valid"; else say "FAILED"; fi
exit $status
