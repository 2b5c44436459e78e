# A push source's front door: one HTTP API per source, route POST /hooks/<source_id>, throttled at the
# stage before any function runs, proxied (payload 2.0) to the ingress function, which verifies the
# signature over the raw body and queues the event. Nothing here is public on the function itself: only
# this API's route may invoke it.

resource "aws_apigatewayv2_api" "push" {
  count = local.push ? 1 : 0

  name          = "${local.name}-push"
  description   = "lake-ingest ${var.source_id}: webhooks (${var.push.signature} signatures) -> ${local.push_buffer_name}"
  protocol_type = "HTTP"
  tags          = local.tags
}

resource "aws_apigatewayv2_integration" "push" {
  count = local.push ? 1 : 0

  api_id                 = aws_apigatewayv2_api.push[0].id
  integration_type       = "AWS_PROXY"
  integration_uri        = aws_lambda_function.ingress[0].arn
  payload_format_version = "2.0"
}

resource "aws_apigatewayv2_route" "push" {
  #checkov:skip=CKV_AWS_309:The webhook's signature is its authentication: an HMAC over the raw body, which the ingress function checks (401 otherwise). An API Gateway authorizer never sees the body, and the senders (Stripe, Slack, GitHub) send no IAM, JWT or Cognito credentials.
  count = local.push ? 1 : 0

  api_id             = aws_apigatewayv2_api.push[0].id
  route_key          = local.push_route_key
  authorization_type = "NONE"
  target             = "integrations/${aws_apigatewayv2_integration.push[0].id}"
}

resource "aws_apigatewayv2_stage" "push" {
  count = local.push ? 1 : 0

  api_id      = aws_apigatewayv2_api.push[0].id
  name        = "$default"
  auto_deploy = true

  # Requests beyond the rate and burst get 429 before any function runs (best effort)
  # (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-throttling.html).
  default_route_settings {
    throttling_rate_limit  = var.push.throttle.rate
    throttling_burst_limit = var.push.throttle.burst
  }

  # No header or body variable exists for access logs: the signature and the event never reach them
  # (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-logging-variables.html).
  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.push_access[0].arn
    format = jsonencode({
      requestId          = "$context.requestId"
      requestTime        = "$context.requestTime"
      sourceIp           = "$context.identity.sourceIp"
      userAgent          = "$context.identity.userAgent"
      routeKey           = "$context.routeKey"
      status             = "$context.status"
      responseLength     = "$context.responseLength"
      integrationStatus  = "$context.integrationStatus"
      integrationLatency = "$context.integrationLatency"
      integrationError   = "$context.integrationErrorMessage"
    })
  }

  tags = local.tags
}

# API Gateway invokes the ingress function for this API's route only, from this account. Its source ARN is
# arn:<partition>:execute-api:<region>:<account>:<api-id>/<stage>/<METHOD>/<path>
# (https://docs.aws.amazon.com/apigateway/latest/developerguide/arn-format-reference.html); the stage
# part is matched with "*" because the $default stage's may appear as "$default" or "*" there
# (https://repost.aws/knowledge-center/api-gateway-http-lambda-integrations). The API has no other stage.
resource "aws_lambda_permission" "push" {
  count = local.push ? 1 : 0

  statement_id   = "ApiGatewayInvokesFromOwnRouteOnly"
  action         = "lambda:InvokeFunction"
  function_name  = aws_lambda_function.ingress[0].function_name
  principal      = local.service_principal.apigateway
  source_arn     = "arn:${local.partition}:execute-api:${local.region}:${local.account_id}:${aws_apigatewayv2_api.push[0].id}/*/POST/hooks/${var.source_id}"
  source_account = local.account_id
}

resource "aws_lambda_function" "ingress" {
  #checkov:skip=CKV_AWS_117:The ingress calls only AWS APIs (Secrets Manager, DynamoDB, SQS) and is invoked by API Gateway; it reaches no private network.
  #checkov:skip=CKV_AWS_116:Invoked synchronously by API Gateway only: a failed request is answered non-2xx and the sender retries it; there is no asynchronous event to dead-letter.
  #checkov:skip=CKV_AWS_272:Code signing needs an AWS Signer profile the platform team owns; opt-in through var.code_signing_config_arn.
  #checkov:skip=CKV_AWS_115:Reserved concurrency is opt-in through push.ingress_reserved_concurrency; the stage's throttle (push.throttle) caps the requests that reach the function.
  count = local.push ? 1 : 0

  function_name = local.ingress_function_name
  description   = "lake-ingest ${var.source_id}: webhook ingress (${var.push.signature} signatures) -> ${local.push_buffer_name}"
  role          = aws_iam_role.ingress[0].arn
  handler       = "lake_ingest.push.ingress.lambda_handler"
  runtime       = var.runtime
  architectures = [var.architecture]
  memory_size   = var.memory_size
  timeout       = local.ingress_timeout_seconds
  kms_key_arn   = local.kms_key_arn

  reserved_concurrent_executions = coalesce(var.push.ingress_reserved_concurrency, -1)
  code_signing_config_arn        = var.code_signing_config_arn

  # The same package as the source's function.
  filename          = local.build_package ? module.package[0].zip_path : var.package_path
  s3_bucket         = try(var.package_s3.bucket, null)
  s3_key            = try(var.package_s3.key, null)
  s3_object_version = try(var.package_s3.version_id, null)
  source_code_hash  = local.package_hash

  environment {
    variables = {
      SOURCE_ID        = var.source_id
      SECRET_ARN       = aws_secretsmanager_secret.api.arn
      PUSH_CONFIG      = local.push_config_json
      BUFFER_QUEUE_URL = aws_sqs_queue.push[0].url
      # Empty: no replay store (push.replay_store = false).
      REPLAY_TABLE                 = local.push_replay_store ? aws_dynamodb_table.replay[0].name : ""
      POWERTOOLS_SERVICE_NAME      = local.metrics_service
      POWERTOOLS_METRICS_NAMESPACE = local.metrics_namespace
      POWERTOOLS_LOG_LEVEL         = var.log_level
    }
  }

  tracing_config {
    mode = "Active"
  }

  logging_config {
    log_format            = "JSON"
    log_group             = aws_cloudwatch_log_group.ingress[0].name
    application_log_level = var.log_level
    system_log_level      = "WARN"
  }

  tags = local.tags

  depends_on = [
    module.package,
    aws_iam_role_policy.ingress,
    aws_cloudwatch_log_group.ingress,
    module.lake,
  ]
}

# Created before the function and the stage (no logs:CreateLogGroup anywhere), encrypted with the lake key.
resource "aws_cloudwatch_log_group" "ingress" {
  count = local.push ? 1 : 0

  name              = local.ingress_log_group
  retention_in_days = var.log_retention_days
  kms_key_id        = local.kms_key_arn
  tags              = local.tags
}

resource "aws_cloudwatch_log_group" "push_access" {
  count = local.push ? 1 : 0

  name              = local.push_access_log_group
  retention_in_days = var.log_retention_days
  kms_key_id        = local.kms_key_arn
  tags              = local.tags
}
