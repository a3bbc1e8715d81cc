import contextlib
import os

from ._deploy import TARGETS, Group, write_policy


@contextlib.contextmanager
def target_run_ctx(target_path, deployment_name, tag=None, cleanup=True, policy_type=None, **_):
    """Deploys the target's container group (its policy first, as c_aci_testing does) and
    yields its ids; stops every container on exit."""
    name = write_policy(target_path)
    deploy = TARGETS.get(name)
    if deploy is None:
        raise RuntimeError(f"c_aci_testing stand-in: no local deployment for target {name!r}")
    group = Group(name)
    try:
        deploy(group, target_path)
        yield [f"/subscriptions/local/resourceGroups/local/providers/Microsoft.ContainerInstance/containerGroups/{deployment_name}"]
    finally:
        group.stop()
