# The function, and its package built from lambda_src by this module (or a prebuilt one).

locals {
  build_package = var.package_path == null && var.package_s3 == null
  build_dir     = coalesce(var.package_build_dir, "${path.root}/.terraform/lake-ingest")
  package_hash = (
    local.build_package ? module.package[0].content_hash :
    var.package_path != null ? filebase64sha256(var.package_path) :
    var.package_s3.source_code_hash
  )
}

# API_CONFIG against its JSON Schema (the handler checks the same schema when it starts).
module "api_config" {
  source = "./modules/api_config"

  api_config          = var.api_config
  allow_http_loopback = var.allow_http_loopback
}

module "package" {
  source = "./modules/package"
  count  = local.build_package ? 1 : 0

  source_dir        = "${path.module}/lambda_src"
  requirements_file = "${path.module}/lambda_src/requirements.txt"
  python_version    = trimprefix(var.runtime, "python")
  build_dir         = local.build_dir
  python_executable = var.python_executable
  # A replaced function (new name) must find its zip even on a fresh checkout.
  rebuild_triggers = { function_name = local.function_name }
}

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_117:No VPC by default: the function calls third-party APIs on the internet; opt-in through var.vpc_config.
  #checkov:skip=CKV_AWS_272:Code signing needs an AWS Signer profile the platform team owns; opt-in through var.code_signing_config_arn.
  #checkov:skip=CKV_AWS_116:Failed async events go to the on-failure destination (aws_lambda_function_event_invoke_config -> SQS), which records the error with the event; a DLQ as well would deliver every failure twice.
  function_name = local.function_name
  description   = local.push ? "lake-ingest ${var.source_id}: webhooks from ${local.push_buffer_name} -> s3://${local.bucket_name}/${local.raw_prefix}/" : "lake-ingest ${var.source_id}: ${try(local.api_config.method, "GET")} ${try(local.api_config.endpoint, "")} -> s3://${local.bucket_name}/${local.raw_prefix}/"
  role          = aws_iam_role.this.arn
  handler       = "lake_ingest.handler.lambda_handler"
  runtime       = var.runtime
  architectures = [var.architecture]
  memory_size   = var.memory_size
  timeout       = var.timeout_seconds
  kms_key_arn   = local.kms_key_arn

  reserved_concurrent_executions = var.reserved_concurrency
  code_signing_config_arn        = var.code_signing_config_arn

  filename          = local.build_package ? module.package[0].zip_path : var.package_path
  s3_bucket         = try(var.package_s3.bucket, null)
  s3_key            = try(var.package_s3.key, null)
  s3_object_version = try(var.package_s3.version_id, null)
  source_code_hash  = local.package_hash

  environment {
    variables = merge(
      {
        SOURCE_ID  = var.source_id
        RAW_BUCKET = local.bucket_name
        # Sent as ExpectedBucketOwner on every S3 call: a same-named bucket in another account fails.
        RAW_BUCKET_OWNER             = local.account_id
        RAW_PREFIX                   = local.raw_prefix
        SECRET_ARN                   = aws_secretsmanager_secret.api.arn
        KMS_KEY_ARN                  = local.kms_key_arn
        RECORDS_CONFIG               = local.records_config_json
        POWERTOOLS_SERVICE_NAME      = local.metrics_service
        POWERTOOLS_METRICS_NAMESPACE = local.metrics_namespace
        POWERTOOLS_LOG_LEVEL         = var.log_level
      },
      # A push source's function writes the buffer's batches (PUSH_CONFIG); a pull source's calls the API.
      local.push ? { PUSH_CONFIG = local.push_config_json } : { API_CONFIG = local.api_config_json },
      var.allow_http_loopback ? { ALLOW_HTTP_LOOPBACK = "true" } : {},
    )
  }

  tracing_config {
    mode = "Active"
  }

  dynamic "vpc_config" {
    for_each = var.vpc_config == null ? [] : [var.vpc_config]
    content {
      subnet_ids         = vpc_config.value.subnet_ids
      security_group_ids = vpc_config.value.security_group_ids
    }
  }

  logging_config {
    log_format            = "JSON"
    log_group             = aws_cloudwatch_log_group.this.name
    application_log_level = var.log_level
    system_log_level      = "WARN"
  }

  tags = local.tags

  depends_on = [
    module.package,
    aws_iam_role_policy.this,
    aws_cloudwatch_log_group.this,
    module.lake,
  ]
}
