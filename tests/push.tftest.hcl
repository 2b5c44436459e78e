# Plan-time checks of a push source (var.push): its HTTP API, the ingress function's permission and role,
# the buffer and its dead-letter queue, the event source mapping, the replay table, the writer role in
# push mode, the alarms and outputs, and the inputs a push source refuses (mock provider: offline).
# Policy documents are asserted on their statement inputs, since a mock cannot render their JSON.

mock_provider "aws" {
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
  mock_data "aws_iam_policy_document" {
    defaults = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
  }
  mock_resource "aws_s3_bucket" {
    defaults = { arn = "arn:aws:s3:::lake-ingest-hooks-raw-x", id = "lake-ingest-hooks-raw-x" }
  }
  mock_resource "aws_kms_key" {
    defaults = { arn = "arn:aws:kms:eu-west-1:111122223333:key/1111", key_id = "1111" }
  }
  mock_resource "aws_iam_role" {
    defaults = { arn = "arn:aws:iam::111122223333:role/lake-ingest-hooks" }
  }
  mock_resource "aws_secretsmanager_secret" {
    defaults = { arn = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:lake-ingest/hooks/api-credentials-AbCdEf" }
  }
  mock_resource "aws_sqs_queue" {
    defaults = { arn = "arn:aws:sqs:eu-west-1:111122223333:lake-ingest-hooks-dlq" }
  }
  mock_resource "aws_cloudwatch_log_group" {
    defaults = { arn = "arn:aws:logs:eu-west-1:111122223333:log-group:/aws/lambda/lake-ingest-hooks" }
  }
  mock_resource "aws_lambda_function" {
    defaults = { arn = "arn:aws:lambda:eu-west-1:111122223333:function:lake-ingest-hooks" }
  }
  mock_resource "aws_sns_topic" {
    defaults = { arn = "arn:aws:sns:eu-west-1:111122223333:lake-ingest-hooks-alarms" }
  }
  mock_resource "aws_apigatewayv2_api" {
    defaults = { id = "a1b2c3d4e5", api_endpoint = "https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com" }
  }
  mock_resource "aws_apigatewayv2_stage" {
    defaults = { invoke_url = "https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/" }
  }
  mock_resource "aws_dynamodb_table" {
    defaults = { arn = "arn:aws:dynamodb:eu-west-1:111122223333:table/lake-ingest-hooks-replay" }
  }
}

# Each queue gets its own ARN and URL (the mock gives every queue the same one).
override_resource {
  target          = aws_sqs_queue.push
  override_during = plan
  values          = { arn = "arn:aws:sqs:eu-west-1:111122223333:lake-ingest-hooks-push", url = "https://sqs.eu-west-1.amazonaws.com/111122223333/lake-ingest-hooks-push" }
}
override_resource {
  target          = aws_sqs_queue.push_dlq
  override_during = plan
  values          = { arn = "arn:aws:sqs:eu-west-1:111122223333:lake-ingest-hooks-push-dlq" }
}
override_resource {
  target          = aws_lambda_function.ingress
  override_during = plan
  values          = { arn = "arn:aws:lambda:eu-west-1:111122223333:function:lake-ingest-hooks-ingress", function_name = "lake-ingest-hooks-ingress" }
}
override_resource {
  target          = aws_iam_role.ingress
  override_during = plan
  values          = { arn = "arn:aws:iam::111122223333:role/lake-ingest-hooks-ingress" }
}

variables {
  source_id    = "hooks"
  package_path = "tests/fixtures/placeholder.zip"
  push         = { signature = "stripe", event_time = "$.created" }
}

run "http_api_route_stage_and_permission" {
  command = plan

  assert {
    condition     = aws_apigatewayv2_api.push[0].protocol_type == "HTTP" && aws_apigatewayv2_api.push[0].name == "lake-ingest-hooks-push"
    error_message = "One HTTP API per push source, named after it."
  }
  assert {
    condition = (
      aws_apigatewayv2_integration.push[0].integration_type == "AWS_PROXY" &&
      aws_apigatewayv2_integration.push[0].payload_format_version == "2.0" &&
      aws_apigatewayv2_integration.push[0].integration_uri == "arn:aws:lambda:eu-west-1:111122223333:function:lake-ingest-hooks-ingress"
    )
    error_message = "The route proxies to the ingress function with payload format 2.0."
  }
  assert {
    condition     = aws_apigatewayv2_route.push[0].route_key == "POST /hooks/hooks"
    error_message = "The one route is POST /hooks/<source_id>."
  }
  assert {
    condition = (
      aws_apigatewayv2_stage.push[0].name == "$default" && aws_apigatewayv2_stage.push[0].auto_deploy &&
      aws_apigatewayv2_stage.push[0].default_route_settings[0].throttling_rate_limit == 20 &&
      aws_apigatewayv2_stage.push[0].default_route_settings[0].throttling_burst_limit == 40
    )
    error_message = "The $default stage deploys itself and throttles at push.throttle (20 rps, burst 40 by default)."
  }
  assert {
    condition = (
      aws_apigatewayv2_stage.push[0].access_log_settings[0].destination_arn == aws_cloudwatch_log_group.push_access[0].arn &&
      aws_cloudwatch_log_group.push_access[0].name == "/aws/lambda/lake-ingest-hooks-ingress/access" &&
      aws_cloudwatch_log_group.push_access[0].kms_key_id == "arn:aws:kms:eu-west-1:111122223333:key/1111" &&
      aws_cloudwatch_log_group.push_access[0].retention_in_days == 365 &&
      !strcontains(aws_apigatewayv2_stage.push[0].access_log_settings[0].format, "$request.")
    )
    error_message = "Access logs go to their own log group, encrypted with the lake key and kept as long as the function's; no request header or body variable is logged."
  }
  assert {
    condition = (
      aws_lambda_permission.push[0].principal == "apigateway.amazonaws.com" &&
      aws_lambda_permission.push[0].action == "lambda:InvokeFunction" &&
      aws_lambda_permission.push[0].function_name == "lake-ingest-hooks-ingress" &&
      aws_lambda_permission.push[0].source_arn == "arn:aws:execute-api:eu-west-1:111122223333:a1b2c3d4e5/*/POST/hooks/hooks" &&
      aws_lambda_permission.push[0].source_account == "111122223333"
    )
    error_message = "Only this API's POST /hooks/<source_id> route, in this account, may invoke the ingress function."
  }
  assert {
    condition     = output.push_url == "https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/hooks/hooks" && output.push_api_id == "a1b2c3d4e5"
    error_message = "push_url is the stage's invoke URL + hooks/<source_id>."
  }
}

run "ingress_function_and_role" {
  command = plan

  assert {
    condition = (
      aws_lambda_function.ingress[0].function_name == "lake-ingest-hooks-ingress" &&
      aws_lambda_function.ingress[0].handler == "lake_ingest.push.ingress.lambda_handler" &&
      aws_lambda_function.ingress[0].filename == aws_lambda_function.this.filename &&
      aws_lambda_function.ingress[0].source_code_hash == aws_lambda_function.this.source_code_hash &&
      aws_lambda_function.ingress[0].kms_key_arn == "arn:aws:kms:eu-west-1:111122223333:key/1111" &&
      aws_lambda_function.ingress[0].tracing_config[0].mode == "Active" &&
      aws_lambda_function.ingress[0].logging_config[0].log_format == "JSON" &&
      aws_lambda_function.ingress[0].logging_config[0].log_group == "/aws/lambda/lake-ingest-hooks-ingress" &&
      aws_lambda_function.ingress[0].reserved_concurrent_executions == -1
    )
    error_message = "The ingress runs the source's package with its own handler, log group, tracing and the lake key for its environment (unreserved by default)."
  }
  assert {
    condition = (
      keys(aws_lambda_function.ingress[0].environment[0].variables) == sort(["SOURCE_ID", "SECRET_ARN", "PUSH_CONFIG", "BUFFER_QUEUE_URL", "REPLAY_TABLE", "POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE", "POWERTOOLS_LOG_LEVEL"]) &&
      aws_lambda_function.ingress[0].environment[0].variables.BUFFER_QUEUE_URL == "https://sqs.eu-west-1.amazonaws.com/111122223333/lake-ingest-hooks-push" &&
      aws_lambda_function.ingress[0].environment[0].variables.REPLAY_TABLE == "lake-ingest-hooks-replay" &&
      jsondecode(aws_lambda_function.ingress[0].environment[0].variables.PUSH_CONFIG) == {
        signature = "stripe", header_name = null, tolerance_seconds = 300, max_body_bytes = 256000,
        event_id  = null, event_time = "$.created", replay_retention_seconds = 604800
      }
    )
    error_message = "The ingress environment is the contract's: every PUSH_CONFIG key, defaults filled in."
  }
  assert {
    condition = [for s in data.aws_iam_policy_document.ingress[0].statement : [s.sid, s.actions, s.resources] if s.effect == "Deny"] == [
      ["DenyAllS3", toset(["s3:*"]), toset(["*"])]
    ]
    error_message = "The ingress role denies every S3 action on everything."
  }
  assert {
    condition = {
      for s in data.aws_iam_policy_document.ingress[0].statement : s.sid => s.resources if s.effect != "Deny" && s.sid != "XRayTraces" && !startswith(s.sid, "UseKeyVia")
      } == {
      ReadOwnSecretOnly      = toset(["arn:aws:secretsmanager:eu-west-1:111122223333:secret:lake-ingest/hooks/api-credentials-AbCdEf"])
      SendToOwnBufferOnly    = toset(["arn:aws:sqs:eu-west-1:111122223333:lake-ingest-hooks-push"])
      ClaimOwnReplayKeysOnly = toset(["arn:aws:dynamodb:eu-west-1:111122223333:table/lake-ingest-hooks-replay"])
      LogToOwnLogGroupOnly   = toset(["arn:aws:logs:eu-west-1:111122223333:log-group:/aws/lambda/lake-ingest-hooks-ingress:*"])
    }
    error_message = "The ingress may read its own secret, send to its own buffer, claim in its own replay table and log to its own log group: nothing else."
  }
  assert {
    condition = (
      one([for s in data.aws_iam_policy_document.ingress[0].statement : s.actions if s.sid == "SendToOwnBufferOnly"]) == toset(["sqs:SendMessage"]) &&
      one([for s in data.aws_iam_policy_document.ingress[0].statement : s.actions if s.sid == "ClaimOwnReplayKeysOnly"]) == toset(["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"])
    )
    error_message = "The ingress only sends to its buffer and only writes claims (no read, no scan)."
  }
  assert {
    condition = {
      for s in data.aws_iam_policy_document.ingress[0].statement : s.sid => jsonencode([sort(s.actions), { for c in s.condition : c.variable => sort(c.values) }]) if startswith(s.sid, "UseKeyVia")
      } == {
      UseKeyViaSecretsManager = jsonencode([["kms:Decrypt"], {
        "kms:EncryptionContext:SecretARN" = ["arn:aws:secretsmanager:eu-west-1:111122223333:secret:lake-ingest/hooks/api-credentials-AbCdEf"]
        "kms:ViaService"                  = ["secretsmanager.eu-west-1.amazonaws.com"]
      }])
      UseKeyViaSQS               = jsonencode([["kms:Decrypt", "kms:GenerateDataKey"], { "kms:ViaService" = ["sqs.eu-west-1.amazonaws.com"] }])
      UseKeyViaLambdaEnvironment = jsonencode([["kms:Decrypt"], { "kms:ViaService" = ["lambda.eu-west-1.amazonaws.com"] }])
    }
    error_message = "The ingress uses the lake key only through Secrets Manager (for its own secret), SQS and Lambda (its environment)."
  }
  assert {
    condition = (
      aws_iam_role.ingress[0].name == "lake-ingest-hooks-ingress" &&
      aws_iam_role.ingress[0].tags["lake-ingest:source-id"] == "hooks" &&
      aws_iam_role.ingress[0].assume_role_policy == data.aws_iam_policy_document.assume.json &&
      aws_iam_role.ingress[0].path == "/" && aws_iam_role.ingress[0].permissions_boundary == null
    )
    error_message = "The ingress role is tagged with the source id and trusts Lambda of this account only, like the writer's."
  }
}

run "ingress_role_path_and_boundary" {
  command = plan

  variables {
    role_path                 = "/ingest/"
    role_permissions_boundary = "arn:aws:iam::111122223333:policy/boundary"
    push                      = { signature = "github", replay_store = false, ingress_reserved_concurrency = 5 }
  }

  assert {
    condition     = aws_iam_role.ingress[0].path == "/ingest/" && aws_iam_role.ingress[0].permissions_boundary == "arn:aws:iam::111122223333:policy/boundary"
    error_message = "The ingress role gets role_path and role_permissions_boundary like every other role."
  }
  assert {
    condition = (
      length(aws_dynamodb_table.replay) == 0 && output.push_replay_table_arn == null &&
      aws_lambda_function.ingress[0].environment[0].variables.REPLAY_TABLE == "" &&
      !contains([for s in data.aws_iam_policy_document.ingress[0].statement : s.sid], "ClaimOwnReplayKeysOnly")
    )
    error_message = "replay_store = false: no table, an empty REPLAY_TABLE and no DynamoDB permission."
  }
  assert {
    condition     = aws_lambda_function.ingress[0].reserved_concurrent_executions == 5
    error_message = "push.ingress_reserved_concurrency reserves the ingress function's concurrency."
  }
}

run "buffer_dlq_and_mapping" {
  command = plan

  assert {
    condition = (
      aws_sqs_queue.push[0].name == "lake-ingest-hooks-push" && aws_sqs_queue.push_dlq[0].name == "lake-ingest-hooks-push-dlq" &&
      jsondecode(aws_sqs_queue.push[0].redrive_policy) == { deadLetterTargetArn = "arn:aws:sqs:eu-west-1:111122223333:lake-ingest-hooks-push-dlq", maxReceiveCount = 5 }
    )
    error_message = "The buffer redrives to its own dead-letter queue after 5 receives."
  }
  assert {
    condition = alltrue([
      for q in [aws_sqs_queue.push[0], aws_sqs_queue.push_dlq[0]] :
      q.kms_master_key_id == "arn:aws:kms:eu-west-1:111122223333:key/1111" && q.message_retention_seconds == 1209600
    ])
    error_message = "Both queues are encrypted with the lake key and keep messages 14 days."
  }
  assert {
    condition     = aws_sqs_queue.push[0].visibility_timeout_seconds >= 6 * aws_lambda_function.this.timeout + aws_lambda_event_source_mapping.push[0].maximum_batching_window_in_seconds
    error_message = "The buffer's visibility timeout is at least 6 x the writer's timeout + the batching window."
  }
  assert {
    condition     = contains(keys(aws_sqs_queue_policy.this), "push_buffer") && contains(keys(aws_sqs_queue_policy.this), "push_dlq") && one([for s in data.aws_iam_policy_document.queue["push_buffer"].statement : s.sid]) == "DenyInsecureTransport"
    error_message = "The buffer and its DLQ deny non-TLS access, like the source's other queues."
  }
  assert {
    condition = (
      aws_lambda_event_source_mapping.push[0].event_source_arn == "arn:aws:sqs:eu-west-1:111122223333:lake-ingest-hooks-push" &&
      aws_lambda_event_source_mapping.push[0].function_name == aws_lambda_function.this.arn &&
      aws_lambda_event_source_mapping.push[0].batch_size == 1000 &&
      aws_lambda_event_source_mapping.push[0].maximum_batching_window_in_seconds == 60 &&
      aws_lambda_event_source_mapping.push[0].scaling_config[0].maximum_concurrency == 2 &&
      aws_lambda_event_source_mapping.push[0].function_response_types == toset(["ReportBatchItemFailures"])
    )
    error_message = "The writer reads the buffer in batches of 1000 / 60 s, at most 2 at once, reporting failed items."
  }
  assert {
    condition = (
      aws_dynamodb_table.replay[0].name == "lake-ingest-hooks-replay" && aws_dynamodb_table.replay[0].billing_mode == "PAY_PER_REQUEST" &&
      aws_dynamodb_table.replay[0].hash_key == "pk" && one(aws_dynamodb_table.replay[0].attribute).type == "S" &&
      aws_dynamodb_table.replay[0].ttl[0].attribute_name == "expires_at" && aws_dynamodb_table.replay[0].ttl[0].enabled &&
      aws_dynamodb_table.replay[0].point_in_time_recovery[0].enabled
    )
    error_message = "The replay table: on demand, hash key pk (S), TTL on expires_at, point-in-time recovery."
  }
  assert {
    condition     = output.push_buffer_arn == "arn:aws:sqs:eu-west-1:111122223333:lake-ingest-hooks-push" && output.push_dlq_arn == "arn:aws:sqs:eu-west-1:111122223333:lake-ingest-hooks-push-dlq" && output.ingress_function_name == "lake-ingest-hooks-ingress" && output.ingress_role_arn == "arn:aws:iam::111122223333:role/lake-ingest-hooks-ingress"
    error_message = "The push outputs name the buffer, its DLQ, the ingress function and role."
  }
}

run "writer_in_push_mode_and_no_schedule" {
  command = plan

  assert {
    condition     = !anytrue([for s in data.aws_iam_policy_document.role.statement : anytrue([for a in s.actions : startswith(a, "secretsmanager:")])]) && !contains([for s in data.aws_iam_policy_document.role.statement : s.sid], "UseKeyViaSecretsManager")
    error_message = "The writer of a push source never reads the signing secrets: no Secrets Manager statement, no key use through it."
  }
  assert {
    condition = one([for s in data.aws_iam_policy_document.role.statement : [s.actions, s.resources] if s.sid == "ReceiveFromOwnBufferOnly"]) == [
      toset(["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"]), toset(["arn:aws:sqs:eu-west-1:111122223333:lake-ingest-hooks-push"])
    ]
    error_message = "The writer receives from and deletes from its own buffer only."
  }
  assert {
    condition     = !contains(flatten([for s in data.aws_iam_policy_document.role.statement : [for r in coalesce(s.resources, []) : r if contains(s.actions, "sqs:SendMessage")]]), "arn:aws:sqs:eu-west-1:111122223333:lake-ingest-hooks-push")
    error_message = "The writer may not send to its buffer."
  }
  assert {
    condition = (
      !contains(keys(aws_lambda_function.this.environment[0].variables), "API_CONFIG") &&
      jsondecode(aws_lambda_function.this.environment[0].variables.PUSH_CONFIG).signature == "stripe" &&
      aws_lambda_function.this.handler == "lake_ingest.handler.lambda_handler"
    )
    error_message = "The writer gets PUSH_CONFIG and no API_CONFIG."
  }
  assert {
    condition = (
      length(aws_scheduler_schedule.this) == 0 && length(aws_iam_role.scheduler) == 0 && length(aws_sqs_queue.schedule_dlq) == 0 &&
      length(aws_sfn_state_machine.run) == 0 && output.api_config == null
    )
    error_message = "A push source has no schedule, no scheduler role, no orchestration and no API_CONFIG."
  }
  assert {
    condition     = module.lake[0].for_sources != null && contains(keys(output.policies.identity), "ingress_role") && contains(keys(output.policies.trust), "ingress_role")
    error_message = "policies lists the ingress role's permissions and trust."
  }
}

run "records_table_and_queries" {
  command = plan

  variables {
    table = { columns = { type = "string", amount = "bigint" } }
  }

  assert {
    condition = [for c in aws_glue_catalog_table.this["records"].storage_descriptor[0].columns : "${c.name} ${c.type}"] == [
      "run_id string", "attempt int", "page int", "record_index int", "ingested_at timestamp", "record string",
      "cursor_value timestamp", "event_id string", "received_at timestamp", "amount bigint", "type string",
    ]
    error_message = "Push tables carry cursor_value (the event's time), event_id and received_at after the lineage, then the declared columns."
  }
  assert {
    condition = (
      contains(keys(aws_athena_named_query.this), "latest") &&
      strcontains(aws_athena_named_query.this["latest"].query, "r.\"event_id\"") &&
      strcontains(aws_athena_named_query.this["latest"].query, "r.cursor_value DESC NULLS LAST")
    )
    error_message = "latest keeps one row per event_id (the default primary key), the newest by event time."
  }
  assert {
    condition = (
      jsondecode(output.source_json).api_config == null &&
      jsondecode(output.source_json).push.url == "https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/hooks/hooks" &&
      jsondecode(output.source_json).push.tolerance_seconds == 300 &&
      jsondecode(output.source_json).table.primary_key == ["event_id"]
    )
    error_message = "source_json gains push (PUSH_CONFIG and url), api_config null, and the default primary key."
  }
}

run "push_alarms" {
  command = plan

  assert {
    condition     = toset(keys(aws_cloudwatch_metric_alarm.push)) == toset(["push_dead_letters", "push_buffer_failed", "push_api_5xx"]) && length(aws_cloudwatch_metric_alarm.push_rejected) == 1 && length(aws_cloudwatch_metric_alarm.freshness) == 0
    error_message = "A push source alarms on rejections, dead letters, buffer failures and API 5XX; no freshness (no schedule), no no-events alarm unless asked."
  }
  assert {
    condition = (
      aws_cloudwatch_metric_alarm.push_rejected[0].threshold == 20 &&
      aws_cloudwatch_metric_alarm.push_rejected[0].comparison_operator == "GreaterThanOrEqualToThreshold" &&
      toset([for q in aws_cloudwatch_metric_alarm.push_rejected[0].metric_query : q.metric[0].dimensions.Reason if length(q.metric) > 0]) == toset(["bad_signature", "expired", "replayed", "unsigned"]) &&
      alltrue([for q in aws_cloudwatch_metric_alarm.push_rejected[0].metric_query : q.metric[0].metric_name == "PushRejected" && q.metric[0].period == 300 && q.metric[0].dimensions.SourceId == "hooks" if length(q.metric) > 0])
    )
    error_message = "push_rejected sums PushRejected over the four signature reasons in 5 minutes, at push.alarms.rejected_per_5min."
  }
  assert {
    condition = (
      aws_cloudwatch_metric_alarm.push["push_dead_letters"].dimensions.QueueName == "lake-ingest-hooks-push-dlq" &&
      aws_cloudwatch_metric_alarm.push["push_buffer_failed"].metric_name == "PushBufferFailed" &&
      aws_cloudwatch_metric_alarm.push["push_api_5xx"].dimensions.ApiId == "a1b2c3d4e5"
    )
    error_message = "The delivery alarms watch the buffer's DLQ, PushBufferFailed and the API's 5xx."
  }
}

run "push_alarms_no_events_and_disabled" {
  command = plan

  variables {
    push   = { signature = "slack", alarms = { no_events_hours = 6 } }
    alarms = { disabled = ["push_api_5xx", "push_rejected"] }
  }

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.push["push_no_events"].metric_name == "PushAccepted" &&
      aws_cloudwatch_metric_alarm.push["push_no_events"].evaluation_periods == 6 &&
      aws_cloudwatch_metric_alarm.push["push_no_events"].period == 3600 &&
      aws_cloudwatch_metric_alarm.push["push_no_events"].comparison_operator == "LessThanThreshold" &&
      aws_cloudwatch_metric_alarm.push["push_no_events"].treat_missing_data == "breaching"
    )
    error_message = "push.alarms.no_events_hours alarms when no event was accepted for that many hours, no data counting."
  }
  assert {
    condition     = !contains(keys(aws_cloudwatch_metric_alarm.push), "push_api_5xx") && length(aws_cloudwatch_metric_alarm.push_rejected) == 0
    error_message = "alarms.disabled leaves push alarms out."
  }
}

run "rejects_push_with_api_config" {
  command = plan
  variables {
    api_config = { endpoint = "https://api.example.com/v1/orders", records_path = "data" }
  }
  expect_failures = [var.api_config]
}

run "rejects_pull_source_without_api_config" {
  command = plan
  variables {
    push = null
  }
  expect_failures = [var.api_config]
}

run "rejects_push_with_schedule" {
  command = plan
  variables {
    schedule_expression = "rate(1 hour)"
  }
  expect_failures = [var.push]
}

run "rejects_push_with_orchestration" {
  command = plan
  variables {
    orchestration = {}
  }
  expect_failures = [var.push]
}

run "rejects_header_name_with_a_signing_style" {
  command = plan
  variables {
    push = { signature = "stripe", header_name = "X-Token" }
  }
  expect_failures = [var.push]
}

run "rejects_header_style_without_header_name" {
  command = plan
  variables {
    push = { signature = "header" }
  }
  expect_failures = [var.push]
}

run "rejects_unknown_signature" {
  command = plan
  variables {
    push = { signature = "hmac" }
  }
  expect_failures = [var.push]
}

run "rejects_oversized_max_body_bytes" {
  command = plan
  variables {
    push = { signature = "stripe", max_body_bytes = 260097 }
  }
  expect_failures = [var.push]
}

run "rejects_large_batch_without_window" {
  command = plan
  variables {
    push = { signature = "stripe", batch = { size = 100, window_seconds = 0 } }
  }
  expect_failures = [var.push]
}

run "rejects_max_concurrency_above_reserved" {
  command = plan
  variables {
    push = { signature = "stripe", batch = { max_concurrency = 3 } }
  }
  expect_failures = [var.push]
}

run "rejects_event_id_key_on_a_pull_source" {
  command = plan
  variables {
    push       = null
    api_config = { endpoint = "https://api.example.com/v1/orders", records_path = "data" }
    table      = { columns = { id = "bigint" }, primary_key = ["event_id"] }
  }
  expect_failures = [var.table]
}

run "header_style_with_header_name_plans" {
  command = plan
  variables {
    push = { signature = "header", header_name = "X-Webhook-Token", event_id = "header:X-Event-Id" }
  }
  assert {
    condition     = jsondecode(aws_lambda_function.ingress[0].environment[0].variables.PUSH_CONFIG).header_name == "X-Webhook-Token"
    error_message = "The header style passes its header name to the ingress."
  }
}
