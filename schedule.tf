# Optional schedule (EventBridge Scheduler). The event carries the scheduled time, so the run id and
# the partition date follow the schedule, and retries of one slot rewrite the same keys.

# schedule_expression as EventBridge Scheduler checks it (used by its validations in variables.tf).
locals {
  rate_pattern = "^rate\\(([1-9][0-9]*) (minute|minutes|hour|hours|day|days)\\)$"
  cron_names   = ["minutes", "hours", "day-of-month", "month", "day-of-week", "year"]
  cron_value = [
    "[0-5]?[0-9]",
    "[01]?[0-9]|2[0-3]",
    "0?[1-9]|[12][0-9]|3[01]",
    "0?[1-9]|1[0-2]|JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC",
    "[1-7]|SUN|MON|TUE|WED|THU|FRI|SAT",
    "19[7-9][0-9]|2[01][0-9][0-9]",
  ]
  # A field: *, a value or a range, each with an optional /step, as a comma-separated list; day-of-month
  # and day-of-week also take ? and their L, W and # forms.
  cron_field_pattern = [for v in local.cron_value : "(?i)^(\\*|(${v})(-(${v}))?)(/[0-9]+)?(,(\\*|(${v})(-(${v}))?)(/[0-9]+)?)*$"]
  cron_special = {
    2 = "(?i)^(\\?|L|LW|(0?[1-9]|[12][0-9]|3[01])W)$"
    4 = "(?i)^(\\?|L|[1-7]L|([1-7]|SUN|MON|TUE|WED|THU|FRI|SAT)#[1-5])$"
  }

  scheduled = var.schedule_expression != null
  # Each scheduled source has its own schedule group (named as the source): the scheduler role trusts
  # that group only, never the account's default group that every other schedule may use.
  schedule_group_name = local.name
  schedule_group_arn  = "arn:${local.partition}:scheduler:${local.region}:${local.account_id}:schedule-group/${local.schedule_group_name}"
  schedule_arn        = "arn:${local.partition}:scheduler:${local.region}:${local.account_id}:schedule/${local.schedule_group_name}/${local.name}"
}

resource "aws_scheduler_schedule_group" "this" {
  count = local.scheduled ? 1 : 0

  name = local.schedule_group_name
  tags = local.tags
}

resource "aws_scheduler_schedule" "this" {
  count = local.scheduled ? 1 : 0

  name                         = local.name
  group_name                   = aws_scheduler_schedule_group.this[0].name
  description                  = "lake-ingest ${var.source_id}"
  schedule_expression          = var.schedule_expression
  schedule_expression_timezone = var.schedule_timezone
  kms_key_arn                  = local.kms_key_arn

  flexible_time_window {
    mode                      = var.schedule_flexible_window_minutes == null ? "OFF" : "FLEXIBLE"
    maximum_window_in_minutes = var.schedule_flexible_window_minutes
  }

  # With orchestration the schedule starts the run state machine (the slot's run then completes through
  # its resumes); its input becomes the execution's input, which the machine passes to the function.
  target {
    arn      = local.orchestrated ? aws_sfn_state_machine.run[0].arn : aws_lambda_function.this.arn
    role_arn = aws_iam_role.scheduler[0].arn
    input    = jsonencode({ scheduled_time = "<aws.scheduler.scheduled-time>" })

    retry_policy {
      maximum_retry_attempts       = var.schedule_retry_attempts
      maximum_event_age_in_seconds = var.schedule_max_event_age_seconds
    }

    dead_letter_config {
      arn = aws_sqs_queue.schedule_dlq[0].arn
    }
  }

  depends_on = [aws_iam_role_policy.scheduler]
}

resource "aws_iam_role" "scheduler" {
  count = local.scheduled ? 1 : 0

  name                 = "${local.name}-scheduler"
  description          = "lake-ingest ${var.source_id}: EventBridge Scheduler ${local.orchestrated ? "starts the run state machine" : "invokes the function"}"
  assume_role_policy   = data.aws_iam_policy_document.scheduler_assume.json
  path                 = var.role_path
  permissions_boundary = var.role_permissions_boundary
  tags                 = local.tags
}

data "aws_iam_policy_document" "scheduler_assume" {
  # Confused-deputy guard as EventBridge Scheduler documents it: this account, and the schedule group,
  # here the source's own (the docs name the group as aws:SourceArn, never one schedule:
  # https://docs.aws.amazon.com/scheduler/latest/UserGuide/cross-service-confused-deputy-prevention.html).
  statement {
    sid     = "SchedulerOfThisScheduleGroupOnly"
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
    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [local.schedule_group_arn]
    }
  }
}

resource "aws_iam_role_policy" "scheduler" {
  count = local.scheduled ? 1 : 0

  name   = "invoke"
  role   = aws_iam_role.scheduler[0].id
  policy = data.aws_iam_policy_document.scheduler.json
}

data "aws_iam_policy_document" "scheduler" {
  dynamic "statement" {
    for_each = local.orchestrated ? [] : [1]
    content {
      sid       = "InvokeThisFunctionOnly"
      actions   = ["lambda:InvokeFunction"]
      resources = [aws_lambda_function.this.arn]
    }
  }

  dynamic "statement" {
    # StartExecution needs no key permission even on an encrypted machine (Step Functions calls KMS
    # for the caller: https://docs.aws.amazon.com/step-functions/latest/dg/encryption-at-rest.html).
    for_each = local.orchestrated ? [1] : []
    content {
      sid       = "StartThisRunStateMachineOnly"
      actions   = ["states:StartExecution"]
      resources = [local.run_machine_arn]
    }
  }

  statement {
    # The schedule's payload is encrypted with the lake's key; Scheduler decrypts it with this role, with
    # the context aws:scheduler:schedule:arn = the schedule, schedule/<group>/<name> (no kms:ViaService:
    # the docs name none) (https://docs.aws.amazon.com/scheduler/latest/UserGuide/encryption-rest.html).
    sid       = "DecryptOwnScheduleOnly"
    actions   = ["kms:Decrypt"]
    resources = [local.kms_key_arn]
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:aws:scheduler:schedule:arn"
      values   = [local.schedule_arn]
    }
  }

  statement {
    # https://docs.aws.amazon.com/scheduler/latest/UserGuide/configuring-schedule-dlq.html
    sid       = "DeadLetterOwnScheduleQueueOnly"
    actions   = ["sqs:SendMessage"]
    resources = [local.schedule_dlq_arn]
  }

  statement {
    # A sender to an encrypted queue needs GenerateDataKey and Decrypt, here only through SQS (SQS
    # documents no encryption context; the role may send to its own queue only)
    # (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-key-management.html).
    sid       = "EncryptDeadLettersViaSQSOnly"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = [local.kms_key_arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = [local.via_service.sqs]
    }
  }
}
