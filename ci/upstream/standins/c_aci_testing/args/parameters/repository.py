def parse_repository(parser):
    import os
    parser.add_argument("--repository", default=os.getenv("REPOSITORY"))
