"""Local stand-in for c_aci_testing (Azure Container Instances test tooling), for running
upstream's integration suites against csc-rs sidecars on this machine: "deploying" a target
starts its containers as local processes (or podman containers) inside the harness's private
network and mount namespaces, against tsm-simulate and azure-emulator (see ci/upstream/README.md).
Only the entry points upstream's tests import exist."""
