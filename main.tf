# lake-ingest: one data source per module instantiation.
# Resources live in one file per concern: lake (bucket, key, topic: own or shared), package/lambda,
# iam, secret, logs, dlq, alarms, schedule; a push source's in push, push_ingress(_iam), push_buffer, push_replay.

data "aws_partition" "current" {}
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

locals {
  partition  = data.aws_partition.current.partition
  dns_suffix = data.aws_partition.current.dns_suffix
  region     = data.aws_region.current.name
  account_id = data.aws_caller_identity.current.account_id

  name       = "${var.name_prefix}-${var.source_id}"
  raw_prefix = coalesce(var.raw_prefix, var.source_id)

  function_name     = local.name
  function_arn      = "arn:${local.partition}:lambda:${local.region}:${local.account_id}:function:${local.function_name}"
  log_group_name    = "/aws/lambda/${local.function_name}"
  secret_name       = "${var.name_prefix}/${var.source_id}/api-credentials"
  dlq_name          = "${local.name}-dlq"
  dlq_arn           = "arn:${local.partition}:sqs:${local.region}:${local.account_id}:${local.dlq_name}"
  schedule_dlq_name = "${local.name}-schedule-dlq"
  schedule_dlq_arn  = "arn:${local.partition}:sqs:${local.region}:${local.account_id}:${local.schedule_dlq_name}"

  # Service principals are global names in every partition (the lake's key policy names CloudWatch's).
  service_principal = { for s in ["lambda", "scheduler", "states", "apigateway"] : s => "${s}.amazonaws.com" }
  # kms:ViaService values: "<service>.<region>.amazonaws.com" in every partition, aws-cn included: the KMS
  # guide says to use the .amazonaws.com suffix in all partitions, so not the partition's DNS suffix
  # (https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-via-service).
  via_service = { for s in ["s3", "secretsmanager", "sqs", "lambda"] : s => "${s}.${local.region}.amazonaws.com" }

  # API_CONFIG as the function gets it, checked against the schema (modules/api_config); an incremental
  # source takes its timezone from the schedule, and a window source its window from rate(...).
  rate_window = try(format("%s%s", regex("^rate\\(([0-9]+) ", var.schedule_expression)[0], substr(regex("(minute|hour|day)", var.schedule_expression)[0], 0, 1)), null)
  incremental = try(module.api_config.rendered.incremental, null)
  api_config = module.api_config.rendered == null ? null : merge(
    module.api_config.rendered,
    local.incremental == null ? {} : {
      incremental = merge(
        { timezone = var.schedule_timezone },
        local.incremental.type == "window" && local.rate_window != null ? { window = local.rate_window } : {},
        local.incremental,
      )
    },
  )
  api_config_json = local.api_config == null ? null : jsonencode(local.api_config)
  # The records zone as the function writes it (var.table without what only the catalog needs).
  records_config_json = jsonencode({
    enabled          = var.table.enabled
    columns          = var.table.columns
    primary_key      = local.primary_key
    on_schema_change = var.table.on_schema_change
  })
  # The handler writes a provider's rotated refresh token back to the secret (PutSecretValue).
  rotates_refresh_token = try(local.api_config.auth.type, "") == "oauth2_refresh_token"

  # The one place the version lives is the handler package; the module reports the same.
  module_version = regex("__version__ = \"([^\"]+)\"", file("${path.module}/lambda_src/lake_ingest/__init__.py"))[0]

  # Metrics the handler emits (EMF): alarms read them with exactly these dimensions.
  metrics_namespace = "LakeIngest"
  metrics_service   = "lake-ingest"

  tags = merge(var.tags, { "lake-ingest:source-id" = var.source_id })
}
