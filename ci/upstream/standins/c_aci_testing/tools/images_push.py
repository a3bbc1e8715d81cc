def images_push(**_):
    """There is no registry here: podman runs the local images."""
    print("c_aci_testing stand-in: no registry; local images are used")
