# The API credentials. By default the module creates the secret without a value: the operator sets it
# out of band, so the value never passes through Terraform. Optionally a write-only input sets it
# (Terraform >= 1.11): write-only values are never stored in plan or state.

resource "aws_secretsmanager_secret" "api" {
  #checkov:skip=CKV2_AWS_57:Third-party API keys are rotated by the vendor's process, not by a Lambda; a rotation-function option arrives with the hardening options.
  name                    = local.secret_name
  description             = "lake-ingest ${var.source_id}: credentials for ${var.api_config.endpoint} (JSON object of credential fields only)"
  kms_key_id              = aws_kms_key.this.arn
  recovery_window_in_days = var.secret_recovery_window_days
  tags                    = local.tags
}

resource "aws_secretsmanager_secret_version" "api" {
  count = var.api_credentials_wo_version == null ? 0 : 1

  secret_id                = aws_secretsmanager_secret.api.id
  secret_string_wo         = jsonencode(var.api_credentials_wo)
  secret_string_wo_version = var.api_credentials_wo_version
}
