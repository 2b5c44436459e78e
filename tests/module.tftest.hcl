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
  mock_resource "aws_sfn_state_machine" {
    defaults = { arn = "arn:aws:states:eu-west-1:111122223333:stateMachine:lake-ingest-orders-run" }
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
    condition     = alltrue(flatten([for s in data.aws_iam_policy_document.role.statement : [for a in s.actions : !strcontains(a, "*")] if s.effect != "Deny"]))
    error_message = "No allowed action in the role policy may contain a wildcard."
  }
  assert {
    condition = [for s in data.aws_iam_policy_document.role.statement : [s.sid, s.actions, s.not_resources] if s.effect == "Deny"] == [
      ["DenyS3OutsideOwnPrefix", toset(["s3:*"]), toset(["arn:aws:s3:::lake-ingest-orders-raw-x/orders/*"])]
    ]
    error_message = "The one deny: any S3 action outside bucket/orders/*, whatever another policy attached later grants."
  }
  assert {
    condition     = alltrue([for s in data.aws_iam_policy_document.role.statement : s.sid == "XRayTraces" || !contains(coalesce(s.resources, []), "*")])
    error_message = "Resource \"*\" is allowed only for X-Ray, which has no resource-level permissions."
  }
  assert {
    condition = one([for s in data.aws_iam_policy_document.role.statement : s.resources if contains(s.actions, "s3:PutObject")]) == toset([
      "arn:aws:s3:::lake-ingest-orders-raw-x/orders/*"
    ])
    error_message = "s3:PutObject must be scoped to bucket/RAW_PREFIX/* only."
  }
  assert {
    condition     = length([for s in data.aws_iam_policy_document.role.statement : s if s.effect != "Deny" && anytrue([for a in s.actions : startswith(a, "s3:")])]) == 2
    error_message = "Exactly two statements may grant S3 actions: writes under the prefix, reads of its manifests."
  }
  assert {
    condition = one([for s in data.aws_iam_policy_document.role.statement : s.resources if contains(s.actions, "s3:GetObject")]) == toset([
      "arn:aws:s3:::lake-ingest-orders-raw-x/orders/ingest_date=*/run_id=*/_manifest.json",
      "arn:aws:s3:::lake-ingest-orders-raw-x/orders/_state/cursor.json",
      "arn:aws:s3:::lake-ingest-orders-raw-x/orders/_state/schema.json",
    ]) && one([for s in data.aws_iam_policy_document.role.statement : s.actions if contains(s.actions, "s3:GetObject")]) == toset(["s3:GetObject"])
    error_message = "s3:GetObject must be scoped to the source's own run manifests (resume, retries), cursor state and schema state (the records zone, on by default)."
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
        anytrue([for c in s.condition : startswith(c.variable, "kms:EncryptionContext:")]) == contains(["UseKeyViaS3", "UseKeyViaSecretsManager"], s.sid) &&
        s.resources == toset(["arn:aws:kms:eu-west-1:111122223333:key/1111"])
      ) if anytrue([for a in s.actions : startswith(a, "kms:")])
    ])
    error_message = "Every KMS grant must be on the source's key only, with kms:ViaService; the S3 and Secrets Manager grants (documented contexts) with an encryption-context condition."
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

run "function_settings" {
  command = plan

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
    condition     = aws_cloudwatch_metric_alarm.simple["duration"].threshold == 240000 && length(aws_cloudwatch_metric_alarm.error_rate) == 1 && length(aws_cloudwatch_metric_alarm.freshness) == 0
    error_message = "Error-rate and duration (80% of 300 s) alarms must exist by default; freshness only with a schedule."
  }
  assert {
    condition     = toset(keys(aws_cloudwatch_metric_alarm.simple)) == toset(["throttles", "duration", "concurrency", "async_events_dropped", "dead_letters", "quarantined_pages"])
    error_message = "Without a schedule there is no schedule dead-letter alarm; every other simple alarm is on by default."
  }
  assert {
    condition     = length(aws_scheduler_schedule_group.this) == 0 && length(aws_scheduler_schedule.this) == 0 && output.schedule_group_arn == null
    error_message = "Without a schedule there is no schedule group either."
  }
  assert {
    condition     = keys(aws_cloudwatch_metric_alarm.state) == ["schema_changes"]
    error_message = "A source that neither rotates a refresh token nor keeps a cursor has no refresh-token or cursor alarm (only schema_changes, the records zone being on by default)."
  }
  assert {
    condition     = aws_iam_role.this.tags["lake-ingest:raw-prefix"] == "orders"
    error_message = "The role must carry its prefix as the lake-ingest:raw-prefix tag (a shared lake's bucket policy confines it there)."
  }
  assert {
    condition     = can(regex("^[0-9]+\\.[0-9]+\\.[0-9]+$", output.module_version))
    error_message = "module_version must be the handler package's semantic version."
  }
  assert {
    condition     = length(module.lake) == 1 && output.uses_shared_lake == false
    error_message = "Without var.lake the source creates its own lake."
  }
  assert {
    condition     = aws_secretsmanager_secret.api.kms_key_id == "arn:aws:kms:eu-west-1:111122223333:key/1111" && length(aws_secretsmanager_secret_version.api) == 0
    error_message = "The secret must use the key, and no value is set by default."
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
    condition = alltrue([
      # the ARNs the module builds itself (the mock provider makes up the others in the aws partition)
      for arn in flatten([for s in data.aws_iam_policy_document.role.statement : setunion(coalesce(s.resources, toset([])), coalesce(s.not_resources, toset([]))) if contains(["WriteOwnPrefixOnly", "ReadOwnManifestsAndStateOnly", "DenyS3OutsideOwnPrefix"], s.sid)]) :
      startswith(arn, "arn:aws-cn:s3:::lake-ingest-orders-raw-x/orders/")
    ])
    error_message = "ARNs the module builds must use the partition, region and account."
  }
  assert {
    condition     = toset(flatten([for s in data.aws_iam_policy_document.role.statement : [for c in s.condition : c.values if c.variable == "kms:ViaService"]])) == toset(["s3.cn-north-1.amazonaws.com", "secretsmanager.cn-north-1.amazonaws.com", "sqs.cn-north-1.amazonaws.com", "lambda.cn-north-1.amazonaws.com"])
    error_message = "kms:ViaService names the region's endpoint with the .amazonaws.com suffix in every partition, aws-cn included (KMS developer guide), not the partition's DNS suffix."
  }
}

run "arns_follow_the_us_gov_partition" {
  command = plan

  override_data {
    target = data.aws_partition.current
    values = { partition = "aws-us-gov", dns_suffix = "amazonaws.com" }
  }
  override_data {
    target = data.aws_region.current
    values = { name = "us-gov-west-1" }
  }

  assert {
    condition = alltrue([
      # the ARNs the module builds itself (the mock provider makes up the others in the aws partition)
      for arn in flatten([for s in data.aws_iam_policy_document.role.statement : setunion(coalesce(s.resources, toset([])), coalesce(s.not_resources, toset([]))) if contains(["WriteOwnPrefixOnly", "ReadOwnManifestsAndStateOnly", "DenyS3OutsideOwnPrefix"], s.sid)]) :
      startswith(arn, "arn:aws-us-gov:s3:::lake-ingest-orders-raw-x/orders/")
    ])
    error_message = "ARNs the module builds must use the aws-us-gov partition, region and account."
  }
  assert {
    condition     = contains(flatten([for s in data.aws_iam_policy_document.role.statement : [for c in s.condition : c.values if c.variable == "kms:ViaService"]]), "secretsmanager.us-gov-west-1.amazonaws.com")
    error_message = "kms:ViaService must name the GovCloud region's endpoint."
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
    condition = toset(flatten([for s in data.aws_iam_policy_document.scheduler.statement : s.actions])) == toset(["lambda:InvokeFunction", "kms:Decrypt", "sqs:SendMessage", "kms:GenerateDataKey"]) && alltrue([
      for s in data.aws_iam_policy_document.scheduler.statement : !contains(s.resources, "*")
    ])
    error_message = "The scheduler role may only invoke the function, decrypt the schedule and dead-letter to its own queue."
  }
  assert {
    condition     = one(aws_scheduler_schedule.this[0].target[0].dead_letter_config).arn != null && one(aws_scheduler_schedule.this[0].target[0].retry_policy).maximum_retry_attempts == 3 && one(aws_scheduler_schedule.this[0].flexible_time_window).mode == "OFF"
    error_message = "The schedule must retry, then dead-letter to its own queue; no flexible window by default."
  }
  assert {
    condition     = contains(keys(aws_cloudwatch_metric_alarm.simple), "schedule_dead_letters") && length(aws_cloudwatch_metric_alarm.freshness) == 1
    error_message = "A scheduled source must alarm on its schedule's dead letters and on freshness."
  }
  assert {
    condition     = aws_scheduler_schedule_group.this[0].name == "lake-ingest-orders" && aws_scheduler_schedule_group.this[0].tags["lake-ingest:source-id"] == "orders" && aws_scheduler_schedule.this[0].group_name == "lake-ingest-orders"
    error_message = "The schedule lives in the source's own schedule group (named as the source, tagged), not the account's default group."
  }
  assert {
    condition     = jsonencode({ for c in one(data.aws_iam_policy_document.scheduler_assume.statement).condition : c.variable => [c.test, c.values] }) == jsonencode({ "aws:SourceAccount" = ["StringEquals", ["111122223333"]], "aws:SourceArn" = ["ArnEquals", ["arn:aws:scheduler:eu-west-1:111122223333:schedule-group/lake-ingest-orders"]] })
    error_message = "The scheduler role trusts the schedules of the source's own group only (aws:SourceArn = that group), in this account."
  }
  assert {
    condition     = one(flatten([for s in data.aws_iam_policy_document.scheduler.statement : [for c in s.condition : c.values if c.variable == "kms:EncryptionContext:aws:scheduler:schedule:arn"]])) == "arn:aws:scheduler:eu-west-1:111122223333:schedule/lake-ingest-orders/lake-ingest-orders"
    error_message = "The scheduler role decrypts its own schedule only: schedule/<group>/<name>, in the source's group."
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

# Platform conventions (issue 22): a permissions boundary and a path on every role, in any partition.
run "boundary_and_path_on_every_role" {
  command = plan
  variables {
    api_config = {
      endpoint     = "https://api.example.com/v1/events"
      records_path = "data"
      query_params = { from = "{window_start}", to = "{window_end}" }
      incremental  = { type = "window" }
    }
    schedule_expression       = "rate(1 hour)"
    orchestration             = {}
    role_permissions_boundary = "arn:aws-us-gov:iam::111122223333:policy/org/boundaries/ingest"
    role_path                 = "/lake-ingest/"
  }

  assert {
    condition = [
      for role in [aws_iam_role.this, one(aws_iam_role.scheduler), one(aws_iam_role.run_machine), one(aws_iam_role.backfill_machine)] : [role.permissions_boundary, role.path]
    ] == [for i in range(4) : ["arn:aws-us-gov:iam::111122223333:policy/org/boundaries/ingest", "/lake-ingest/"]]
    error_message = "Every role the module creates takes the boundary and the path."
  }
}

run "no_boundary_by_default" {
  command = plan
  variables {
    schedule_expression = "rate(1 hour)"
  }

  assert {
    condition     = aws_iam_role.this.permissions_boundary == null && one(aws_iam_role.scheduler).permissions_boundary == null && aws_iam_role.this.path == "/" && one(aws_iam_role.scheduler).path == "/"
    error_message = "No boundary and the root path unless the caller asks."
  }
}

run "rejects_a_boundary_that_is_not_a_policy_arn" {
  command = plan
  variables {
    role_permissions_boundary = "arn:aws:iam::111122223333:role/boundary"
  }
  expect_failures = [var.role_permissions_boundary]
}

run "rejects_a_boundary_policy_name" {
  command = plan
  variables {
    role_permissions_boundary = "lake-boundary"
  }
  expect_failures = [var.role_permissions_boundary]
}

run "rejects_a_path_without_the_trailing_slash" {
  command = plan
  variables {
    role_path = "/lake-ingest"
  }
  expect_failures = [var.role_path]
}

run "rejects_a_path_with_a_space" {
  command = plan
  variables {
    role_path = "/lake ingest/"
  }
  expect_failures = [var.role_path]
}

run "rejects_timeout_shorter_than_all_attempts" {
  # reported on api_config, which the caller wrote, with the numbers
  command = plan
  variables {
    timeout_seconds = 60
    api_config = {
      endpoint        = "https://api.example.com/v1/orders"
      timeout_seconds = 30
      max_retries     = 3
    }
  }
  expect_failures = [var.api_config]
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

run "rejects_credentials_in_the_endpoint_authority" {
  command = plan
  variables {
    api_config = { endpoint = "https://user:pass@api.example.com/v1/orders" }
  }
  expect_failures = [var.api_config]
}

run "rejects_a_credential_in_the_endpoint_query" {
  command = plan
  variables {
    api_config = { endpoint = "https://api.example.com/v1/orders?limit=5&api_key=abc" }
  }
  expect_failures = [var.api_config]
}

run "rejects_a_credential_looking_header" {
  command = plan
  variables {
    api_config = { endpoint = "https://api.example.com/v1/orders", headers = { "X-Api-Key" = "abc" } }
  }
  expect_failures = [var.api_config]
}

run "rejects_a_credential_looking_query_param" {
  command = plan
  variables {
    api_config = { endpoint = "https://api.example.com/v1/orders", query_params = { token = "abc" } }
  }
  expect_failures = [var.api_config]
}

run "accepts_ordinary_names_and_keeps_http_loopback_off" {
  command = plan
  variables {
    api_config = {
      endpoint     = "https://api.example.com/v1/orders?limit=5"
      headers      = { "X-Request-Id" = "lake", Accept = "application/json" }
      query_params = { sort_key = "id", page_size = "100" }
      # sort_key ends in "key": the credential rule refuses it unless declared as carrying none.
      non_secret_names = ["sort_key"]
    }
  }
  assert {
    condition     = aws_lambda_function.this.environment[0].variables.RAW_BUCKET_OWNER == "111122223333" && !contains(keys(aws_lambda_function.this.environment[0].variables), "ALLOW_HTTP_LOOPBACK")
    error_message = "The function must get its bucket's expected owner, and no plain-http permission unless asked for."
  }
}

run "rejects_plain_http_to_loopback_without_the_opt_in" {
  command = plan
  variables {
    api_config = { endpoint = "http://127.0.0.1:9001/2018-06-01/runtime/invocation/next" }
  }
  expect_failures = [var.api_config]
}

run "plain_http_to_loopback_with_the_opt_in" {
  command = plan
  variables {
    allow_http_loopback = true
    api_config          = { endpoint = "http://127.0.0.1:8080/v1/orders" }
  }
  assert {
    condition     = aws_lambda_function.this.environment[0].variables.ALLOW_HTTP_LOOPBACK == "true"
    error_message = "With the opt-in the function is told that loopback http is allowed."
  }
}

run "rejects_a_lake_key_in_another_account" {
  command = plan
  variables {
    lake = { bucket_name = "acme-raw-lake", kms_key_arn = "arn:aws:kms:eu-west-1:444455556666:key/1111", alarm_topic_arn = "arn:aws:sns:eu-west-1:111122223333:lake-alarms" }
  }
  expect_failures = [var.lake]
}

run "rejects_a_lake_topic_in_another_region" {
  command = plan
  variables {
    lake = { bucket_name = "acme-raw-lake", kms_key_arn = "arn:aws:kms:eu-west-1:111122223333:key/1111", alarm_topic_arn = "arn:aws:sns:us-east-1:111122223333:lake-alarms" }
  }
  expect_failures = [var.lake]
}

run "rejects_a_lake_key_in_another_partition" {
  command = plan
  variables {
    lake = { bucket_name = "acme-raw-lake", kms_key_arn = "arn:aws-us-gov:kms:eu-west-1:111122223333:key/1111", alarm_topic_arn = "arn:aws:sns:eu-west-1:111122223333:lake-alarms" }
  }
  expect_failures = [var.lake]
}

run "rejects_a_source_the_shared_lake_does_not_know" {
  command = plan
  variables {
    lake = { bucket_name = "acme-raw-lake", kms_key_arn = "arn:aws:kms:eu-west-1:111122223333:key/1111", alarm_topic_arn = "arn:aws:sns:eu-west-1:111122223333:lake-alarms", source_prefixes = { customers = "customers" } }
  }
  expect_failures = [var.lake]
}

run "rejects_a_source_registered_with_another_prefix" {
  command = plan
  variables {
    lake = { bucket_name = "acme-raw-lake", kms_key_arn = "arn:aws:kms:eu-west-1:111122223333:key/1111", alarm_topic_arn = "arn:aws:sns:eu-west-1:111122223333:lake-alarms", source_prefixes = { orders = "vendor/orders" } }
  }
  expect_failures = [var.lake]
}

run "a_registered_source_plans" {
  command = plan
  variables {
    raw_prefix = "vendor/orders"
    lake       = { bucket_name = "acme-raw-lake", kms_key_arn = "arn:aws:kms:eu-west-1:111122223333:key/1111", alarm_topic_arn = "arn:aws:sns:eu-west-1:111122223333:lake-alarms", source_prefixes = { orders = "vendor/orders" } }
  }
  assert {
    condition     = aws_lambda_function.this.environment[0].variables.RAW_PREFIX == "vendor/orders"
    error_message = "A source registered with its prefix plans."
  }
}

run "rejects_dot_segments_in_raw_prefix" {
  command = plan
  variables {
    raw_prefix = "vendor/../orders"
  }
  expect_failures = [var.raw_prefix]
}

run "rejects_wildcard_subnets" {
  command = plan
  variables {
    vpc_config = { subnet_ids = ["*"], security_group_ids = ["sg-0123456789abcdef0"] }
  }
  expect_failures = [var.vpc_config]
}

run "rejects_reserved_tag_keys_in_any_case" {
  command = plan
  variables {
    tags = { "Lake-Ingest:Source-Id" = "customers" }
  }
  expect_failures = [var.tags]
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

run "the_plan_shows_what_the_function_runs_with" {
  command = plan
  variables {
    api_config = {
      endpoint     = "https://api.example.com/v1/orders"
      method       = "get"
      records_path = "data.items"
      auth         = { type = "bearer", secret_field = "token_field", header_name = null }
      pagination   = { type = "cursor", cursor_path = "meta.next", max_pages = null }
    }
  }
  assert {
    condition = output.api_config == {
      endpoint         = "https://api.example.com/v1/orders"
      method           = "GET"
      records_path     = "data.items"
      auth             = { type = "bearer", secret_field = "token_field" }
      pagination       = { type = "cursor", cursor_path = "meta.next" }
      query_params     = {}
      headers          = {}
      timeout_seconds  = 30
      max_retries      = 3
      max_parse_bytes  = 8388608
      content_types    = ["application/json", "application/*+json", "text/json", "application/x-ndjson", "application/ndjson"]
      non_secret_names = []
    }
    error_message = "The api_config output must be known at plan time: the schema's defaults, the caller's options without null (unset) ones, the method in capitals."
  }
  assert {
    condition     = jsondecode(aws_lambda_function.this.environment[0].variables.API_CONFIG) == output.api_config
    error_message = "The function gets exactly what the output shows."
  }
}

run "rejects_a_misspelled_option" {
  command = plan
  variables {
    api_config = { endpoint = "https://api.example.com/v1/orders", record_path = "data.items" }
  }
  expect_failures = [var.api_config]
}

run "rejects_a_misspelled_nested_option" {
  command = plan
  variables {
    api_config = { endpoint = "https://api.example.com/v1/orders", pagination = { type = "cursor", cursor_path = "next", paginaton = 5 } }
  }
  expect_failures = [var.api_config]
}

run "rejects_a_misspelled_auth_option" {
  command = plan
  variables {
    api_config = { endpoint = "https://api.example.com/v1/orders", auth = { type = "bearer", secret_feild = "key" } }
  }
  expect_failures = [var.api_config]
}

run "rejects_a_path_with_an_index" {
  command = plan
  variables {
    api_config = { endpoint = "https://api.example.com/v1/orders", records_path = "data.items[0]" }
  }
  expect_failures = [var.api_config]
}

run "rejects_a_number_given_as_a_string" {
  command = plan
  variables {
    api_config = { endpoint = "https://api.example.com/v1/orders", timeout_seconds = "30" }
  }
  expect_failures = [var.api_config]
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

run "shared_lake_creates_no_bucket_key_or_topic" {
  command = plan
  variables {
    lake = {
      bucket_name     = "acme-raw-lake"
      kms_key_arn     = "arn:aws:kms:eu-west-1:111122223333:key/2222"
      alarm_topic_arn = "arn:aws:sns:eu-west-1:111122223333:lake-alarms"
    }
  }
  assert {
    condition     = length(module.lake) == 0 && output.uses_shared_lake
    error_message = "With var.lake the source must not create its own lake."
  }
  assert {
    condition = (
      aws_lambda_function.this.environment[0].variables.RAW_BUCKET == "acme-raw-lake" &&
      aws_lambda_function.this.kms_key_arn == "arn:aws:kms:eu-west-1:111122223333:key/2222" &&
      aws_cloudwatch_log_group.this.kms_key_id == "arn:aws:kms:eu-west-1:111122223333:key/2222" &&
      aws_secretsmanager_secret.api.kms_key_id == "arn:aws:kms:eu-west-1:111122223333:key/2222" &&
      aws_sqs_queue.dlq.kms_master_key_id == "arn:aws:kms:eu-west-1:111122223333:key/2222" &&
      alltrue([for a in aws_cloudwatch_metric_alarm.simple : a.alarm_actions == toset(["arn:aws:sns:eu-west-1:111122223333:lake-alarms"])])
    )
    error_message = "Every per-source resource must use the shared bucket, key and topic."
  }
  assert {
    condition     = one([for s in data.aws_iam_policy_document.role.statement : s.resources if contains(s.actions, "s3:PutObject")]) == toset(["arn:aws:s3:::acme-raw-lake/orders/*"])
    error_message = "In a shared lake the role may write only under its own prefix of the shared bucket."
  }
}

run "alarms_can_be_tuned_and_disabled" {
  command = plan
  variables {
    schedule_expression = "rate(1 hour)"
    alarms = {
      error_rate_percent = 25
      freshness_hours    = 3
      disabled           = ["throttles", "concurrency", "schedule_dead_letters"]
    }
  }
  assert {
    condition     = !contains(keys(aws_cloudwatch_metric_alarm.simple), "throttles") && !contains(keys(aws_cloudwatch_metric_alarm.simple), "schedule_dead_letters") && aws_cloudwatch_metric_alarm.error_rate[0].threshold == 25
    error_message = "Disabled alarms must be left out and thresholds must follow var.alarms."
  }
  assert {
    condition = (
      aws_cloudwatch_metric_alarm.freshness[0].evaluation_periods == 3 && aws_cloudwatch_metric_alarm.freshness[0].treat_missing_data == "breaching" &&
      aws_cloudwatch_metric_alarm.freshness[0].namespace == "LakeIngest" && aws_cloudwatch_metric_alarm.freshness[0].dimensions == tomap({ SourceId = "orders", service = "lake-ingest" })
    )
    error_message = "Freshness: no IngestionSucceeded for N hours (missing data breaching) on the handler's own metric and dimensions."
  }
  assert {
    condition     = strcontains(one([for q in aws_cloudwatch_metric_alarm.error_rate[0].metric_query : q.expression if q.return_data == true]), "errors / invocations")
    error_message = "The error rate must be metric math over Errors and Invocations."
  }
}

run "hardening_options" {
  command = plan
  variables {
    vpc_config              = { subnet_ids = ["subnet-0123456789abcdef0"], security_group_ids = ["sg-0123456789abcdef0"] }
    code_signing_config_arn = "arn:aws:lambda:eu-west-1:111122223333:code-signing-config:csc-0123456789abcdef0"
    secret_rotation         = { lambda_arn = "arn:aws:lambda:eu-west-1:111122223333:function:rotate", days = 30 }
    schedule_expression     = "rate(1 day)"

    schedule_flexible_window_minutes = 15
  }
  assert {
    condition = (
      one(aws_lambda_function.this.vpc_config).subnet_ids == toset(["subnet-0123456789abcdef0"]) &&
      aws_lambda_function.this.code_signing_config_arn == "arn:aws:lambda:eu-west-1:111122223333:code-signing-config:csc-0123456789abcdef0" &&
      length(aws_secretsmanager_secret_rotation.api) == 1 &&
      one(aws_scheduler_schedule.this[0].flexible_time_window).maximum_window_in_minutes == 15
    )
    error_message = "VPC, code signing, rotation and the flexible window must be applied when asked for."
  }
  assert {
    condition = toset(flatten([
      for s in data.aws_iam_policy_document.role.statement : s.resources if contains(s.actions, "ec2:CreateNetworkInterface") && s.effect != "Deny"
    ])) == toset(["arn:aws:ec2:eu-west-1:111122223333:network-interface/*", "arn:aws:ec2:eu-west-1:111122223333:subnet/subnet-0123456789abcdef0", "arn:aws:ec2:eu-west-1:111122223333:security-group/sg-0123456789abcdef0"])
    error_message = "Network-interface permissions must be bound to the given subnets and security groups."
  }
  assert {
    condition = alltrue([
      for s in data.aws_iam_policy_document.role.statement : jsonencode([for c in s.condition : [c.test, c.variable, c.values]]) == jsonencode([["ArnEquals", "ec2:Subnet", ["arn:aws:ec2:eu-west-1:111122223333:subnet/subnet-0123456789abcdef0"]]])
      if contains(coalesce(s.resources, []), "arn:aws:ec2:eu-west-1:111122223333:network-interface/*")
    ])
    error_message = "Permissions on network interfaces must be limited to interfaces in the given subnets (ec2:Subnet), not every interface in the region."
  }
  assert {
    condition = anytrue([
      for s in data.aws_iam_policy_document.role.statement : s.effect == "Deny" && contains(s.actions, "ec2:CreateNetworkInterface") &&
      jsonencode([for c in s.condition : [c.test, c.variable, c.values]]) == jsonencode([["ArnEquals", "lambda:SourceFunctionArn", ["arn:aws:lambda:eu-west-1:111122223333:function:lake-ingest-orders"]]])
    ])
    error_message = "The function's own code must not use the network-interface permissions (Lambda's documented lambda:SourceFunctionArn deny)."
  }
}

run "rejects_bad_lake" {
  command = plan
  variables {
    lake = { bucket_name = "arn:aws:s3:::lake", kms_key_arn = "alias/lake", alarm_topic_arn = "lake-alarms" }
  }
  expect_failures = [var.lake]
}

run "rejects_unknown_alarm_name" {
  command = plan
  variables {
    alarms = { disabled = ["errors"] }
  }
  expect_failures = [var.alarms]
}

run "rejects_bad_freshness" {
  command = plan
  variables {
    alarms = { freshness_hours = 200 }
  }
  expect_failures = [var.alarms]
}

# The handler's state alarms: which source types get them, their settings, and their inputs.
run "a_cursor_source_alarms_on_rejected_cursor_values_and_empty_runs" {
  command = plan
  variables {
    api_config = {
      endpoint     = "https://api.example.com/v1/orders"
      query_params = { since = "{cursor}" }
      incremental  = { type = "cursor", cursor_path = "updated_at", initial_value = "2026-01-01T00:00:00Z" }
    }
  }
  assert {
    condition     = toset(keys(aws_cloudwatch_metric_alarm.state)) == toset(["cursor_values_rejected", "cursor_empty_runs", "cursor_not_advanced", "schema_changes"])
    error_message = "A cursor source alarms on rejected cursor values and on empty runs in a row (and schema changes, as every source with the records zone); it rotates no refresh token."
  }
  assert {
    condition = alltrue([for a in aws_cloudwatch_metric_alarm.state :
      a.namespace == "LakeIngest" && a.dimensions == tomap({ SourceId = "orders", service = "lake-ingest" }) && a.period == 300 &&
      a.evaluation_periods == 1 && a.treat_missing_data == "notBreaching" &&
      a.alarm_actions == toset(["arn:aws:sns:eu-west-1:111122223333:lake-ingest-orders-alarms"]) && a.ok_actions == a.alarm_actions
    ])
    error_message = "The cursor alarms read the handler's metrics (LakeIngest, SourceId and service) in alarms.period_seconds, missing data not breaching, to the lake's topic."
  }
  assert {
    condition = (
      [for k, a in aws_cloudwatch_metric_alarm.state : [a.alarm_name, a.metric_name, a.statistic, a.comparison_operator, a.threshold] if k == "cursor_values_rejected"] == [["lake-ingest-orders-cursor-values-rejected", "CursorValuesRejected", "Sum", "GreaterThanThreshold", 0]] &&
      [for k, a in aws_cloudwatch_metric_alarm.state : [a.alarm_name, a.metric_name, a.statistic, a.comparison_operator, a.threshold] if k == "cursor_empty_runs"] == [["lake-ingest-orders-cursor-empty-runs", "ConsecutiveEmptyRuns", "Maximum", "GreaterThanOrEqualToThreshold", 5]]
    )
    error_message = "cursor_values_rejected: Sum of CursorValuesRejected above 0; cursor_empty_runs: the Maximum of ConsecutiveEmptyRuns at or above 5."
  }
}

run "a_window_source_has_no_cursor_alarms" {
  command = plan
  variables {
    schedule_expression = "rate(1 day)"
    api_config = {
      endpoint     = "https://api.example.com/v1/orders"
      query_params = { from = "{window_start}", to = "{window_end}" }
      incremental  = { type = "window" }
    }
  }
  assert {
    condition     = keys(aws_cloudwatch_metric_alarm.state) == ["schema_changes"]
    error_message = "A window source keeps no cursor: no cursor alarms."
  }
}

run "state_alarms_can_be_tuned_and_disabled" {
  command = plan
  variables {
    api_config = {
      endpoint     = "https://api.example.com/v1/orders"
      auth         = { type = "oauth2_refresh_token", token_url = "https://login.example.com/oauth2/token" }
      query_params = { since = "{cursor}" }
      incremental  = { type = "cursor", cursor_path = "updated_at", initial_value = "2026-01-01T00:00:00Z" }
    }
    alarms = {
      period_seconds                   = 900
      refresh_token_rotations_per_hour = 6
      cursor_values_rejected           = 3
      cursor_empty_runs                = 12
      disabled                         = ["cursor_values_rejected"]
    }
  }
  assert {
    condition = (
      toset(keys(aws_cloudwatch_metric_alarm.state)) == toset(["refresh_token_rotations", "cursor_empty_runs", "cursor_not_advanced", "schema_changes"]) &&
      aws_cloudwatch_metric_alarm.state["refresh_token_rotations"].threshold == 6 && aws_cloudwatch_metric_alarm.state["refresh_token_rotations"].period == 3600 &&
      aws_cloudwatch_metric_alarm.state["cursor_empty_runs"].threshold == 12 && aws_cloudwatch_metric_alarm.state["cursor_empty_runs"].period == 900 &&
      toset(keys(output.alarm_arns)) == toset(keys(merge(aws_cloudwatch_metric_alarm.simple, aws_cloudwatch_metric_alarm.state, { error_rate = 1 })))
    )
    error_message = "Thresholds follow var.alarms (the rotation alarm keeps its hour), a disabled state alarm is left out, and alarm_arns lists the state alarms."
  }
  assert {
    condition = (
      contains(jsondecode(output.source_json).alarm_names, aws_cloudwatch_metric_alarm.state["cursor_empty_runs"].alarm_name) &&
      length(jsondecode(output.source_json).alarm_names) == length(output.alarm_arns)
    )
    error_message = "source_json names every alarm alarm_arns lists, for the local runner's alarms command."
  }
}

run "rejects_zero_refresh_token_rotations_per_hour" {
  command = plan
  variables {
    alarms = { refresh_token_rotations_per_hour = 0 }
  }
  expect_failures = [var.alarms]
}

run "rejects_more_than_60_refresh_token_rotations_per_hour" {
  command = plan
  variables {
    alarms = { refresh_token_rotations_per_hour = 61 }
  }
  expect_failures = [var.alarms]
}

run "rejects_fractional_refresh_token_rotations_per_hour" {
  command = plan
  variables {
    alarms = { refresh_token_rotations_per_hour = 2.5 }
  }
  expect_failures = [var.alarms]
}

run "rejects_negative_cursor_values_rejected" {
  command = plan
  variables {
    alarms = { cursor_values_rejected = -1 }
  }
  expect_failures = [var.alarms]
}

run "rejects_fractional_cursor_values_rejected" {
  command = plan
  variables {
    alarms = { cursor_values_rejected = 0.5 }
  }
  expect_failures = [var.alarms]
}

run "rejects_zero_cursor_empty_runs" {
  command = plan
  variables {
    alarms = { cursor_empty_runs = 0 }
  }
  expect_failures = [var.alarms]
}

run "rejects_more_than_1000_cursor_empty_runs" {
  command = plan
  variables {
    alarms = { cursor_empty_runs = 1001 }
  }
  expect_failures = [var.alarms]
}

run "rejects_fractional_cursor_empty_runs" {
  command = plan
  variables {
    alarms = { cursor_empty_runs = 1.5 }
  }
  expect_failures = [var.alarms]
}

run "accepts_the_state_alarm_names_in_disabled" {
  command = plan
  variables {
    alarms = { disabled = ["refresh_token_rotations", "cursor_values_rejected", "cursor_empty_runs", "schema_changes"] }
  }
  assert {
    condition     = length(aws_cloudwatch_metric_alarm.state) == 0
    error_message = "The state alarms' names (schema_changes too) are valid in alarms.disabled."
  }
}

run "rejects_raw_prefix_unsafe_for_tags" {
  command = plan
  variables {
    raw_prefix = "vendor/(orders)"
  }
  expect_failures = [var.raw_prefix]
}

run "rejects_vpc_without_security_groups" {
  command = plan
  variables {
    vpc_config = { subnet_ids = ["subnet-0abc"], security_group_ids = [] }
  }
  expect_failures = [var.vpc_config]
}

run "rejects_bad_code_signing_arn" {
  command = plan
  variables {
    code_signing_config_arn = "csc-123"
  }
  expect_failures = [var.code_signing_config_arn]
}

run "rejects_bad_flexible_window" {
  command = plan
  variables {
    schedule_flexible_window_minutes = 0
  }
  expect_failures = [var.schedule_flexible_window_minutes]
}

run "rejects_bad_schedule_retries" {
  command = plan
  variables {
    schedule_retry_attempts = 200
  }
  expect_failures = [var.schedule_retry_attempts]
}

run "rejects_bad_secret_rotation" {
  command = plan
  variables {
    secret_rotation = { lambda_arn = "arn:aws:lambda:eu-west-1:111122223333:function:rotate", days = 0 }
  }
  expect_failures = [var.secret_rotation]
}

run "rejects_bad_name_prefix" {
  command = plan
  variables {
    name_prefix = "Lake_Ingest"
  }
  expect_failures = [var.name_prefix]
}

run "rejects_bad_runtime" {
  command = plan
  variables {
    runtime = "python3.8"
  }
  expect_failures = [var.runtime]
}

run "rejects_bad_reserved_concurrency" {
  command = plan
  variables {
    reserved_concurrency = 0
  }
  expect_failures = [var.reserved_concurrency]
}

run "rejects_bad_log_level" {
  command = plan
  variables {
    log_level = "VERBOSE"
  }
  expect_failures = [var.log_level]
}

run "rejects_bad_kms_deletion_window_days" {
  command = plan
  variables {
    kms_deletion_window_days = 3
  }
  expect_failures = [var.kms_deletion_window_days]
}

run "rejects_bad_noncurrent_version_expiration_days" {
  command = plan
  variables {
    noncurrent_version_expiration_days = 0
  }
  expect_failures = [var.noncurrent_version_expiration_days]
}

run "rejects_bad_abort_incomplete_multipart_days" {
  command = plan
  variables {
    abort_incomplete_multipart_days = 0.5
  }
  expect_failures = [var.abort_incomplete_multipart_days]
}

run "rejects_bad_secret_recovery_window_days" {
  command = plan
  variables {
    secret_recovery_window_days = 3
  }
  expect_failures = [var.secret_recovery_window_days]
}

run "rejects_bad_async_max_retries" {
  command = plan
  variables {
    async_max_retries = 3
  }
  expect_failures = [var.async_max_retries]
}

run "rejects_bad_async_max_event_age_seconds" {
  command = plan
  variables {
    async_max_event_age_seconds = 30
  }
  expect_failures = [var.async_max_event_age_seconds]
}

run "rejects_bad_schedule_max_event_age_seconds" {
  command = plan
  variables {
    schedule_max_event_age_seconds = 10
  }
  expect_failures = [var.schedule_max_event_age_seconds]
}

run "rejects_bad_schedule_timezone" {
  command = plan
  variables {
    schedule_timezone = "CET+1"
  }
  expect_failures = [var.schedule_timezone]
}

run "rejects_bad_access_logging" {
  command = plan
  variables {
    access_logging = { bucket = "arn:aws:s3:::logs" }
  }
  expect_failures = [var.access_logging]
}

run "rejects_bad_api_credentials_wo_version" {
  command = plan
  variables {
    api_credentials_wo_version = 0
  }
  expect_failures = [var.api_credentials_wo_version]
}

run "rejects_bad_package_path" {
  command = plan
  variables {
    package_path = "dist/lake-ingest.tar.gz"
  }
  expect_failures = [var.package_path]
}

run "rejects_bad_tags" {
  command = plan
  variables {
    tags = { "lake-ingest:raw-prefix" = "other" }
  }
  expect_failures = [var.tags]
}

run "rejects_empty_python_executable" {
  command = plan
  variables {
    python_executable = " "
  }
  expect_failures = [var.python_executable]
}

run "rejects_empty_package_build_dir" {
  command = plan
  variables {
    package_build_dir = ""
  }
  expect_failures = [var.package_build_dir]
}

# Schedules as EventBridge Scheduler checks them: one case per rule.
run "accepts_valid_schedules" {
  command = plan
  variables {
    schedule_expression = "cron(15 6,18 ? JAN-MAR,DEC MON-FRI 2026-2030)"
  }
  assert {
    condition     = aws_scheduler_schedule.this[0].schedule_expression == "cron(15 6,18 ? JAN-MAR,DEC MON-FRI 2026-2030)"
    error_message = "A valid cron expression with ranges, lists and names plans."
  }
}

run "accepts_last_weekday_forms" {
  command = plan
  variables {
    schedule_expression = "cron(0/30 * LW * ? *)"
  }
  assert {
    condition     = length(aws_scheduler_schedule.this) == 1
    error_message = "Steps and day-of-month L/W forms are valid."
  }
}

run "rejects_an_unknown_schedule_form" {
  command = plan
  variables {
    schedule_expression = "every hour"
  }
  expect_failures = [var.schedule_expression]
}

run "rejects_rate_with_a_plural_unit_for_1" {
  command = plan
  variables {
    schedule_expression = "rate(1 hours)"
  }
  expect_failures = [var.schedule_expression]
}

run "rejects_rate_with_a_singular_unit_for_more_than_1" {
  command = plan
  variables {
    schedule_expression = "rate(5 minute)"
  }
  expect_failures = [var.schedule_expression]
}

run "rejects_rate_zero" {
  command = plan
  variables {
    schedule_expression = "rate(0 minutes)"
  }
  expect_failures = [var.schedule_expression]
}

run "rejects_cron_with_five_fields" {
  command = plan
  variables {
    schedule_expression = "cron(0 6 * * ?)"
  }
  expect_failures = [var.schedule_expression]
}

run "rejects_cron_without_a_question_mark" {
  command = plan
  variables {
    schedule_expression = "cron(0 6 * * MON-FRI *)"
  }
  expect_failures = [var.schedule_expression]
}

run "rejects_cron_with_two_question_marks" {
  command = plan
  variables {
    schedule_expression = "cron(0 6 ? * ? *)"
  }
  expect_failures = [var.schedule_expression]
}

run "rejects_cron_minute_out_of_range" {
  command = plan
  variables {
    schedule_expression = "cron(60 6 ? * MON *)"
  }
  expect_failures = [var.schedule_expression]
}

run "rejects_cron_hour_out_of_range" {
  command = plan
  variables {
    schedule_expression = "cron(0 24 * * ? *)"
  }
  expect_failures = [var.schedule_expression]
}

run "rejects_cron_day_of_month_out_of_range" {
  command = plan
  variables {
    schedule_expression = "cron(0 6 32 * ? *)"
  }
  expect_failures = [var.schedule_expression]
}

run "rejects_cron_month_name" {
  command = plan
  variables {
    schedule_expression = "cron(0 6 1 JANUARY ? *)"
  }
  expect_failures = [var.schedule_expression]
}

run "rejects_cron_day_of_week_name" {
  command = plan
  variables {
    schedule_expression = "cron(0 6 ? * MON-FRY *)"
  }
  expect_failures = [var.schedule_expression]
}

run "rejects_cron_year_out_of_range" {
  command = plan
  variables {
    schedule_expression = "cron(0 6 1 * ? 1960)"
  }
  expect_failures = [var.schedule_expression]
}

run "rejects_at_with_an_impossible_date" {
  command = plan
  variables {
    schedule_expression = "at(2026-02-30T06:00:00)"
  }
  expect_failures = [var.schedule_expression]
}

run "rejects_at_without_seconds" {
  command = plan
  variables {
    schedule_expression = "at(2026-02-01T06:00)"
  }
  expect_failures = [var.schedule_expression]
}

run "accepts_a_real_at_timestamp" {
  command = plan
  variables {
    schedule_expression = "at(2028-02-29T06:00:00)"
  }
  assert {
    condition     = aws_scheduler_schedule.this[0].schedule_expression == "at(2028-02-29T06:00:00)"
    error_message = "A leap day in a leap year is a real date."
  }
}

# Incremental sources: the module fills in what the schedule knows.
run "a_window_source_takes_its_window_and_timezone_from_the_schedule" {
  command = plan
  variables {
    schedule_expression = "rate(6 hours)"
    schedule_timezone   = "Europe/Berlin"
    api_config = {
      endpoint     = "https://api.example.com/v1/orders"
      query_params = { from = "{window_start}", to = "{window_end}" }
      incremental  = { type = "window", lag = "5m" }
    }
  }
  assert {
    condition     = output.api_config.incremental == { type = "window", window = "6h", lag = "5m", timezone = "Europe/Berlin" }
    error_message = "rate(6 hours) gives a 6h window; schedule_timezone is the zone; the caller's lag stays."
  }
}

run "a_window_source_keeps_its_own_window" {
  command = plan
  variables {
    schedule_expression = "rate(1 day)"
    api_config = {
      endpoint     = "https://api.example.com/v1/orders"
      query_params = { from = "{window_start}" }
      incremental  = { type = "window", window = "1h", timezone = "UTC" }
    }
  }
  assert {
    condition     = output.api_config.incremental.window == "1h" && output.api_config.incremental.timezone == "UTC"
    error_message = "A window the caller sets wins over the schedule's rate."
  }
}

run "rejects_a_window_source_with_a_cron_schedule_and_no_window" {
  command = plan
  variables {
    schedule_expression = "cron(0 6 ? * MON-FRI *)"
    api_config = {
      endpoint     = "https://api.example.com/v1/orders"
      query_params = { from = "{window_start}" }
      incremental  = { type = "window" }
    }
  }
  expect_failures = [var.api_config]
}

run "rejects_a_cursor_placeholder_without_incremental" {
  command = plan
  variables {
    api_config = { endpoint = "https://api.example.com/v1/orders", query_params = { since = "{cursor}" } }
  }
  expect_failures = [var.api_config]
}


# -- orchestration (Step Functions) ---------------------------------------------------------------

run "orchestration_is_off_by_default" {
  command = plan
  variables {
    schedule_expression = "rate(1 hour)"
  }
  assert {
    condition     = length(aws_sfn_state_machine.run) == 0 && length(aws_sfn_state_machine.backfill) == 0 && length(aws_iam_role.run_machine) == 0 && length(aws_cloudwatch_log_group.machines) == 0
    error_message = "Without var.orchestration the module creates no state machine, role or log group for one."
  }
  assert {
    condition     = aws_scheduler_schedule.this[0].target[0].arn == "arn:aws:lambda:eu-west-1:111122223333:function:lake-ingest-orders"
    error_message = "Without orchestration the schedule invokes the function."
  }
  assert {
    condition     = [for s in data.aws_iam_policy_document.scheduler.statement : s.sid if contains(s.actions, "lambda:InvokeFunction")] == ["InvokeThisFunctionOnly"]
    error_message = "Without orchestration the scheduler role may invoke the function."
  }
}

run "orchestration_for_a_window_source" {
  command = plan
  variables {
    schedule_expression = "rate(1 hour)"
    api_config = {
      endpoint     = "https://api.example.com/v1/events"
      auth         = { type = "bearer", secret_field = "api_key" }
      records_path = "data"
      query_params = { from = "{window_start}", to = "{window_end}" }
      incremental  = { type = "window" }
    }
    orchestration = {}
  }
  assert {
    condition     = length(aws_sfn_state_machine.run) == 1 && length(aws_sfn_state_machine.backfill) == 1
    error_message = "A window source with orchestration gets a run and a backfill state machine."
  }
  assert {
    condition = (
      jsondecode(aws_sfn_state_machine.run[0].definition).TimeoutSeconds == 51 * (300 + 60 + 5) &&
      jsondecode(aws_sfn_state_machine.run[0].definition).States.Pause.Seconds == 5 &&
      jsondecode(aws_sfn_state_machine.run[0].definition).States.Outcome.Choices[1].And[2].NumericLessThan == 50 &&
      jsondecode(aws_sfn_state_machine.run[0].definition).States.Invoke.Parameters.FunctionName == "arn:aws:lambda:eu-west-1:111122223333:function:lake-ingest-orders" &&
      contains(jsondecode(aws_sfn_state_machine.run[0].definition).States.Invoke.Retry[0].ErrorEquals, "Lambda.TooManyRequestsException") &&
      jsondecode(aws_sfn_state_machine.run[0].definition).States.Invoke.Retry[1].ErrorEquals == ["StateLocked", "RefreshLocked"]
    )
    error_message = "The run loop: resumes at most max_resumes (50) times, 5 s apart, with a timeout that fits every resume at the function's timeout, and retries Lambda's service errors and a held lease."
  }
  assert {
    condition = (
      jsondecode(aws_sfn_state_machine.backfill[0].definition).States.Windows.ItemReader.Parameters.Bucket == "lake-ingest-orders-raw-x" &&
      jsondecode(aws_sfn_state_machine.backfill[0].definition).States.Windows.ItemProcessor.ProcessorConfig.Mode == "DISTRIBUTED" &&
      jsondecode(aws_sfn_state_machine.backfill[0].definition).States.Windows.ItemProcessor.States.Invoke.Resource == "arn:aws:states:::lambda:invoke" &&
      jsondecode(aws_sfn_state_machine.backfill[0].definition).States.WithinLimits.Choices[0].Or[0].NumericGreaterThan == 2 &&
      jsondecode(aws_sfn_state_machine.backfill[0].definition).States.Limits.Parameters.tolerated_failure_percent == 0 &&
      jsondecode(aws_sfn_state_machine.backfill[0].definition).TimeoutSeconds == 168 * 3600
    )
    error_message = "The backfill: a Distributed Map over the lake's item list running the same loop, capped at backfill_max_concurrency (2), no failure tolerated, a week at most."
  }
  assert {
    condition = alltrue([for m in [aws_sfn_state_machine.run[0], aws_sfn_state_machine.backfill[0]] :
      m.encryption_configuration[0].type == "CUSTOMER_MANAGED_KMS_KEY" && m.encryption_configuration[0].kms_key_id == "arn:aws:kms:eu-west-1:111122223333:key/1111" &&
      m.tracing_configuration[0].enabled && m.logging_configuration[0].level == "ERROR" && !m.logging_configuration[0].include_execution_data
    ])
    error_message = "Both machines: state encrypted with the lake key, X-Ray tracing, ERROR logs without execution data."
  }
  assert {
    condition     = aws_cloudwatch_log_group.machines[0].name == "/aws/vendedlogs/states/lake-ingest-orders" && aws_cloudwatch_log_group.machines[0].kms_key_id == "arn:aws:kms:eu-west-1:111122223333:key/1111"
    error_message = "The machines log to /aws/vendedlogs/states/<name>, encrypted with the lake key."
  }
  assert {
    condition     = aws_scheduler_schedule.this[0].target[0].arn == "arn:aws:states:eu-west-1:111122223333:stateMachine:lake-ingest-orders-run"
    error_message = "With orchestration the schedule starts the run state machine."
  }
  assert {
    condition = (
      [for s in data.aws_iam_policy_document.scheduler.statement : [s.sid, s.resources] if contains(s.actions, "states:StartExecution")] == [["StartThisRunStateMachineOnly", toset(["arn:aws:states:eu-west-1:111122223333:stateMachine:lake-ingest-orders-run"])]] &&
      length([for s in data.aws_iam_policy_document.scheduler.statement : s if contains(s.actions, "lambda:InvokeFunction")]) == 0
    )
    error_message = "With orchestration the scheduler role may start the run state machine, and no longer invoke the function."
  }
  assert {
    condition = (
      jsonencode({ for c in one(data.aws_iam_policy_document.machine_assume["run"].statement).condition : c.variable => c.values }) == jsonencode({ "aws:SourceAccount" = ["111122223333"], "aws:SourceArn" = ["arn:aws:states:eu-west-1:111122223333:stateMachine:lake-ingest-orders-run"] }) &&
      jsonencode({ for c in one(data.aws_iam_policy_document.machine_assume["backfill"].statement).condition : c.variable => [c.test, c.values] }) == jsonencode({ "aws:SourceAccount" = ["StringEquals", ["111122223333"]], "aws:SourceArn" = ["ArnEquals", ["arn:aws:states:eu-west-1:111122223333:stateMachine:lake-ingest-orders-backfill", "arn:aws:states:eu-west-1:111122223333:stateMachine:lake-ingest-orders-backfill/windows"]] })
    )
    error_message = "Each machine's role trusts Step Functions for that machine only (aws:SourceArn; the backfill's also as its labelled Distributed Map children, both exact, no wildcard) in this account (aws:SourceAccount)."
  }
  assert {
    condition = jsondecode(aws_sfn_state_machine.backfill[0].definition).States.Windows.ItemSelector == {
      "backfill_id.$" = "$$.Execution.Input.backfill_id"
      window          = { "start.$" = "$$.Map.Item.Value.window.start", "end.$" = "$$.Map.Item.Value.window.end" }
    }
    error_message = "Each backfill child gets exactly the execution's backfill id and its item's window start and end: nothing else an item list carries (run_id, force, query_params, resume) reaches the function."
  }
  assert {
    condition = (
      [for s in data.aws_iam_policy_document.backfill_operator[0].statement : [s.sid, s.actions, s.resources]] == [
        ["WriteAndReadOwnBackfillsOnly", toset(["s3:PutObject", "s3:GetObject"]), toset(["arn:aws:s3:::lake-ingest-orders-raw-x/orders/_backfill/*"])],
        ["ReadOwnRunManifestsOnly", toset(["s3:GetObject"]), toset(["arn:aws:s3:::lake-ingest-orders-raw-x/orders/ingest_date=*/run_id=*/_manifest.json"])],
        ["ListOwnBackfillsOnly", toset(["s3:ListBucket"]), toset(["arn:aws:s3:::lake-ingest-orders-raw-x"])],
        ["UseKeyViaS3ForOwnPrefixOnly", toset(["kms:GenerateDataKey", "kms:Decrypt"]), toset(["arn:aws:kms:eu-west-1:111122223333:key/1111"])],
        ["StartThisBackfillMachineOnly", toset(["states:StartExecution"]), toset(["arn:aws:states:eu-west-1:111122223333:stateMachine:lake-ingest-orders-backfill"])],
        ["FollowOwnBackfillExecutionsOnly", toset(["states:DescribeExecution", "states:ListMapRuns"]), toset(["arn:aws:states:eu-west-1:111122223333:execution:lake-ingest-orders-backfill:*"])],
        ["DecryptOwnBackfillExecutionsOnly", toset(["kms:Decrypt"]), toset(["arn:aws:kms:eu-west-1:111122223333:key/1111"])],
        ["DescribeOwnMapRunsOnly", toset(["states:DescribeMapRun"]), toset(["arn:aws:states:eu-west-1:111122223333:mapRun:lake-ingest-orders-backfill/*"])],
      ]
    )
    error_message = "The backfill operator's policy: its _backfill/ objects, its run manifests, listing its _backfill/, the key, starting and following the backfill machine only."
  }
  assert {
    condition = (
      jsonencode(one([for s in data.aws_iam_policy_document.backfill_operator[0].statement : { for c in s.condition : c.variable => [c.test, c.values] } if s.sid == "ListOwnBackfillsOnly"])) == jsonencode({ "aws:ResourceAccount" = ["StringEquals", ["111122223333"]], "s3:prefix" = ["StringLike", ["orders/_backfill/*"]] }) &&
      jsonencode(one([for s in data.aws_iam_policy_document.backfill_operator[0].statement : { for c in s.condition : c.variable => [c.test, c.values] } if s.sid == "UseKeyViaS3ForOwnPrefixOnly"])) == jsonencode({ "kms:EncryptionContext:aws:s3:arn" = ["StringLike", ["arn:aws:s3:::lake-ingest-orders-raw-x", "arn:aws:s3:::lake-ingest-orders-raw-x/orders/*"]], "kms:ViaService" = ["StringEquals", ["s3.eu-west-1.amazonaws.com"]] }) &&
      jsonencode(one([for s in data.aws_iam_policy_document.backfill_operator[0].statement : { for c in s.condition : c.variable => [c.test, c.values] } if s.sid == "DecryptOwnBackfillExecutionsOnly"])) == jsonencode({ "kms:EncryptionContext:aws:states:stateMachineArn" = ["StringEquals", ["arn:aws:states:eu-west-1:111122223333:stateMachine:lake-ingest-orders-backfill"]] }) &&
      alltrue([for s in data.aws_iam_policy_document.backfill_operator[0].statement : contains([for c in s.condition : c.variable], "aws:ResourceAccount") if anytrue([for a in s.actions : startswith(a, "s3:")])])
    )
    error_message = "The operator lists only its _backfill/ (s3:prefix), uses the key only through S3 for its bucket and prefix or for its backfill machine's state, and every S3 grant is bound to this account's bucket."
  }
  assert {
    condition = (
      one([for s in data.aws_iam_policy_document.backfill_machine[0].statement : s.resources if s.sid == "ReadOwnBackfillsOnly"]) == toset(["arn:aws:s3:::lake-ingest-orders-raw-x/orders/_backfill/*"]) &&
      one([for s in data.aws_iam_policy_document.backfill_machine[0].statement : s.resources if s.sid == "WriteOwnBackfillResultsOnly"]) == toset(["arn:aws:s3:::lake-ingest-orders-raw-x/orders/_backfill/*/results/*"]) &&
      one([for s in data.aws_iam_policy_document.backfill_machine[0].statement : s.not_resources if s.sid == "DenyS3OutsideOwnBackfills"]) == toset(["arn:aws:s3:::lake-ingest-orders-raw-x/orders/_backfill/*"])
    )
    error_message = "The backfill machine reads only its source's _backfill/ objects and writes only their results/."
  }
  assert {
    condition     = toset(keys(aws_cloudwatch_metric_alarm.machines)) == toset(["run_failed", "run_timed_out", "backfill_failed", "backfill_timed_out", "backfill_windows_failed"])
    error_message = "Failed and timed-out executions of both machines, and failed backfill windows, alarm."
  }
  assert {
    condition     = aws_cloudwatch_metric_alarm.machines["backfill_windows_failed"].dimensions.StateMachineArn == "arn:aws:states:eu-west-1:111122223333:stateMachine:lake-ingest-orders-backfill/windows"
    error_message = "A backfill's windows run as child executions, counted under <machine>/<map label>."
  }
  assert {
    condition     = jsondecode(output.source_json).orchestration.backfill_max_concurrency == 2 && jsondecode(output.source_json).raw_prefix == "orders"
    error_message = "source_json gives the local runner's backfill command what it needs."
  }
}

run "orchestration_for_a_cursor_source_has_no_backfill_machine" {
  command = plan
  variables {
    api_config = {
      endpoint     = "https://api.example.com/v1/orders"
      auth         = { type = "bearer", secret_field = "api_key" }
      records_path = "data"
      query_params = { since = "{cursor}" }
      incremental  = { type = "cursor", cursor_path = "updated_at", initial_value = "2026-01-01T00:00:00Z" }
    }
    orchestration = { max_resumes = 3, resume_wait_seconds = 30, execution_timeout_hours = 2, log_level = "ALL", include_execution_data = true }
  }
  assert {
    condition     = length(aws_sfn_state_machine.run) == 1 && length(aws_sfn_state_machine.backfill) == 0 && length(aws_iam_role.backfill_machine) == 0
    error_message = "Backfills run window by window: a cursor source gets the run state machine only."
  }
  assert {
    condition     = jsondecode(aws_sfn_state_machine.run[0].definition).TimeoutSeconds == 7200 && jsondecode(aws_sfn_state_machine.run[0].definition).States.Pause.Seconds == 30 && aws_sfn_state_machine.run[0].logging_configuration[0].level == "ALL" && aws_sfn_state_machine.run[0].logging_configuration[0].include_execution_data
    error_message = "execution_timeout_hours, resume_wait_seconds, log_level and include_execution_data reach the machine."
  }
  assert {
    condition     = toset(keys(aws_cloudwatch_metric_alarm.machines)) == toset(["run_failed", "run_timed_out"])
    error_message = "Without a backfill machine, only the run machine's alarms."
  }
  assert {
    condition     = output.backfill_operator_policy_json == null && length(data.aws_iam_policy_document.backfill_operator) == 0
    error_message = "Without a backfill machine there is no backfill operator policy."
  }
}

run "rejects_backfill_concurrency_above_the_reserved_concurrency" {
  command = plan
  variables {
    api_config = {
      endpoint     = "https://api.example.com/v1/events"
      auth         = { type = "bearer", secret_field = "api_key" }
      records_path = "data"
      query_params = { from = "{window_start}", to = "{window_end}" }
      incremental  = { type = "window", window = "1d" }
    }
    orchestration = { backfill_max_concurrency = 5 }
  }
  expect_failures = [aws_sfn_state_machine.backfill]
}

run "rejects_an_execution_timeout_shorter_than_one_invocation" {
  command = plan
  variables {
    orchestration = { execution_timeout_hours = 0.05 }
  }
  expect_failures = [aws_sfn_state_machine.run]
}

run "rejects_bad_orchestration_max_resumes" {
  command = plan
  variables {
    orchestration = { max_resumes = 0 }
  }
  expect_failures = [var.orchestration]
}

run "rejects_bad_orchestration_resume_wait_seconds" {
  command = plan
  variables {
    orchestration = { resume_wait_seconds = 0 }
  }
  expect_failures = [var.orchestration]
}

run "rejects_bad_orchestration_execution_timeout_hours" {
  command = plan
  variables {
    orchestration = { execution_timeout_hours = 9000 }
  }
  expect_failures = [var.orchestration]
}

run "rejects_bad_orchestration_backfill_max_concurrency" {
  command = plan
  variables {
    orchestration = { backfill_max_concurrency = 1.5 }
  }
  expect_failures = [var.orchestration]
}

run "rejects_bad_orchestration_backfill_tolerated_failure_percent" {
  command = plan
  variables {
    orchestration = { backfill_tolerated_failure_percent = 101 }
  }
  expect_failures = [var.orchestration]
}

run "rejects_bad_orchestration_backfill_timeout_hours" {
  command = plan
  variables {
    orchestration = { backfill_timeout_hours = 0 }
  }
  expect_failures = [var.orchestration]
}

run "rejects_bad_orchestration_log_level" {
  command = plan
  variables {
    orchestration = { log_level = "DEBUG" }
  }
  expect_failures = [var.orchestration]
}

run "oauth2_refresh_token_may_write_its_own_secret_only" {
  command = plan
  variables {
    api_config = {
      endpoint = "https://api.example.com/v1/tickets"
      auth     = { type = "oauth2_refresh_token", token_url = "https://login.example.com/oauth2/token", scope = "tickets:read offline_access" }
    }
  }
  assert {
    condition = [for s in data.aws_iam_policy_document.role.statement : [s.actions, s.resources] if s.sid == "RotateOwnRefreshTokenOnly"] == [
      [toset(["secretsmanager:PutSecretValue", "secretsmanager:UpdateSecretVersionStage"]), toset(["arn:aws:secretsmanager:eu-west-1:111122223333:secret:lake-ingest/orders/api-credentials-AbCdEf"])]
    ]
    error_message = "A refresh-token source may put new versions of its own secret and move its AWSCURRENT label (compare-and-swap), on its own secret only."
  }
  assert {
    condition = one([for s in data.aws_iam_policy_document.role.statement : s.actions if s.sid == "UseKeyViaSecretsManager"]) == toset(["kms:Decrypt", "kms:GenerateDataKey"]) && one(flatten([
      for s in data.aws_iam_policy_document.role.statement : [for c in s.condition : c.values if c.variable == "kms:EncryptionContext:SecretARN"] if s.sid == "UseKeyViaSecretsManager"
    ])) == "arn:aws:secretsmanager:eu-west-1:111122223333:secret:lake-ingest/orders/api-credentials-AbCdEf"
    error_message = "Writing the secret needs GenerateDataKey through Secrets Manager, for this secret's context only."
  }
  assert {
    condition = one([for s in data.aws_iam_policy_document.role.statement : s.resources if s.sid == "ReadOwnManifestsAndStateOnly"]) == toset([
      "arn:aws:s3:::lake-ingest-orders-raw-x/orders/ingest_date=*/run_id=*/_manifest.json",
      "arn:aws:s3:::lake-ingest-orders-raw-x/orders/_state/cursor.json",
      "arn:aws:s3:::lake-ingest-orders-raw-x/orders/_state/oauth2-refresh.lock",
      "arn:aws:s3:::lake-ingest-orders-raw-x/orders/_state/oauth2-tokens.json",
      "arn:aws:s3:::lake-ingest-orders-raw-x/orders/_state/schema.json",
    ])
    error_message = "The refresh lease and the token state (shared access token, write-ahead refresh token) are read back from the source's own _state/, and nothing more."
  }
  assert {
    condition = (
      keys(aws_cloudwatch_metric_alarm.state) == ["refresh_token_rotations", "schema_changes"] &&
      aws_cloudwatch_metric_alarm.state["refresh_token_rotations"].metric_name == "RefreshTokensRotated" &&
      aws_cloudwatch_metric_alarm.state["refresh_token_rotations"].namespace == "LakeIngest" &&
      aws_cloudwatch_metric_alarm.state["refresh_token_rotations"].dimensions == tomap({ SourceId = "orders", service = "lake-ingest" }) &&
      aws_cloudwatch_metric_alarm.state["refresh_token_rotations"].statistic == "Sum" &&
      aws_cloudwatch_metric_alarm.state["refresh_token_rotations"].period == 3600 &&
      aws_cloudwatch_metric_alarm.state["refresh_token_rotations"].comparison_operator == "GreaterThanThreshold" &&
      aws_cloudwatch_metric_alarm.state["refresh_token_rotations"].threshold == 4 &&
      aws_cloudwatch_metric_alarm.state["refresh_token_rotations"].treat_missing_data == "notBreaching" &&
      aws_cloudwatch_metric_alarm.state["refresh_token_rotations"].alarm_actions == toset(["arn:aws:sns:eu-west-1:111122223333:lake-ingest-orders-alarms"]) &&
      strcontains(aws_cloudwatch_metric_alarm.state["refresh_token_rotations"].alarm_description, "one PutSecretValue every 10 minutes")
    )
    error_message = "A rotating source alarms when it rotated its refresh token more than 4 times in an hour (Sum over 3600 s of RefreshTokensRotated, to the lake's topic), saying why (the secret's version quota); no cursor alarm."
  }
  assert {
    condition     = jsondecode(aws_lambda_function.this.environment[0].variables.API_CONFIG).auth == { type = "oauth2_refresh_token", token_url = "https://login.example.com/oauth2/token", scope = "tickets:read offline_access" }
    error_message = "The auth options go to the function as given (defaults are the handler's)."
  }
}

run "oauth2_client_credentials_writes_no_secret" {
  command = plan
  variables {
    api_config = {
      endpoint = "https://api.example.com/v1/tickets"
      auth     = { type = "oauth2_client_credentials", token_url = "https://login.example.com/oauth2/token", client_auth = "body", token_params = { resource = "tickets" } }
    }
  }
  assert {
    condition     = length([for s in data.aws_iam_policy_document.role.statement : s if anytrue([for a in s.actions : a == "secretsmanager:PutSecretValue"])]) == 0
    error_message = "Only a refresh-token source may write its secret."
  }
  assert {
    condition     = one([for s in data.aws_iam_policy_document.role.statement : s.actions if s.sid == "UseKeyViaSecretsManager"]) == toset(["kms:Decrypt"])
    error_message = "Reading the secret needs Decrypt only."
  }
  assert {
    condition     = !contains(flatten([for s in data.aws_iam_policy_document.role.statement : s.actions]), "secretsmanager:UpdateSecretVersionStage") && !contains(flatten([for s in data.aws_iam_policy_document.role.statement : s.resources if s.sid == "ReadOwnManifestsAndStateOnly"]), "arn:aws:s3:::lake-ingest-orders-raw-x/orders/_state/oauth2-tokens.json") && !contains(keys(aws_cloudwatch_metric_alarm.state), "refresh_token_rotations")
    error_message = "Only a rotating refresh-token source may move its secret's staging labels, read the token state or alarm on rotations."
  }
}

run "rejects_a_plain_http_token_url" {
  command = plan
  variables {
    api_config = {
      endpoint = "https://api.example.com/v1/tickets"
      auth     = { type = "oauth2_client_credentials", token_url = "http://login.example.com/oauth2/token" }
    }
  }
  expect_failures = [var.api_config]
}

run "rejects_write_only_credentials_for_a_rotating_refresh_token" {
  command = plan
  variables {
    api_config = {
      endpoint = "https://api.example.com/v1/tickets"
      auth     = { type = "oauth2_refresh_token", token_url = "https://login.example.com/oauth2/token" }
    }
    api_credentials_wo         = { client_id = "id", client_secret = "secret", refresh_token = "rt" }
    api_credentials_wo_version = 1
  }
  expect_failures = [var.api_credentials_wo_version]
}

# The records zone (issue 21): the Glue tables, the named queries, what the function is told, the
# reader's policy, and the table input's validation.
run "records_tables_in_the_own_lakes_database" {
  command = plan

  assert {
    condition = (
      aws_glue_catalog_table.this["records"].name == "orders" && aws_glue_catalog_table.this["records"].database_name == "lake_ingest_orders" &&
      aws_glue_catalog_table.this["published"].name == "orders_published" && aws_glue_catalog_table.this["published"].database_name == "lake_ingest_orders" &&
      alltrue([for t in aws_glue_catalog_table.this : t.table_type == "EXTERNAL_TABLE"])
    )
    error_message = "Two external tables in the own lake's database: orders and orders_published."
  }
  assert {
    condition = aws_glue_catalog_table.this["records"].parameters == tomap({
      "classification"                       = "json"
      "projection.enabled"                   = "true"
      "projection.ingest_date.type"          = "date"
      "projection.ingest_date.format"        = "yyyy-MM-dd"
      "projection.ingest_date.range"         = "NOW-10YEARS,NOW+1DAYS"
      "projection.ingest_date.interval"      = "1"
      "projection.ingest_date.interval.unit" = "DAYS"
      "storage.location.template"            = "s3://lake-ingest-orders-raw-x/orders/records/ingest_date=$${ingest_date}/"
    })
    error_message = "The records table projects ingest_date (dates, daily, the default range) onto <prefix>/records/ingest_date=<date>/."
  }
  assert {
    condition = (
      aws_glue_catalog_table.this["published"].parameters["storage.location.template"] == "s3://lake-ingest-orders-raw-x/orders/published/ingest_date=$${ingest_date}/" &&
      one(aws_glue_catalog_table.this["published"].storage_descriptor).location == "s3://lake-ingest-orders-raw-x/orders/published/" &&
      one(aws_glue_catalog_table.this["records"].storage_descriptor).location == "s3://lake-ingest-orders-raw-x/orders/records/"
    )
    error_message = "Locations: <prefix>/records/ and <prefix>/published/."
  }
  assert {
    condition = alltrue([for t in aws_glue_catalog_table.this :
      jsonencode([for k in t.partition_keys : [k.name, k.type]]) == jsonencode([["ingest_date", "string"]]) &&
      one(t.storage_descriptor).input_format == "org.apache.hadoop.mapred.TextInputFormat" &&
      one(t.storage_descriptor).output_format == "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat" &&
      one(one(t.storage_descriptor).ser_de_info).serialization_library == "org.apache.hive.hcatalog.data.JsonSerDe"
    ])
    error_message = "Both tables: partitioned by ingest_date (string), NDJSON read with the Hive JSON SerDe."
  }
  assert {
    condition = (
      jsonencode([for c in one(aws_glue_catalog_table.this["records"].storage_descriptor).columns : [c.name, c.type]]) == jsonencode([["run_id", "string"], ["attempt", "int"], ["page", "int"], ["record_index", "int"], ["ingested_at", "timestamp"], ["record", "string"]]) &&
      jsonencode([for c in one(aws_glue_catalog_table.this["published"].storage_descriptor).columns : [c.name, c.type]]) == jsonencode([["run_id", "string"], ["attempt", "int"], ["page", "int"], ["records", "bigint"], ["object", "string"], ["published_at", "timestamp"]])
    )
    error_message = "A source that is not incremental and declares no columns: the records table's fixed columns (no cursor_value), and the published table's."
  }
  assert {
    condition = (
      keys(aws_athena_named_query.this) == ["complete", "runs"] &&
      alltrue([for k, q in aws_athena_named_query.this : q.name == "orders-${k}" && q.database == "lake_ingest_orders" && q.workgroup == "lake-ingest-orders"]) &&
      strcontains(aws_athena_named_query.this["complete"].query, "FROM \"lake_ingest_orders\".\"orders\" AS r") &&
      strcontains(aws_athena_named_query.this["complete"].query, "JOIN \"lake_ingest_orders\".\"orders_published\" AS p") &&
      strcontains(aws_athena_named_query.this["runs"].query, "FROM \"lake_ingest_orders\".\"orders_published\"")
    )
    error_message = "Named queries orders-complete and orders-runs (no primary key: no -latest), in the own lake's workgroup, on its database and tables."
  }
  assert {
    condition = jsondecode(aws_lambda_function.this.environment[0].variables.RECORDS_CONFIG) == {
      enabled = true, columns = {}, primary_key = [], on_schema_change = "alarm"
    }
    error_message = "RECORDS_CONFIG tells the function the records zone's settings (the catalog's are not its concern)."
  }
  assert {
    condition = jsondecode(output.source_json).table == {
      enabled  = true, columns = {}, primary_key = [], on_schema_change = "alarm",
      database = "lake_ingest_orders", name = "orders", published_name = "orders_published"
    }
    error_message = "source_json carries the table settings and where the tables are, for the local query command."
  }
  assert {
    condition     = output.glue_database == "lake_ingest_orders" && output.glue_tables == { records = "orders", published = "orders_published" }
    error_message = "Outputs glue_database and glue_tables name the database and the two tables."
  }
  assert {
    condition = (
      aws_cloudwatch_metric_alarm.state["schema_changes"].metric_name == "SchemaChanges" && aws_cloudwatch_metric_alarm.state["schema_changes"].statistic == "Sum" &&
      aws_cloudwatch_metric_alarm.state["schema_changes"].comparison_operator == "GreaterThanThreshold" && aws_cloudwatch_metric_alarm.state["schema_changes"].threshold == 0 &&
      aws_cloudwatch_metric_alarm.state["schema_changes"].period == 300 && aws_cloudwatch_metric_alarm.state["schema_changes"].alarm_name == "lake-ingest-orders-schema-changes" &&
      aws_cloudwatch_metric_alarm.state["schema_changes"].dimensions == tomap({ SourceId = "orders", service = "lake-ingest" })
    )
    error_message = "schema_changes: the Sum of SchemaChanges above 0 in alarms.period_seconds, with the handler's dimensions."
  }
  assert {
    condition = (
      jsonencode([for s in module.reader_policy[0].statements : s.sid]) == jsonencode(["RunQueriesInTheLakeWorkgroupOnly", "ReadTheChosenSourcesTablesOnly", "ReadTheChosenSourcesRecordsOnly", "ListTheChosenRecordsAndResultsOnly", "WriteAndReadQueryResultsOnly", "LocateTheLakeBucket", "UseKeyViaS3ForTheChosenDataOnly"]) &&
      toset(one([for s in module.reader_policy[0].statements : s.resources if s.sid == "ReadTheChosenSourcesRecordsOnly"])) == toset(["arn:aws:s3:::lake-ingest-orders-raw-x/orders/records/*", "arn:aws:s3:::lake-ingest-orders-raw-x/orders/published/*"]) &&
      jsonencode(one([for s in module.reader_policy[0].statements : s.resources if s.sid == "RunQueriesInTheLakeWorkgroupOnly"])) == jsonencode(["arn:aws:athena:eu-west-1:111122223333:workgroup/lake-ingest-orders"]) &&
      jsonencode(one([for s in module.reader_policy[0].statements : s.resources if s.sid == "WriteAndReadQueryResultsOnly"])) == jsonencode(["arn:aws:s3:::lake-ingest-orders-raw-x/_athena/*"])
    )
    error_message = "The source's reader policy: its own lake's workgroup, its records and published lists, results under _athena/."
  }
}

run "a_cursor_source_with_typed_columns_and_a_primary_key" {
  command = plan
  variables {
    source_id = "stripe-charges"
    api_config = {
      endpoint     = "https://api.example.com/v1/charges"
      query_params = { since = "{cursor}" }
      incremental  = { type = "cursor", cursor_path = "seq", cursor_type = "number", initial_value = 0 }
    }
    table = {
      columns          = { id = "string", amount = "decimal(12,2)", created = "timestamp", paid = "boolean" }
      primary_key      = ["id"]
      on_schema_change = "quarantine"
      date_range       = "2020-01-01,NOW+1DAYS"
    }
  }
  assert {
    condition     = jsonencode([for c in one(aws_glue_catalog_table.this["records"].storage_descriptor).columns : [c.name, c.type]]) == jsonencode([["run_id", "string"], ["attempt", "int"], ["page", "int"], ["record_index", "int"], ["ingested_at", "timestamp"], ["record", "string"], ["cursor_value", "double"], ["amount", "decimal(12,2)"], ["created", "timestamp"], ["id", "string"], ["paid", "boolean"]])
    error_message = "A number cursor adds cursor_value as double after record; the declared columns follow, by name."
  }
  assert {
    condition     = aws_glue_catalog_table.this["records"].name == "stripe_charges" && aws_glue_catalog_table.this["published"].name == "stripe_charges_published" && aws_glue_catalog_table.this["records"].parameters["projection.ingest_date.range"] == "2020-01-01,NOW+1DAYS"
    error_message = "Table names take '_' for '-'; the projected range is table.date_range."
  }
  assert {
    condition = (
      keys(aws_athena_named_query.this) == ["complete", "latest", "runs"] && aws_athena_named_query.this["latest"].name == "stripe-charges-latest" &&
      strcontains(aws_athena_named_query.this["latest"].query, "row_number() OVER (PARTITION BY r.\"id\" ORDER BY r.cursor_value DESC NULLS LAST, r.ingested_at DESC, r.page DESC, r.record_index DESC) AS row_rank")
    )
    error_message = "With a primary key: stripe-charges-latest, one row per key, newest by cursor, then ingestion time, page and index."
  }
  assert {
    condition     = jsondecode(aws_lambda_function.this.environment[0].variables.RECORDS_CONFIG) == { enabled = true, columns = { id = "string", amount = "decimal(12,2)", created = "timestamp", paid = "boolean" }, primary_key = ["id"], on_schema_change = "quarantine" }
    error_message = "RECORDS_CONFIG carries the declared columns, the primary key and on_schema_change."
  }
  assert {
    condition     = contains(keys(aws_cloudwatch_metric_alarm.state), "schema_changes") && strcontains(aws_cloudwatch_metric_alarm.state["schema_changes"].alarm_description, "quarantine")
    error_message = "quarantine alarms as well."
  }
}

run "cursor_value_follows_the_cursor_type" {
  command = plan
  variables {
    api_config = {
      endpoint     = "https://api.example.com/v1/orders"
      query_params = { since = "{cursor}" }
      incremental  = { type = "cursor", cursor_path = "updated_at", initial_value = "2026-01-01T00:00:00Z" }
    }
  }
  assert {
    condition     = one([for c in one(aws_glue_catalog_table.this["records"].storage_descriptor).columns : c.type if c.name == "cursor_value"]) == "timestamp"
    error_message = "A timestamp cursor (the default cursor_type) is a timestamp column (UTC)."
  }
}

run "a_string_cursor_is_a_string_column" {
  command = plan
  variables {
    api_config = {
      endpoint     = "https://api.example.com/v1/orders"
      query_params = { after = "{cursor}" }
      incremental  = { type = "cursor", cursor_path = "id", cursor_type = "string", initial_value = "" }
    }
  }
  assert {
    condition     = one([for c in one(aws_glue_catalog_table.this["records"].storage_descriptor).columns : c.type if c.name == "cursor_value"]) == "string"
    error_message = "A string cursor is a string column."
  }
}

run "a_shared_lake_gives_the_database_and_the_workgroup" {
  command = plan
  variables {
    lake = {
      bucket_name      = "acme-raw-lake"
      kms_key_arn      = "arn:aws:kms:eu-west-1:111122223333:key/2222"
      alarm_topic_arn  = "arn:aws:sns:eu-west-1:111122223333:lake-alarms"
      glue_database    = "acme_raw"
      athena_workgroup = "acme-raw"
      athena_results   = "s3://acme-raw-lake/_athena/"
    }
    raw_prefix = "vendor/orders"
  }
  assert {
    condition = (
      alltrue([for t in aws_glue_catalog_table.this : t.database_name == "acme_raw"]) &&
      one(aws_glue_catalog_table.this["records"].storage_descriptor).location == "s3://acme-raw-lake/vendor/orders/records/" &&
      alltrue([for q in aws_athena_named_query.this : q.workgroup == "acme-raw" && q.database == "acme_raw"])
    )
    error_message = "In a shared lake the tables go to the lake's database over the source's prefix, the named queries to its workgroup."
  }
  assert {
    condition = (
      toset(one([for s in module.reader_policy[0].statements : s.resources if s.sid == "ReadTheChosenSourcesTablesOnly"])) == toset(["arn:aws:glue:eu-west-1:111122223333:catalog", "arn:aws:glue:eu-west-1:111122223333:database/acme_raw", "arn:aws:glue:eu-west-1:111122223333:table/acme_raw/orders", "arn:aws:glue:eu-west-1:111122223333:table/acme_raw/orders_published"]) &&
      jsonencode(one([for s in module.reader_policy[0].statements : s.resources if s.sid == "WriteAndReadQueryResultsOnly"])) == jsonencode(["arn:aws:s3:::acme-raw-lake/_athena/*"]) &&
      contains(one([for s in module.reader_policy[0].statements : s.conditions[0].values if s.sid == "ListTheChosenRecordsAndResultsOnly"]), "vendor/orders/records/*")
    )
    error_message = "The source's reader policy covers its own tables and prefix in the shared lake, and the lake's results prefix."
  }
}

run "a_lake_without_a_database_gets_no_tables" {
  command = plan
  variables {
    lake = {
      bucket_name     = "acme-raw-lake"
      kms_key_arn     = "arn:aws:kms:eu-west-1:111122223333:key/2222"
      alarm_topic_arn = "arn:aws:sns:eu-west-1:111122223333:lake-alarms"
    }
  }
  assert {
    condition = (
      length(aws_glue_catalog_table.this) == 0 && length(aws_athena_named_query.this) == 0 && length(module.reader_policy) == 0 &&
      output.glue_database == null && output.glue_tables == null && output.named_queries == {} && output.reader_policy_json == null &&
      jsondecode(output.source_json).table.database == null
    )
    error_message = "A lake passed in by hand without glue_database: no tables, no named queries, no reader policy."
  }
  assert {
    condition     = jsondecode(aws_lambda_function.this.environment[0].variables.RECORDS_CONFIG).enabled
    error_message = "The function still writes the records zone (tables can come later)."
  }
}

run "a_lake_with_a_database_but_no_workgroup" {
  command = plan
  variables {
    lake = {
      bucket_name     = "acme-raw-lake"
      kms_key_arn     = "arn:aws:kms:eu-west-1:111122223333:key/2222"
      alarm_topic_arn = "arn:aws:sns:eu-west-1:111122223333:lake-alarms"
      glue_database   = "acme_raw"
    }
  }
  assert {
    condition     = length(aws_glue_catalog_table.this) == 2 && alltrue([for q in aws_athena_named_query.this : q.workgroup == null]) && length(module.reader_policy) == 0
    error_message = "Without a workgroup: the tables, the named queries in Athena's primary workgroup, and no reader policy."
  }
}

run "the_records_zone_can_be_turned_off" {
  command = plan
  variables {
    table = { enabled = false }
  }
  assert {
    condition = (
      length(aws_glue_catalog_table.this) == 0 && length(aws_athena_named_query.this) == 0 && !contains(keys(aws_cloudwatch_metric_alarm.state), "schema_changes") &&
      !jsondecode(aws_lambda_function.this.environment[0].variables.RECORDS_CONFIG).enabled &&
      !contains(one([for s in data.aws_iam_policy_document.role.statement : s.resources if contains(s.actions, "s3:GetObject")]), "arn:aws:s3:::lake-ingest-orders-raw-x/orders/_state/schema.json")
    )
    error_message = "table.enabled = false: raw zone only (no tables, queries, schema alarm or schema state read)."
  }
}

run "on_schema_change_allow_has_no_alarm" {
  command = plan
  variables {
    table = { on_schema_change = "allow" }
  }
  assert {
    condition     = !contains(keys(aws_cloudwatch_metric_alarm.state), "schema_changes") && length(aws_glue_catalog_table.this) == 2
    error_message = "allow: the tables, and no schema_changes alarm."
  }
}

run "rejects_an_uppercase_column_name" {
  command = plan
  variables {
    table = { columns = { Amount = "double" } }
  }
  expect_failures = [var.table]
}

run "rejects_a_reserved_column_name" {
  command = plan
  variables {
    table = { columns = { record = "string" } }
  }
  expect_failures = [var.table]
}

run "rejects_an_unknown_column_type" {
  command = plan
  variables {
    table = { columns = { amount = "float" } }
  }
  expect_failures = [var.table]
}

run "rejects_a_decimal_scale_above_its_precision" {
  command = plan
  variables {
    table = { columns = { amount = "decimal(4,6)" } }
  }
  expect_failures = [var.table]
}

run "rejects_a_primary_key_that_is_not_a_column" {
  command = plan
  variables {
    table = { columns = { id = "string" }, primary_key = ["order_id"] }
  }
  expect_failures = [var.table]
}

run "rejects_an_unknown_on_schema_change" {
  command = plan
  variables {
    table = { on_schema_change = "ignore" }
  }
  expect_failures = [var.table]
}

run "rejects_a_date_range_of_one_value" {
  command = plan
  variables {
    table = { date_range = "NOW-1YEARS" }
  }
  expect_failures = [var.table]
}

run "rejects_a_date_range_in_another_format" {
  command = plan
  variables {
    table = { date_range = "2020/01/01,NOW" }
  }
  expect_failures = [var.table]
}

run "rejects_a_lake_database_name_athena_cannot_read" {
  command = plan
  variables {
    lake = {
      bucket_name     = "acme-raw-lake"
      kms_key_arn     = "arn:aws:kms:eu-west-1:111122223333:key/2222"
      alarm_topic_arn = "arn:aws:sns:eu-west-1:111122223333:lake-alarms"
      glue_database   = "acme-raw"
    }
  }
  expect_failures = [var.lake]
}

run "rejects_a_lake_workgroup_without_its_results" {
  command = plan
  variables {
    lake = {
      bucket_name      = "acme-raw-lake"
      kms_key_arn      = "arn:aws:kms:eu-west-1:111122223333:key/2222"
      alarm_topic_arn  = "arn:aws:sns:eu-west-1:111122223333:lake-alarms"
      glue_database    = "acme_raw"
      athena_workgroup = "acme-raw"
    }
  }
  expect_failures = [var.lake]
}

run "rejects_lake_results_in_another_bucket" {
  command = plan
  variables {
    lake = {
      bucket_name      = "acme-raw-lake"
      kms_key_arn      = "arn:aws:kms:eu-west-1:111122223333:key/2222"
      alarm_topic_arn  = "arn:aws:sns:eu-west-1:111122223333:lake-alarms"
      glue_database    = "acme_raw"
      athena_workgroup = "acme-raw"
      athena_results   = "s3://other-bucket/_athena/"
    }
  }
  expect_failures = [var.lake]
}
