"""Validates TOML files against a JSON Schema with a real validator (jsonschema, draft 2020-12).

Usage: validate_schema.py SCHEMA FILE...; prints one line per file: `valid PATH` or
`invalid PATH: first error`, and exits 0 (the caller judges the verdicts).
"""

import json
import sys
import tomllib

import jsonschema


def main() -> None:
    with open(sys.argv[1], encoding="utf-8") as handle:
        schema = json.load(handle)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    for path in sys.argv[2:]:
        with open(path, "rb") as handle:
            document = tomllib.load(handle)
        error = jsonschema.exceptions.best_match(validator.iter_errors(document))
        if error is None:
            print(f"valid {path}")
        else:
            where = "/".join(str(p) for p in error.absolute_path)
            print(f"invalid {path}: {where}: {error.message}")


if __name__ == "__main__":
    main()
