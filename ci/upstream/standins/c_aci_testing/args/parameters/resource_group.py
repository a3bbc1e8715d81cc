def parse_resource_group(parser):
    import os
    parser.add_argument("--resource-group", default=os.getenv("RESOURCE_GROUP"))
