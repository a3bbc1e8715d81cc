def images_build(**_):
    """The sidecar images are built by ci/images.sh (docker/build.sh) before the suites run."""
    print("c_aci_testing stand-in: images are built by docker/build.sh")
