"""Checks real events against their published JSON Schemas.

`cargo test` writes the details of the events the stack really published to
.local/events/<detail type>/*.json; this validates each against
infra/events/<kebab-case detail type>.v<schema_version>.schema.json, requires
the kinds of change the tests are meant to produce, and proves the check can
fail (a detail with a member the schema does not know, and one missing a member).
"""

import json
import pathlib
import re
import sys

import jsonschema

ROOT = pathlib.Path(__file__).resolve().parents[2]
REQUIRED_CHANGES = {"CredentialStatusChanged": {"invalidated", "reauth_required", "recovered"}}


def kebab(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower()


def validator(detail_type: str, version: int) -> jsonschema.Draft202012Validator:
    path = ROOT / "infra" / "events" / f"{kebab(detail_type)}.v{version}.schema.json"
    schema = json.loads(path.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


def main() -> int:
    captured = ROOT / ".local" / "events"
    failures = []
    for detail_type, required in REQUIRED_CHANGES.items():
        files = sorted((captured / detail_type).glob("*.json"))
        if not files:
            failures.append(f"{detail_type}: no captured events in {captured / detail_type}")
            continue
        seen = set()
        for file in files:
            detail = json.loads(file.read_text())
            check = validator(detail_type, detail.get("schema_version", 0))
            errors = [e.message for e in check.iter_errors(detail)]
            failures += [f"{file.name}: {e}" for e in errors]
            seen.add(detail.get("change"))
        if missing := required - seen:
            failures.append(f"{detail_type}: no event of change {sorted(missing)} was captured")
        # The check can fail: an unknown member, and a missing one, are refused.
        sample = json.loads(files[0].read_text())
        check = validator(detail_type, sample["schema_version"])
        if check.is_valid({**sample, "password": "x"}):
            failures.append(f"{detail_type}: the schema accepts a member it does not declare")
        if check.is_valid({k: v for k, v in sample.items() if k != "to"}):
            failures.append(f"{detail_type}: the schema accepts a detail without `to`")
        print(f"{detail_type}: {len(files)} real events valid against version {sample['schema_version']}, changes {sorted(seen)}")
    for failure in failures:
        print(f"FAIL {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
