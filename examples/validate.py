#!/usr/bin/env python3
"""Validates the deployment examples (run by ci/test.sh).

- ARM templates: JSON, the deployment template schema and content version, every
  parameters('x') / variables('x') reference declared, a Confidential container group whose
  sidecar containers use the images' entry points and only the environment variables the
  sidecars read (upstream's names), and every required parameter used.
- Kubernetes manifests: validated against the Kubernetes API schemas with kubernetes-validate
  (strict: unknown fields are errors), plus the sidecar checks above.
- Sidecar input files (SkrSideCarArgs / EncfsSideCarArgs / importkey configs): JSON with the
  members the programs read (the programs' own parsers check them in the Rust tests).
Exits non-zero with one line per problem.
"""
import json
import pathlib
import re
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent
SIDECAR_ENV = {
    "/skr.sh": {"SkrSideCarArgs", "Port", "LogFile", "LogLevel", "ServerType",
                "UVM_SECURITY_CONTEXT_DIR", "CSC_SIMULATE"},
    "/encfs.sh": {"EncfsSideCarArgs", "LogFile", "LogLevel", "UVM_SECURITY_CONTEXT_DIR"},
}
problems = []


def problem(path, msg):
    problems.append(f"{path.relative_to(ROOT)}: {msg}")


def check_sidecar(path, name, command, env_names, privileged):
    entry = (command or [None])[0]
    if entry not in SIDECAR_ENV:
        if name in ("skr", "skr-grpc", "encfs"):
            problem(path, f"container {name}: command {command} is not /skr.sh or /encfs.sh")
        return
    unknown = set(env_names) - SIDECAR_ENV[entry]
    if unknown:
        problem(path, f"container {name}: variables the sidecar does not read: {sorted(unknown)}")
    if entry == "/encfs.sh" and not privileged:
        problem(path, f"container {name}: encfs needs a privileged container (FUSE, loop, mount)")


def check_arm(path, doc):
    if "deploymentTemplate.json" not in doc.get("$schema", ""):
        problem(path, "not a deployment template ($schema)")
    if not re.fullmatch(r"\d+\.\d+\.\d+\.\d+", doc.get("contentVersion", "")):
        problem(path, "contentVersion must be like 1.0.0.0")
    text = json.dumps(doc)
    params = doc.get("parameters", {})
    variables = doc.get("variables", {})
    for kind, declared in (("parameters", params), ("variables", variables)):
        for ref in set(re.findall(kind + r"\('([^']+)'\)", text)):
            if ref not in declared:
                problem(path, f"{kind}('{ref}') is used but not declared")
    for p, spec in params.items():
        if spec.get("type") not in ("string", "int", "bool", "object", "array", "securestring"):
            problem(path, f"parameter {p}: bad type {spec.get('type')}")
        if f"parameters('{p}')" not in text:
            problem(path, f"parameter {p} is declared but not used")
    groups = [r for r in doc.get("resources", [])
              if r.get("type") == "Microsoft.ContainerInstance/containerGroups"]
    if len(groups) != 1:
        problem(path, "expected one Microsoft.ContainerInstance/containerGroups resource")
        return
    g = groups[0]
    for field in ("apiVersion", "name", "location", "properties"):
        if field not in g:
            problem(path, f"container group has no {field}")
    props = g.get("properties", {})
    if props.get("sku") != "Confidential":
        problem(path, "sku must be Confidential")
    if "ccePolicy" not in props.get("confidentialComputeProperties", {}):
        problem(path, "confidentialComputeProperties.ccePolicy is missing")
    volumes = {v.get("name") for v in props.get("volumes", [])}
    containers = props.get("containers", [])
    if len(containers) < 2:
        problem(path, "expected an application and a sidecar")
    for c in containers:
        cp = c.get("properties", {})
        if not cp.get("image"):
            problem(path, f"container {c.get('name')}: no image")
        if "requests" not in cp.get("resources", {}):
            problem(path, f"container {c.get('name')}: no resource requests")
        for m in cp.get("volumeMounts", []):
            if m.get("name") not in volumes:
                problem(path, f"container {c.get('name')}: mounts undeclared volume {m.get('name')}")
        env = cp.get("environmentVariables", [])
        for e in env:
            if ("value" in e) == ("secureValue" in e):
                problem(path, f"container {c.get('name')}: {e.get('name')} needs value or secureValue")
        check_sidecar(path, c.get("name"), cp.get("command"), [e.get("name") for e in env],
                      cp.get("securityContext", {}).get("privileged", False))


def check_k8s(path):
    try:
        out = subprocess.run(["kubernetes-validate", "--strict", str(path)],
                             capture_output=True, text=True, timeout=120)
    except FileNotFoundError:
        problem(path, "kubernetes-validate is not installed (pip install kubernetes-validate)")
        return
    if out.returncode != 0 or "ERROR" in out.stdout:
        problem(path, "kubernetes-validate: " + (out.stdout + out.stderr).strip().replace("\n", " | "))
    import yaml  # installed with kubernetes-validate
    for doc in yaml.safe_load_all(path.read_text()):
        if not doc or doc.get("kind") != "Pod":
            continue
        spec = doc["spec"]
        if spec.get("runtimeClassName") != "kata-cc-isolation":
            problem(path, "the pod must run with runtimeClassName kata-cc-isolation")
        for c in spec.get("containers", []):
            check_sidecar(path, c["name"], c.get("command"), [e["name"] for e in c.get("env", [])],
                          c.get("securityContext", {}).get("privileged", False))


def check_input(path, doc):
    name = path.name
    if name.startswith("encfs-sidecar-args"):
        for fs in doc.get("azure_filesystems", []):
            for field in ("mount_point", "azure_url", "key"):
                if not fs.get(field):
                    problem(path, f"filesystem without {field}")
            if fs.get("key", {}).get("kty", "").startswith("RSA") and "key_derivation" not in fs:
                problem(path, "an RSA key needs key_derivation")
    elif name.startswith("importkeyconfig"):
        for field in ("kid", "authority", "akv"):
            if field not in doc.get("key", {}):
                problem(path, f"key has no {field}")
        if not doc.get("claims"):
            problem(path, "no release policy claims")


def main():
    files = sorted(p for p in ROOT.rglob("*") if p.suffix in (".json", ".yaml", ".yml"))
    for path in files:
        if path.suffix == ".json":
            try:
                doc = json.loads(path.read_text())
            except json.JSONDecodeError as e:
                problem(path, f"not JSON: {e}")
                continue
            if "$schema" in doc:
                check_arm(path, doc)
            else:
                check_input(path, doc)
        else:
            check_k8s(path)
    for p in problems:
        print(p)
    print(f"examples: {len(files)} files, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
