def parse_subscription(parser):
    import os
    parser.add_argument("--subscription", default=os.getenv("SUBSCRIPTION"))
