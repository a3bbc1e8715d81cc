def parse_policy_type(parser):
    import os
    parser.add_argument("--policy-type", default=os.getenv("POLICY_TYPE", "allow_all"))
