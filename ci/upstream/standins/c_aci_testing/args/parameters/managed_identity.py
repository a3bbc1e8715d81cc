def parse_managed_identity(parser):
    import os
    parser.add_argument("--managed-identity", default=os.getenv("MANAGED_IDENTITY"))
