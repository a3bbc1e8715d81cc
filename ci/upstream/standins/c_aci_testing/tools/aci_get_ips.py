def aci_get_ips(deployment_name=None, **_):
    """The group's containers listen on this machine's loopback (in the harness's network
    namespace)."""
    return ["127.0.0.1"]
