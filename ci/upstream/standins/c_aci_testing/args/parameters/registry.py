def parse_registry(parser):
    import os
    parser.add_argument("--registry", default=os.getenv("REGISTRY"))
