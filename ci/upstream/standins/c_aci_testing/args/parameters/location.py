def parse_location(parser):
    import os
    parser.add_argument("--location", default=os.getenv("LOCATION"))
