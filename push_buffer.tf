# Between the ingress and the lake: an encrypted queue the ingress acknowledges only after, and the
# source's own function reading it in batches (one batch = one complete run in the records zone). Events
# that fail every receive wait in a dead-letter queue, where an alarm fires.

locals {
  # Lambda's advice for an SQS event source: a visibility timeout of at least six times the function's
  # timeout plus the batching window, so that throttled or retried batches are not received again while
  # still in flight (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html).
  push_visibility_timeout = local.push ? 6 * var.timeout_seconds + var.push.batch.window_seconds : null
}

resource "aws_sqs_queue" "push_dlq" {
  count = local.push ? 1 : 0

  name                              = local.push_dlq_name
  kms_master_key_id                 = local.kms_key_arn
  kms_data_key_reuse_period_seconds = 3600
  message_retention_seconds         = local.push_retention_sec
  tags                              = local.tags
}

resource "aws_sqs_queue" "push" {
  count = local.push ? 1 : 0

  name                              = local.push_buffer_name
  kms_master_key_id                 = local.kms_key_arn
  kms_data_key_reuse_period_seconds = 3600
  # The longest SQS keeps a message: an acknowledged event survives two weeks of writer outage. A
  # message keeps its first enqueue time in the dead-letter queue, so the alarm on that queue is the
  # signal to act on (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-dead-letter-queues.html).
  message_retention_seconds  = local.push_retention_sec
  visibility_timeout_seconds = local.push_visibility_timeout
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.push_dlq[0].arn
    maxReceiveCount     = local.push_max_receives
  })
  tags = local.tags
}

# The source's function reads the buffer in batches and reports the messages it could not decode, so
# that only those are received again (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html);
# MaximumConcurrency caps the concurrent batches (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html).
resource "aws_lambda_event_source_mapping" "push" {
  count = local.push ? 1 : 0

  event_source_arn                   = aws_sqs_queue.push[0].arn
  function_name                      = aws_lambda_function.this.arn
  batch_size                         = var.push.batch.size
  maximum_batching_window_in_seconds = var.push.batch.window_seconds
  function_response_types            = ["ReportBatchItemFailures"]

  scaling_config {
    maximum_concurrency = var.push.batch.max_concurrency
  }

  tags = local.tags

  # Lambda checks the role's SQS permissions when the mapping is created.
  depends_on = [aws_iam_role_policy.this]
}
