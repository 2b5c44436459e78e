# Optional schedule (EventBridge Scheduler). The event carries the scheduled time, so the run id and
# the partition date follow the schedule, and retries of one slot rewrite the same keys.

resource "aws_scheduler_schedule" "this" {
  count = var.schedule_expression == null ? 0 : 1

  name                         = local.name
  description                  = "lake-ingest ${var.source_id}"
  schedule_expression          = var.schedule_expression
  schedule_expression_timezone = var.schedule_timezone
  kms_key_arn                  = aws_kms_key.this.arn

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = aws_lambda_function.this.arn
    role_arn = aws_iam_role.scheduler[0].arn
    input    = jsonencode({ scheduled_time = "<aws.scheduler.scheduled-time>" })

    retry_policy {
      maximum_retry_attempts       = 2
      maximum_event_age_in_seconds = 3600
    }
  }
}

resource "aws_iam_role" "scheduler" {
  count = var.schedule_expression == null ? 0 : 1

  name               = "${local.name}-scheduler"
  description        = "lake-ingest ${var.source_id}: EventBridge Scheduler invokes the function"
  assume_role_policy = data.aws_iam_policy_document.scheduler_assume.json
  tags               = local.tags
}

data "aws_iam_policy_document" "scheduler_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = [local.service_principal.scheduler]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role_policy" "scheduler" {
  count = var.schedule_expression == null ? 0 : 1

  name   = "invoke"
  role   = aws_iam_role.scheduler[0].id
  policy = data.aws_iam_policy_document.scheduler.json
}

data "aws_iam_policy_document" "scheduler" {
  statement {
    sid       = "InvokeThisFunctionOnly"
    actions   = ["lambda:InvokeFunction"]
    resources = [aws_lambda_function.this.arn]
  }

  statement {
    # The schedule is encrypted with the source's key; the scheduler reads it with this role.
    sid       = "DecryptScheduleWithSourceKey"
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.this.arn]
  }
}
