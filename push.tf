# A push source (var.push): webhooks arrive at an HTTP API (push_ingress.tf), whose ingress function
# checks each signature, claims the request against replays (push_replay.tf) and hands the event to an
# encrypted queue; the source's own function writes the queue's batches to the records zone
# (push_buffer.tf). No schedule, no API call: the source's secret holds the signing secrets.

locals {
  push = var.push != null

  ingress_function_name = "${local.name}-ingress"
  ingress_log_group     = "/aws/lambda/${local.ingress_function_name}"
  # Under the ingress function's name, so a lake key that lets CloudWatch Logs encrypt the source's
  # function log groups by name (modules/lake's function_name_patterns) covers it too; the "/" keeps it
  # apart from any function's own log group.
  push_access_log_group = "${local.ingress_log_group}/access"
  # The ingress answers within Slack's 3 s and GitHub's 10 s when warm; 10 s covers a cold start and a
  # secret refetch, well inside the HTTP API's 30 s integration limit
  # (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-quotas.html).
  ingress_timeout_seconds = 10

  push_route_key     = "POST /hooks/${var.source_id}"
  push_buffer_name   = "${local.name}-push"
  push_dlq_name      = "${local.name}-push-dlq"
  push_buffer_arn    = "arn:${local.partition}:sqs:${local.region}:${local.account_id}:${local.push_buffer_name}"
  push_replay_store  = local.push && try(var.push.replay_store, false)
  replay_table_name  = "${local.name}-replay"
  replay_table_arn   = "arn:${local.partition}:dynamodb:${local.region}:${local.account_id}:table/${local.replay_table_name}"
  ingress_role_name  = "${local.name}-ingress"
  ingress_log_arn    = "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:${local.ingress_log_group}"
  push_max_receives  = 5
  push_retention_sec = 1209600

  # PUSH_CONFIG, as both functions read it (every key present; Terraform fills the defaults).
  push_config = local.push ? {
    signature                = var.push.signature
    header_name              = var.push.header_name
    tolerance_seconds        = var.push.tolerance_seconds
    max_body_bytes           = var.push.max_body_bytes
    event_id                 = var.push.event_id
    event_time               = var.push.event_time
    replay_retention_seconds = var.push.replay_retention_days * 86400
  } : null
  push_config_json = local.push ? jsonencode(local.push_config) : null

  # Where senders post: the $default stage's invoke URL is the API's endpoint with a trailing slash.
  push_url = local.push ? "${trimsuffix(aws_apigatewayv2_stage.push[0].invoke_url, "/")}/hooks/${var.source_id}" : null
}
