"""Lint identity policies with parliament and cloudsplaining; exit 1 on any finding.

Runs in its own virtual environment (`make iam-lint-venv`: the linters pin their own botocore).
Usage: `python scripts/iam_lint.py policies.json`, where the file maps a name to a policy document
(a JSON string or object), e.g. the module's `policies.identity` output. cloudsplaining's command
line always exits 0, so its Python API is the gate here.
"""

from __future__ import annotations

import json
import sys

from cloudsplaining.scan.policy_document import PolicyDocument
from parliament import analyze_policy_string

# cloudsplaining's risk categories: any action listed in one of them is a finding.
CLOUDSPLAINING_CHECKS = (
    "all_allowed_unrestricted_actions",
    "allows_privilege_escalation",
    "allows_data_exfiltration_actions",
    "permissions_management_without_constraints",
    "write_actions_without_constraints",
    "tagging_actions_without_constraints",
    "infrastructure_modification",
    "credentials_exposure",
)


# Parliament findings that are wrong about AWS, each with the reason; nothing else is accepted.
# states:DescribeExecution lists two resource types in the Service Authorization Reference, execution*
# and express*, and parliament wants a resource of each; a Standard workflow has no express executions,
# and AWS's own Distributed Map policy grants DescribeExecution on execution ARNs only
# (https://docs.aws.amazon.com/step-functions/latest/dg/iam-policies-eg-dist-map.html).
ACCEPTED = {("RESOURCE_MISMATCH", "states:DescribeExecution", "arn:*:states:*:*:express:*:*:*")}


def _accepted(finding: object) -> bool:
    details = getattr(finding, "detail", None)
    if not isinstance(details, list) or not details:
        return False
    return all(
        isinstance(d, dict) and (finding.issue, d.get("action"), d.get("required_format")) in ACCEPTED  # type: ignore[attr-defined]
        for d in details
    )


def lint(name: str, document: dict) -> list[str]:
    findings = [
        f"{name}: parliament {finding.issue} {finding.detail or ''} at {finding.location}".rstrip()
        for finding in analyze_policy_string(json.dumps(document)).findings
        if not _accepted(finding)
    ]
    scanned = PolicyDocument(document)
    for check in CLOUDSPLAINING_CHECKS:
        flagged = getattr(scanned, check)
        if flagged:
            findings.append(f"{name}: cloudsplaining {check}: {flagged}")
    return findings


def main() -> int:
    with open(sys.argv[1]) as handle:
        policies = json.load(handle)
    findings: list[str] = []
    for name, document in sorted(policies.items()):
        findings += lint(name, json.loads(document) if isinstance(document, str) else document)
    for line in findings:
        print(line)
    summary = f"{len(policies)} identity policies linted with parliament and cloudsplaining"
    print(f"{summary}: {len(findings)} finding(s)")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
