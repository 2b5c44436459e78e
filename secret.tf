# The API credentials. By default the module creates the secret without a value: the operator sets it
# out of band, so the value never passes through Terraform. Optionally a write-only input sets it
# (Terraform >= 1.11): write-only values are never stored in plan or state.

resource "aws_secretsmanager_secret" "api" {
  #checkov:skip=CKV2_AWS_57:Third-party API keys are rotated by the vendor's process (the handler re-reads the secret on 401/403); a rotation function is opt-in through var.secret_rotation.
  name                    = local.secret_name
  description             = local.push ? "lake-ingest ${var.source_id}: ${var.push.signature} webhook signing secrets (JSON {\"signing_secrets\": [{\"value\": ..., \"not_after\": ...}]} or {\"signing_secret\": ...})" : "lake-ingest ${var.source_id}: credentials for ${try(module.api_config.rendered.endpoint, "the API")} (JSON object of credential fields only)"
  kms_key_id              = local.kms_key_arn
  recovery_window_in_days = var.secret_recovery_window_days
  tags                    = local.tags
}

resource "aws_secretsmanager_secret_version" "api" {
  count = var.api_credentials_wo_version == null ? 0 : 1

  secret_id                = aws_secretsmanager_secret.api.id
  secret_string_wo         = jsonencode(var.api_credentials_wo)
  secret_string_wo_version = var.api_credentials_wo_version
}

resource "aws_secretsmanager_secret_rotation" "api" {
  #checkov:skip=CKV_AWS_304:The interval comes from var.secret_rotation.days, which validation limits to 1-90 days at plan time; checkov cannot read variables.
  count = var.secret_rotation == null ? 0 : 1

  secret_id           = aws_secretsmanager_secret.api.id
  rotation_lambda_arn = var.secret_rotation.lambda_arn
  rotation_rules {
    automatically_after_days = var.secret_rotation.days
  }
}

# Defense in depth for many sources in one account: whatever a role's IAM policy says, no other
# lake-ingest source's role (tagged with its own source id) can read or change this secret. Operators and
# Terraform carry no such tag and are unaffected.
resource "aws_secretsmanager_secret_policy" "api" {
  secret_arn          = aws_secretsmanager_secret.api.arn
  policy              = data.aws_iam_policy_document.secret.json
  block_public_policy = true
}

data "aws_iam_policy_document" "secret" {
  # Both conditions must hold: the caller carries a source-id tag (Null "false") and it is another
  # source's. Tag keys in aws:PrincipalTag match case-insensitively, as IAM stores them
  # (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-principaltag).
  statement {
    sid       = "NoOtherSourceTouchesThisSecret"
    effect    = "Deny"
    actions   = ["secretsmanager:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["*"]
    }
    condition {
      test     = "Null"
      variable = "aws:PrincipalTag/lake-ingest:source-id"
      values   = ["false"]
    }
    condition {
      test     = "StringNotEquals"
      variable = "aws:PrincipalTag/lake-ingest:source-id"
      values   = [var.source_id]
    }
  }
}
