from ._deploy import write_policy


def policies_gen(target_path, **_):
    """The security policy of each container group (policy_<target>.rego). The simulated host
    (tsm-simulate) launches every group with this one policy, so HOST_DATA is its SHA-256."""
    write_policy(target_path)
