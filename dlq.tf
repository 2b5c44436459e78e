# Failure path for asynchronous invocations (schedules, events): bounded retries, then the event and
# its error go to an encrypted queue, where nothing is lost and an alarm fires.

resource "aws_sqs_queue" "dlq" {
  name                              = local.dlq_name
  kms_master_key_id                 = local.kms_key_arn
  kms_data_key_reuse_period_seconds = 3600
  message_retention_seconds         = 1209600
  tags                              = local.tags
}

# The schedule's own dead-letter queue: scheduled events EventBridge Scheduler could not deliver.
resource "aws_sqs_queue" "schedule_dlq" {
  count = local.scheduled ? 1 : 0

  name                              = local.schedule_dlq_name
  kms_master_key_id                 = local.kms_key_arn
  kms_data_key_reuse_period_seconds = 3600
  message_retention_seconds         = 1209600
  tags                              = local.tags
}

locals {
  queues = merge(
    { dlq = aws_sqs_queue.dlq },
    local.scheduled ? { schedule_dlq = aws_sqs_queue.schedule_dlq[0] } : {},
    local.push ? { push_buffer = aws_sqs_queue.push[0], push_dlq = aws_sqs_queue.push_dlq[0] } : {},
  )
}

resource "aws_sqs_queue_policy" "this" {
  for_each = local.queues

  queue_url = each.value.id
  policy    = data.aws_iam_policy_document.queue[each.key].json
}

data "aws_iam_policy_document" "queue" {
  for_each = local.queues

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["sqs:*"]
    resources = [each.value.arn]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_lambda_function_event_invoke_config" "this" {
  function_name                = aws_lambda_function.this.function_name
  maximum_retry_attempts       = var.async_max_retries
  maximum_event_age_in_seconds = var.async_max_event_age_seconds

  destination_config {
    on_failure {
      destination = aws_sqs_queue.dlq.arn
    }
  }

  depends_on = [aws_iam_role_policy.this]
}
