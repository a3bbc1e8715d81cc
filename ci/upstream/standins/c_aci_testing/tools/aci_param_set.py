import json
import os

from ._deploy import PARAMS_FILE, params


def aci_param_set(target_path, parameters, **_):
    p = params(target_path)
    p.update(parameters)
    with open(os.path.join(target_path, PARAMS_FILE), "w") as f:
        json.dump(p, f)
