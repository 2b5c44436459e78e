# Plan-time checks of the module's security properties and input validation (mock provider: offline).
# Policy documents are asserted on their statement inputs, since a mock cannot render their JSON.

mock_provider "aws" {
  # Make the preset ARNs below known at plan time, so the planned policies can be asserted.
  override_during = plan

  mock_data "aws_caller_identity" {
    defaults = { account_id = "111122223333" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws", dns_suffix = "amazonaws.com" }
  }
  mock_data "aws_region" {
    defaults = { name = "eu-west-1" }
  }
  # A mock cannot render policy JSON; resources only need a syntactically valid document.
  mock_data "aws_iam_policy_document" {
    defaults = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
  }
  mock_resource "aws_s3_bucket" {
    defaults = { arn = "arn:aws:s3:::lake-ingest-orders-raw-x", id = "lake-ingest-orders-raw-x" }
  }
  mock_resource "aws_kms_key" {
    defaults = { arn = "arn:aws:kms:eu-west-1:111122223333:key/1111", key_id = "1111" }
  }
  mock_resource "aws_iam_role" {
    defaults = { arn = "arn:aws:iam::111122223333:role/lake-ingest-orders" }
  }
  mock_resource "aws_secretsmanager_secret" {
    defaults = { arn = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:lake-ingest/orders/api-credentials-AbCdEf" }
  }
  mock_resource "aws_sqs_queue" {
    defaults = { arn = "arn:aws:sqs:eu-west-1:111122223333:lake-ingest-orders-dlq" }
  }
  mock_resource "aws_cloudwatch_log_group" {
    defaults = { arn = "arn:aws:logs:eu-west-1:111122223333:log-group:/aws/lambda/lake-ingest-orders" }
  }
  mock_resource "aws_lambda_function" {
    defaults = { arn = "arn:aws:lambda:eu-west-1:111122223333:function:lake-ingest-orders" }
  }
  mock_resource "aws_sns_topic" {
    defaults = { arn = "arn:aws:sns:eu-west-1:111122223333:lake-ingest-orders-alarms" }
  }
}

variables {
  source_id = "orders"
  api_config = {
    endpoint     = "https://api.example.com/v1/orders"
    auth         = { type = "bearer", secret_field = "api_key" }
    records_path = "data.items"
  }
}

run "role_is_least_privilege" {
  command = plan

  assert {
    condition     = alltrue(flatten([for s in data.aws_iam_policy_document.role.statement : [for a in s.actions : !strcontains(a, "*")]]))
    error_message = "No action in the role policy may contain a wildcard."
  }
  assert {
    condition     = alltrue([for s in data.aws_iam_policy_document.role.statement : s.sid == "XRayTraces" || !contains(s.resources, "*")])
    error_message = "Resource \"*\" is allowed only for X-Ray, which has no resource-level permissions."
  }
  assert {
    condition = one([for s in data.aws_iam_policy_document.role.statement : s.resources if contains(s.actions, "s3:PutObject")]) == toset([
      "arn:aws:s3:::lake-ingest-orders-raw-x/orders/*"
    ])
    error_message = "s3:PutObject must be scoped to bucket/RAW_PREFIX/* only."
  }
  assert {
    condition     = length([for s in data.aws_iam_policy_document.role.statement : s if anytrue([for a in s.actions : startswith(a, "s3:")])]) == 2
    error_message = "Exactly two statements may grant S3 actions: writes under the prefix, reads of its manifests."
  }
  assert {
    condition = one([for s in data.aws_iam_policy_document.role.statement : s.resources if contains(s.actions, "s3:GetObject")]) == toset([
      "arn:aws:s3:::lake-ingest-orders-raw-x/orders/ingest_date=*/run_id=*/_manifest.json"
    ]) && one([for s in data.aws_iam_policy_document.role.statement : s.actions if contains(s.actions, "s3:GetObject")]) == toset(["s3:GetObject"])
    error_message = "s3:GetObject must be scoped to the source's own run manifests (read back to resume a partial run)."
  }
  assert {
    condition = one([for s in data.aws_iam_policy_document.role.statement : s.resources if contains(s.actions, "secretsmanager:GetSecretValue")]) == toset([
      "arn:aws:secretsmanager:eu-west-1:111122223333:secret:lake-ingest/orders/api-credentials-AbCdEf"
    ])
    error_message = "The role may read only its own secret."
  }
  assert {
    condition = alltrue([
      for s in data.aws_iam_policy_document.role.statement : (
        contains([for c in s.condition : c.variable], "kms:ViaService") &&
        anytrue([for c in s.condition : startswith(c.variable, "kms:EncryptionContext:")]) &&
        s.resources == toset(["arn:aws:kms:eu-west-1:111122223333:key/1111"])
      ) if anytrue([for a in s.actions : startswith(a, "kms:")])
    ])
    error_message = "Every KMS grant must be on the source's key only, with kms:ViaService and an encryption-context condition."
  }
  assert {
    condition = toset(flatten([
      for s in data.aws_iam_policy_document.role.statement : [for c in s.condition : c.values if c.variable == "kms:ViaService"]
    ])) == toset(["s3.eu-west-1.amazonaws.com", "secretsmanager.eu-west-1.amazonaws.com", "sqs.eu-west-1.amazonaws.com", "lambda.eu-west-1.amazonaws.com"])
    error_message = "kms:ViaService must name exactly S3, Secrets Manager, SQS (dead letters) and Lambda (environment) in this region."
  }
  assert {
    condition     = !contains(flatten([for s in data.aws_iam_policy_document.role.statement : s.actions]), "logs:CreateLogGroup")
    error_message = "The role must not create log groups (the module creates it)."
  }
  assert {
    condition = one([for s in data.aws_iam_policy_document.role.statement : s.resources if contains(s.actions, "logs:PutLogEvents")]) == toset([
      "arn:aws:logs:eu-west-1:111122223333:log-group:/aws/lambda/lake-ingest-orders:*"
    ])
    error_message = "Logs may go only to the function's own log group."
  }
}

run "trust_policy_has_confused_deputy_guard" {
  command = plan

  assert {
    condition = length(one(data.aws_iam_policy_document.assume.statement).principals) == 1 && alltrue([
      for p in one(data.aws_iam_policy_document.assume.statement).principals :
      p.type == "Service" && toset(p.identifiers) == toset(["lambda.amazonaws.com"])
    ]) && one(data.aws_iam_policy_document.assume.statement).actions == toset(["sts:AssumeRole"])
    error_message = "Only lambda.amazonaws.com may assume the role."
  }
  assert {
    condition = length(one(data.aws_iam_policy_document.assume.statement).condition) == 1 && alltrue([
      for c in one(data.aws_iam_policy_document.assume.statement).condition :
      c.test == "StringEquals" && c.variable == "aws:SourceAccount" && toset(c.values) == toset(["111122223333"])
    ])
    error_message = "The trust policy must require aws:SourceAccount = this account."
  }
}

run "key_bucket_and_function_settings" {
  command = plan

  assert {
    condition     = aws_kms_key.this.enable_key_rotation == true && aws_kms_key.this.deletion_window_in_days == 30
    error_message = "The key must rotate and have a deletion window."
  }
  assert {
    condition     = aws_s3_bucket_versioning.raw.versioning_configuration[0].status == "Enabled"
    error_message = "Versioning must be on."
  }
  assert {
    condition     = one(aws_s3_bucket_server_side_encryption_configuration.raw.rule).bucket_key_enabled == true && one(one(aws_s3_bucket_server_side_encryption_configuration.raw.rule).apply_server_side_encryption_by_default).sse_algorithm == "aws:kms"
    error_message = "Default encryption must be SSE-KMS with bucket keys."
  }
  assert {
    condition = alltrue([
      aws_s3_bucket_public_access_block.raw.block_public_acls, aws_s3_bucket_public_access_block.raw.block_public_policy,
      aws_s3_bucket_public_access_block.raw.ignore_public_acls, aws_s3_bucket_public_access_block.raw.restrict_public_buckets,
    ])
    error_message = "All public access must be blocked."
  }
  assert {
    condition     = one(aws_s3_bucket_ownership_controls.raw.rule).object_ownership == "BucketOwnerEnforced"
    error_message = "ACLs must be disabled (BucketOwnerEnforced)."
  }
  assert {
    condition = anytrue([
      for s in data.aws_iam_policy_document.raw_bucket.statement : s.effect == "Deny" && contains(s.actions, "s3:*") && anytrue([
        for c in s.condition : c.variable == "aws:SecureTransport" && toset(c.values) == toset(["false"])
      ])
    ])
    error_message = "The bucket policy must deny non-TLS requests."
  }
  assert {
    condition = length([
      for s in data.aws_iam_policy_document.raw_bucket.statement : s
      if s.effect == "Deny" && anytrue([for c in s.condition : startswith(c.variable, "s3:x-amz-server-side-encryption")])
    ]) == 2
    error_message = "The bucket policy must deny puts with another encryption or another key."
  }
  assert {
    condition = (
      aws_lambda_function.this.runtime == "python3.12" && tolist(aws_lambda_function.this.architectures) == tolist(["arm64"]) &&
      aws_lambda_function.this.handler == "lake_ingest.handler.lambda_handler" &&
      one(aws_lambda_function.this.tracing_config).mode == "Active" &&
      one(aws_lambda_function.this.logging_config).log_format == "JSON" &&
      one(aws_lambda_function.this.logging_config).log_group == "/aws/lambda/lake-ingest-orders" &&
      aws_lambda_function.this.reserved_concurrent_executions == 2
    )
    error_message = "Function settings (runtime, arm64, handler, tracing, JSON logging to its group, reserved concurrency) are wrong."
  }
  assert {
    condition = (
      jsondecode(aws_lambda_function.this.environment[0].variables.API_CONFIG).endpoint == "https://api.example.com/v1/orders" &&
      jsondecode(aws_lambda_function.this.environment[0].variables.API_CONFIG).auth == { type = "bearer", secret_field = "api_key" } &&
      aws_lambda_function.this.environment[0].variables.RAW_PREFIX == "orders" &&
      aws_lambda_function.this.environment[0].variables.SOURCE_ID == "orders"
    )
    error_message = "The environment must follow the handler's contract (null attributes left out of API_CONFIG)."
  }
  assert {
    condition     = aws_cloudwatch_log_group.this.retention_in_days == 365 && aws_cloudwatch_log_group.this.kms_key_id == "arn:aws:kms:eu-west-1:111122223333:key/1111"
    error_message = "The log group must be encrypted with the key and keep logs for the retention period."
  }
  assert {
    condition     = aws_lambda_function_event_invoke_config.this.maximum_retry_attempts == 2 && one(one(aws_lambda_function_event_invoke_config.this.destination_config).on_failure).destination == "arn:aws:sqs:eu-west-1:111122223333:lake-ingest-orders-dlq"
    error_message = "Failed async events must go to the dead-letter queue after bounded retries."
  }
  assert {
    condition     = length(aws_cloudwatch_metric_alarm.function) == 3 && aws_cloudwatch_metric_alarm.function["duration"].threshold == 240000
    error_message = "Errors, throttles and duration (80% of 300 s) alarms must exist."
  }
  assert {
    condition     = aws_secretsmanager_secret.api.kms_key_id == "arn:aws:kms:eu-west-1:111122223333:key/1111" && length(aws_secretsmanager_secret_version.api) == 0
    error_message = "The secret must use the key, and no value is set by default."
  }
}

run "key_policy_scopes_services" {
  command = plan

  assert {
    condition = anytrue([
      for s in data.aws_iam_policy_document.kms.statement : contains(flatten([for p in s.principals : p.identifiers]), "logs.eu-west-1.amazonaws.com") && anytrue([
        for c in s.condition : c.variable == "kms:EncryptionContext:aws:logs:arn" && toset(c.values) == toset(["arn:aws:logs:eu-west-1:111122223333:log-group:/aws/lambda/lake-ingest-orders"])
      ])
    ])
    error_message = "CloudWatch Logs may use the key only for this log group."
  }
  assert {
    condition = alltrue([
      for s in data.aws_iam_policy_document.kms.statement : contains([for c in s.condition : c.variable], "kms:ViaService")
      if contains(flatten([for p in s.principals : p.identifiers]), "arn:aws:iam::111122223333:role/lake-ingest-orders")
    ])
    error_message = "The function role may use the key only via the services."
  }
  assert {
    condition     = contains(flatten([for s in data.aws_iam_policy_document.kms.statement : flatten([for p in s.principals : p.identifiers])]), "cloudwatch.amazonaws.com")
    error_message = "CloudWatch alarms must be able to publish to the encrypted topic."
  }
}

run "arns_follow_the_partition" {
  command = plan

  override_data {
    target = data.aws_partition.current
    values = { partition = "aws-cn", dns_suffix = "amazonaws.com.cn" }
  }
  override_data {
    target = data.aws_region.current
    values = { name = "cn-north-1" }
  }

  assert {
    condition = toset(flatten([
      for s in data.aws_iam_policy_document.kms.statement : flatten([for p in s.principals : p.identifiers]) if s.sid == "AccountAdministersKeyAndDelegatesToIAM"
    ])) == toset(["arn:aws-cn:iam::111122223333:root"])
    error_message = "The key policy's account principal must be built from the partition."
  }
  assert {
    condition = alltrue([
      for arn in flatten([for s in data.aws_iam_policy_document.role.statement : [for c in s.condition : c.values if startswith(c.variable, "kms:EncryptionContext:aws:lambda") || startswith(c.variable, "kms:EncryptionContext:SecretARN") || startswith(c.variable, "kms:EncryptionContext:aws:sqs")]]) :
      startswith(arn, "arn:aws-cn:") && strcontains(arn, ":cn-north-1:111122223333:")
    ])
    error_message = "ARNs the module builds must use the partition, region and account."
  }
  assert {
    condition     = contains(flatten([for s in data.aws_iam_policy_document.role.statement : [for c in s.condition : c.values if c.variable == "kms:ViaService"]]), "s3.cn-north-1.amazonaws.com.cn")
    error_message = "kms:ViaService must use the partition's DNS suffix."
  }
}

run "schedule_passes_scheduled_time" {
  command = plan

  variables {
    schedule_expression = "cron(0 6 * * ? *)"
  }

  assert {
    condition     = jsondecode(aws_scheduler_schedule.this[0].target[0].input).scheduled_time == "<aws.scheduler.scheduled-time>"
    error_message = "The schedule must pass its scheduled time to the handler."
  }
  assert {
    condition = toset(flatten([for s in data.aws_iam_policy_document.scheduler.statement : s.actions])) == toset(["lambda:InvokeFunction", "kms:Decrypt"]) && alltrue([
      for s in data.aws_iam_policy_document.scheduler.statement : !contains(s.resources, "*")
    ])
    error_message = "The scheduler role may only invoke the function and decrypt with the source key."
  }
}

run "rejects_bad_source_id" {
  command = plan
  variables {
    source_id = "Orders_API"
  }
  expect_failures = [var.source_id]
}

run "rejects_long_source_id" {
  command = plan
  variables {
    source_id = "a-source-id-that-is-far-too-long-to-name-things"
  }
  expect_failures = [var.source_id]
}

run "rejects_bad_schedule" {
  command = plan
  variables {
    schedule_expression = "every hour"
  }
  expect_failures = [var.schedule_expression]
}

run "rejects_timeout_shorter_than_all_attempts" {
  command = plan
  variables {
    timeout_seconds = 60
    api_config = {
      endpoint        = "https://api.example.com/v1/orders"
      timeout_seconds = 30
      max_retries     = 3
    }
  }
  expect_failures = [var.timeout_seconds]
}

run "rejects_plain_http_to_a_remote_host" {
  command = plan
  variables {
    api_config = { endpoint = "http://api.example.com/v1/orders" }
  }
  expect_failures = [var.api_config]
}

run "rejects_credentials_in_static_headers" {
  command = plan
  variables {
    api_config = { endpoint = "https://api.example.com/v1/orders", headers = { Authorization = "Bearer abc" } }
  }
  expect_failures = [var.api_config]
}

run "rejects_bad_memory" {
  command = plan
  variables {
    memory_size = 64
  }
  expect_failures = [var.memory_size]
}

run "rejects_bad_architecture" {
  command = plan
  variables {
    architecture = "arm32"
  }
  expect_failures = [var.architecture]
}

run "rejects_bad_log_retention" {
  command = plan
  variables {
    log_retention_days = 42
  }
  expect_failures = [var.log_retention_days]
}

run "prebuilt_package_in_s3_skips_the_build" {
  command = plan

  variables {
    package_s3 = {
      bucket           = "artifacts"
      key              = "lake-ingest/0.1.0.zip"
      source_code_hash = "dCDLWUPXhE2lYGPvI1KPy41b+oASpeglYdtCxoABMJk="
    }
  }

  assert {
    condition     = length(module.package) == 0 && aws_lambda_function.this.s3_bucket == "artifacts" && aws_lambda_function.this.filename == null
    error_message = "A prebuilt S3 package must be deployed as is, without building lambda_src."
  }
  assert {
    condition     = aws_lambda_function.this.source_code_hash == "dCDLWUPXhE2lYGPvI1KPy41b+oASpeglYdtCxoABMJk="
    error_message = "The prebuilt package's hash must trigger updates."
  }
}

run "rejects_two_prebuilt_packages" {
  command = plan
  variables {
    package_path = "dist/lake-ingest.zip"
    package_s3   = { bucket = "artifacts", key = "x.zip" }
  }
  expect_failures = [var.package_s3]
}

run "builds_lambda_src_by_default" {
  command = plan

  assert {
    condition     = length(module.package) == 1 && endswith(aws_lambda_function.this.filename, ".zip") && aws_lambda_function.this.source_code_hash == module.package[0].content_hash
    error_message = "By default the module packages lambda_src with a plan-time content hash."
  }
  assert {
    condition     = contains(module.package[0].source_files, "lake_ingest/handler.py") && !anytrue([for f in module.package[0].source_files : strcontains(f, "__pycache__")])
    error_message = "The package must hold the handler sources and no bytecode caches."
  }
}

run "renders_pagination_into_api_config_without_unset_options" {
  command = plan
  variables {
    api_config = {
      endpoint   = "https://api.example.com/v1/orders"
      pagination = { type = "cursor", cursor_path = "meta.next", max_pages = 50 }
    }
  }
  assert {
    condition     = jsondecode(aws_lambda_function.this.environment[0].variables.API_CONFIG).pagination == { type = "cursor", cursor_path = "meta.next", max_pages = 50 }
    error_message = "API_CONFIG.pagination must carry exactly the options the caller set."
  }
}

run "rejects_unknown_pagination_type" {
  command = plan
  variables {
    api_config = { endpoint = "https://api.example.com/v1/orders", pagination = { type = "token" } }
  }
  expect_failures = [var.api_config]
}

run "rejects_pagination_option_of_another_type" {
  command = plan
  variables {
    api_config = { endpoint = "https://api.example.com/v1/orders", pagination = { type = "page_number", cursor_path = "next" } }
  }
  expect_failures = [var.api_config]
}

run "rejects_cursor_pagination_without_cursor_path" {
  command = plan
  variables {
    api_config = { endpoint = "https://api.example.com/v1/orders", pagination = { type = "cursor" } }
  }
  expect_failures = [var.api_config]
}

run "rejects_offset_pagination_without_limit" {
  command = plan
  variables {
    api_config = { endpoint = "https://api.example.com/v1/orders", pagination = { type = "offset" } }
  }
  expect_failures = [var.api_config]
}

run "rejects_fractional_max_pages" {
  command = plan
  variables {
    api_config = { endpoint = "https://api.example.com/v1/orders", pagination = { type = "link_header", max_pages = 2.5 } }
  }
  expect_failures = [var.api_config]
}

run "rejects_bad_content_type" {
  command = plan
  variables {
    api_config = { endpoint = "https://api.example.com/v1/orders", content_types = ["json"] }
  }
  expect_failures = [var.api_config]
}
