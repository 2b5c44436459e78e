output "json" {
  description = "The reader's IAM policy (JSON): attach it to the analysts' role (never to a role tagged as a source)."
  value       = data.aws_iam_policy_document.this.json
}

output "statements" {
  description = "The policy's statements as planned ({sid, actions, resources, conditions}), for review and plan-time tests."
  value       = local.statements
}
