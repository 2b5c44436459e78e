# Alarms a data team needs, to the lake's topic: error rate, throttles, duration near the timeout,
# concurrency near the reserved limit, dead letters, async events dropped, quarantined pages,
# freshness (no successful run for N hours), per source type refresh-token rotations and the cursor's
# health, and with the records zone schema changes. Thresholds in var.alarms; each can be disabled.

locals {
  alarm_period = var.alarms.period_seconds
  lambda_dims  = { FunctionName = local.function_name }
  handler_dims = { SourceId = var.source_id, service = local.metrics_service }

  simple_alarms = {
    throttles = {
      description = "The ${var.source_id} ingestion function was throttled (reserved concurrency ${var.reserved_concurrency})."
      namespace   = "AWS/Lambda"
      metric      = "Throttles"
      dimensions  = local.lambda_dims
      statistic   = "Sum"
      threshold   = var.alarms.throttles
    }
    duration = {
      description = "A ${var.source_id} run took longer than ${var.alarms.duration_percent_of_timeout}% of its ${var.timeout_seconds}s timeout: raise the timeout or lower max_pages (the handler stops early and resumes, but this is close)."
      namespace   = "AWS/Lambda"
      metric      = "Duration"
      dimensions  = local.lambda_dims
      statistic   = "Maximum"
      threshold   = var.timeout_seconds * 1000 * var.alarms.duration_percent_of_timeout / 100
    }
    concurrency = {
      description = "${var.source_id} ran near its reserved concurrency (${var.reserved_concurrency}): runs overlap; check the schedule and the run time."
      namespace   = "AWS/Lambda"
      metric      = "ConcurrentExecutions"
      dimensions  = local.lambda_dims
      statistic   = "Maximum"
      threshold   = var.reserved_concurrency * var.alarms.concurrency_percent_of_reserved / 100 - 0.001
    }
    async_events_dropped = {
      description = "Lambda dropped ${var.source_id} events without running them (event too old, or the dead-letter destination failed): data may be missing."
      namespace   = "AWS/Lambda"
      metric      = "AsyncEventsDropped"
      dimensions  = local.lambda_dims
      statistic   = "Sum"
      threshold   = var.alarms.async_events_dropped
    }
    dead_letters = {
      description = "Events of ${var.source_id} failed every retry and wait in ${local.dlq_name} (with their error): inspect, fix, redrive."
      namespace   = "AWS/SQS"
      metric      = "ApproximateNumberOfMessagesVisible"
      dimensions  = { QueueName = local.dlq_name }
      statistic   = "Maximum"
      threshold   = var.alarms.dead_letters
    }
    schedule_dead_letters = {
      description = "EventBridge Scheduler could not invoke ${var.source_id}; the scheduled events wait in ${local.schedule_dlq_name}."
      namespace   = "AWS/SQS"
      metric      = "ApproximateNumberOfMessagesVisible"
      dimensions  = { QueueName = local.schedule_dlq_name }
      statistic   = "Maximum"
      threshold   = var.alarms.dead_letters
    }
    quarantined_pages = {
      description = "${var.source_id} received pages that are not data (HTML, broken JSON, no records) and put them in quarantine; the run stopped incomplete."
      namespace   = local.metrics_namespace
      metric      = "PagesQuarantined"
      dimensions  = local.handler_dims
      statistic   = "Sum"
      threshold   = var.alarms.quarantined_pages
    }
  }
  enabled_simple_alarms = {
    for name, alarm in local.simple_alarms : name => alarm
    if !contains(var.alarms.disabled, name) && (name != "schedule_dead_letters" || local.scheduled)
  }
}

resource "aws_cloudwatch_metric_alarm" "simple" {
  for_each = local.enabled_simple_alarms

  alarm_name          = "${local.name}-${replace(each.key, "_", "-")}"
  alarm_description   = each.value.description
  namespace           = each.value.namespace
  metric_name         = each.value.metric
  dimensions          = each.value.dimensions
  statistic           = each.value.statistic
  period              = local.alarm_period
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = each.value.threshold
  treat_missing_data  = "notBreaching"
  alarm_actions       = [local.alarm_topic_arn]
  ok_actions          = [local.alarm_topic_arn]
  tags                = local.tags
}

resource "aws_cloudwatch_metric_alarm" "error_rate" {
  count = contains(var.alarms.disabled, "error_rate") ? 0 : 1

  alarm_name          = "${local.name}-error-rate"
  alarm_description   = "More than ${var.alarms.error_rate_percent}% of ${var.source_id} invocations failed (Lambda retries them, then dead-letters them)."
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.alarms.error_rate_percent
  treat_missing_data  = "notBreaching"
  alarm_actions       = [local.alarm_topic_arn]
  ok_actions          = [local.alarm_topic_arn]
  tags                = local.tags

  metric_query {
    id          = "error_rate"
    label       = "Errors / Invocations (%)"
    expression  = "IF(invocations > 0, 100 * errors / invocations, 0)"
    return_data = true
  }
  metric_query {
    id = "errors"
    metric {
      namespace   = "AWS/Lambda"
      metric_name = "Errors"
      dimensions  = local.lambda_dims
      period      = local.alarm_period
      stat        = "Sum"
    }
  }
  metric_query {
    id = "invocations"
    metric {
      namespace   = "AWS/Lambda"
      metric_name = "Invocations"
      dimensions  = local.lambda_dims
      period      = local.alarm_period
      stat        = "Sum"
    }
  }
}

# Only for scheduled sources: a source invoked on demand has no expected rhythm to fall behind.
resource "aws_cloudwatch_metric_alarm" "freshness" {
  count = local.scheduled && !contains(var.alarms.disabled, "freshness") ? 1 : 0

  alarm_name          = "${local.name}-freshness"
  alarm_description   = "No successful ${var.source_id} run (IngestionSucceeded) for ${var.alarms.freshness_hours} hours: the lake is going stale. No data at all counts too."
  namespace           = local.metrics_namespace
  metric_name         = "IngestionSucceeded"
  dimensions          = local.handler_dims
  statistic           = "Sum"
  period              = 3600
  evaluation_periods  = var.alarms.freshness_hours
  datapoints_to_alarm = var.alarms.freshness_hours
  comparison_operator = "LessThanThreshold"
  threshold           = 1
  treat_missing_data  = "breaching"
  alarm_actions       = [local.alarm_topic_arn]
  ok_actions          = [local.alarm_topic_arn]
  tags                = local.tags
}

# What keeps credentials and state sound (the handler's own metrics): a refresh token rotated faster than
# its secret can keep versions, cursor values the handler refused, and a cursor that finds nothing.
locals {
  cursor_source = try(local.api_config.incremental.type, "") == "cursor"

  state_alarms = {
    # PutSecretValue: at most one every 10 minutes sustained is AWS's advice; Secrets Manager removes
    # versions beyond 100 but none younger than 24 h, so a faster rate runs into the version quota
    # (https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_PutSecretValue.html).
    refresh_token_rotations = {
      enabled     = local.rotates_refresh_token
      description = "${var.source_id} rotated its OAuth2 refresh token more than ${var.alarms.refresh_token_rotations_per_hour} times in an hour (RefreshTokensRotated). Each rotation is a new version of its secret, and Secrets Manager recommends at most one PutSecretValue every 10 minutes sustained: it removes versions beyond 100 but none younger than 24 hours, so a faster rate eventually exhausts the version quota and a rotated token can no longer be saved (the provider has already spent the old one). Find what makes runs refresh so often (many short runs, a short-lived access token) and slow them down."
      metric      = "RefreshTokensRotated"
      statistic   = "Sum"
      period      = 3600
      comparison  = "GreaterThanThreshold"
      threshold   = var.alarms.refresh_token_rotations_per_hour
    }
    cursor_values_rejected = {
      enabled     = local.cursor_source
      description = "${var.source_id} rejected cursor values from the API (CursorValuesRejected): the cursor state did not take them, so bad data cannot move it, but records may be wrong or the API's cursor field may have changed. See the run's log and manifest; `python -m lake_ingest state show` shows the cursor."
      metric      = "CursorValuesRejected"
      statistic   = "Sum"
      period      = local.alarm_period
      comparison  = "GreaterThanThreshold"
      threshold   = var.alarms.cursor_values_rejected
    }
    cursor_not_advanced = {
      enabled     = local.cursor_source
      description = "A ${var.source_id} run completed (its manifest says so) but writing its cursor state failed (CursorNotAdvanced): the cursor stayed where it was, so the next run fetches those records again; nothing is lost. The run's result and log name the write and its error (throttling, access denied, a changed state)."
      metric      = "CursorNotAdvanced"
      statistic   = "Sum"
      period      = local.alarm_period
      comparison  = "GreaterThanThreshold"
      threshold   = 0
    }
    # The records' fields against those complete runs have had (_state/schema.json): new or retyped.
    schema_changes = {
      enabled     = var.table.enabled && var.table.on_schema_change != "allow"
      description = "The records of ${var.source_id} have top-level fields, or JSON types of a field, that no complete run had (SchemaChanges; on_schema_change = ${var.table.on_schema_change}${var.table.on_schema_change == "quarantine" ? ": the run stopped QUARANTINED with stop_reason schema_changed and is not published until the change is accepted (python -m lake_ingest schema accept) and the run id is invoked again" : ""}). The run's log and manifest name them; an API change may need new table.columns, or a fix upstream."
      metric      = "SchemaChanges"
      statistic   = "Sum"
      period      = local.alarm_period
      comparison  = "GreaterThanThreshold"
      threshold   = 0
    }
    cursor_empty_runs = {
      enabled     = local.cursor_source
      description = "${var.alarms.cursor_empty_runs} or more ${var.source_id} runs in a row landed no records (ConsecutiveEmptyRuns): a cursor that has moved past the API's data, or a changed cursor field, looks exactly like this. Compare `python -m lake_ingest state show` with the API."
      metric      = "ConsecutiveEmptyRuns"
      statistic   = "Maximum"
      period      = local.alarm_period
      comparison  = "GreaterThanOrEqualToThreshold"
      threshold   = var.alarms.cursor_empty_runs
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "state" {
  for_each = { for name, alarm in local.state_alarms : name => alarm if alarm.enabled && !contains(var.alarms.disabled, name) }

  alarm_name          = "${local.name}-${replace(each.key, "_", "-")}"
  alarm_description   = each.value.description
  namespace           = local.metrics_namespace
  metric_name         = each.value.metric
  dimensions          = local.handler_dims
  statistic           = each.value.statistic
  period              = each.value.period
  evaluation_periods  = 1
  comparison_operator = each.value.comparison
  threshold           = each.value.threshold
  treat_missing_data  = "notBreaching"
  alarm_actions       = [local.alarm_topic_arn]
  ok_actions          = [local.alarm_topic_arn]
  tags                = local.tags
}

# With orchestration: executions that failed or timed out (AWS/States, per state machine). A backfill's
# windows run as child executions under <machine>/<label>, which Step Functions counts separately.
locals {
  machine_alarms = {
    run_failed = {
      machine     = local.run_machine_arn
      metric      = "ExecutionsFailed"
      enabled     = local.orchestrated
      description = "A ${var.source_id} run state machine execution failed: the function raised (its error is the execution's), a page was quarantined, or the run hit orchestration.max_resumes."
    }
    run_timed_out = {
      machine     = local.run_machine_arn
      metric      = "ExecutionsTimedOut"
      enabled     = local.orchestrated
      description = "A ${var.source_id} run state machine execution timed out (${local.run_timeout_seconds} s): the run did not converge; its manifest holds the resume_event."
    }
    backfill_failed = {
      machine     = local.backfill_machine_arn
      metric      = "ExecutionsFailed"
      enabled     = local.backfill_enabled
      description = "A ${var.source_id} backfill failed (more windows failed than orchestration.backfill_tolerated_failure_percent allows): `backfill status` lists them, `backfill retry` runs them again."
    }
    backfill_timed_out = {
      machine     = local.backfill_machine_arn
      metric      = "ExecutionsTimedOut"
      enabled     = local.backfill_enabled
      description = "A ${var.source_id} backfill timed out (orchestration.backfill_timeout_hours): `backfill status` shows what is done; `backfill retry` runs the rest."
    }
    backfill_windows_failed = {
      machine     = local.backfill_child_arn
      metric      = "ExecutionsFailed"
      enabled     = local.backfill_enabled
      description = "Windows of a ${var.source_id} backfill failed (child executions): `backfill status` lists them with the reason, `backfill retry` runs them again."
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "machines" {
  for_each = { for name, alarm in local.machine_alarms : name => alarm if alarm.enabled && !contains(var.alarms.disabled, name) }

  alarm_name          = "${local.name}-${replace(each.key, "_", "-")}"
  alarm_description   = each.value.description
  namespace           = "AWS/States"
  metric_name         = each.value.metric
  dimensions          = { StateMachineArn = each.value.machine }
  statistic           = "Sum"
  period              = local.alarm_period
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = [local.alarm_topic_arn]
  ok_actions          = [local.alarm_topic_arn]
  tags                = local.tags
}

# A push source: requests refused for their signature (a wrong secret, a clock, or an attack), events
# that could not be written (the buffer's dead letters), events the ingress could not queue (503 to the
# sender), optionally no event accepted for push.alarms.no_events_hours, and the API's own 5XX.
# (Of the alarms above, freshness needs a schedule and the cursor ones an API cursor: a push source gets
# neither; the rest watch its writer function as they watch a pull source's.)
locals {
  push_reject_reasons = ["bad_signature", "expired", "replayed", "unsigned"]

  push_alarms = !local.push ? {} : {
    push_dead_letters = {
      enabled     = true
      description = "Events of ${var.source_id} failed ${local.push_max_receives} writes and wait in ${local.push_dlq_name}: they were acknowledged to the sender, so only a redrive writes them. Check the function's log (S3 or KMS access, a publish failure), fix, and redrive to ${local.push_buffer_name}."
      namespace   = "AWS/SQS"
      metric      = "ApproximateNumberOfMessagesVisible"
      dimensions  = { QueueName = local.push_dlq_name }
      statistic   = "Maximum"
      period      = local.alarm_period
      evaluations = 1
      comparison  = "GreaterThanThreshold"
      threshold   = 0
      missing     = "notBreaching"
    }
    push_buffer_failed = {
      enabled     = true
      description = "The ${var.source_id} ingress could not queue events in ${local.push_buffer_name} (PushBufferFailed) and answered 503: senders retry, but some (GitHub) do not. Check the ingress log (SQS or KMS access, throttling)."
      namespace   = local.metrics_namespace
      metric      = "PushBufferFailed"
      dimensions  = local.handler_dims
      statistic   = "Sum"
      period      = local.alarm_period
      evaluations = 1
      comparison  = "GreaterThanThreshold"
      threshold   = 0
      missing     = "notBreaching"
    }
    # No data at all counts too: a sender that stopped, or a route that no longer receives.
    push_no_events = {
      enabled     = try(var.push.alarms.no_events_hours != null, false)
      description = "${var.source_id} accepted no event (PushAccepted) for ${coalesce(try(var.push.alarms.no_events_hours, null), 0)} hours: the sender may have stopped, changed its URL or its secret (see push_rejected)."
      namespace   = local.metrics_namespace
      metric      = "PushAccepted"
      dimensions  = local.handler_dims
      statistic   = "Sum"
      period      = 3600
      evaluations = coalesce(try(var.push.alarms.no_events_hours, null), 1)
      comparison  = "LessThanThreshold"
      threshold   = 1
      missing     = "breaching"
    }
    # HTTP APIs publish 5xx per ApiId (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-metrics.html).
    push_api_5xx = {
      enabled     = true
      description = "The ${var.source_id} webhook API answered 5XX (the ingress failed, timed out or could not queue): senders retry, but some (GitHub) do not. See the access log ${local.push_access_log_group} and the ingress log."
      namespace   = "AWS/ApiGateway"
      metric      = "5xx"
      dimensions  = { ApiId = try(aws_apigatewayv2_api.push[0].id, "") }
      statistic   = "Sum"
      period      = local.alarm_period
      evaluations = 1
      comparison  = "GreaterThanThreshold"
      threshold   = 0
      missing     = "notBreaching"
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "push" {
  for_each = { for name, alarm in local.push_alarms : name => alarm if alarm.enabled && !contains(var.alarms.disabled, name) }

  alarm_name          = "${local.name}-${replace(each.key, "_", "-")}"
  alarm_description   = each.value.description
  namespace           = each.value.namespace
  metric_name         = each.value.metric
  dimensions          = each.value.dimensions
  statistic           = each.value.statistic
  period              = each.value.period
  evaluation_periods  = each.value.evaluations
  datapoints_to_alarm = each.value.evaluations
  comparison_operator = each.value.comparison
  threshold           = each.value.threshold
  treat_missing_data  = each.value.missing
  alarm_actions       = [local.alarm_topic_arn]
  ok_actions          = [local.alarm_topic_arn]
  tags                = local.tags
}

# Refused signatures, summed over the reasons that point at the sender or an attacker (PushRejected with
# a Reason dimension each; malformed and oversized requests are left out: they are answered, not forged).
# SUM over an array of metrics is one time series, the sum at each time
# (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/using-metric-math.html).
resource "aws_cloudwatch_metric_alarm" "push_rejected" {
  count = local.push && !contains(var.alarms.disabled, "push_rejected") ? 1 : 0

  alarm_name          = "${local.name}-push-rejected"
  alarm_description   = "${var.source_id} refused ${var.push.alarms.rejected_per_5min} or more webhook requests in 5 minutes for their signature (PushRejected: ${join(", ", local.push_reject_reasons)}): a rotated secret not yet in the source's secret, a sender's clock, or forged requests. The ingress log names the reason of each."
  evaluation_periods  = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = var.push.alarms.rejected_per_5min
  treat_missing_data  = "notBreaching"
  alarm_actions       = [local.alarm_topic_arn]
  ok_actions          = [local.alarm_topic_arn]
  tags                = local.tags

  metric_query {
    id          = "rejected"
    label       = "PushRejected (${join(", ", local.push_reject_reasons)})"
    expression  = "SUM([${join(", ", local.push_reject_reasons)}])"
    return_data = true
  }
  dynamic "metric_query" {
    for_each = toset(local.push_reject_reasons)
    content {
      id = metric_query.value
      metric {
        namespace   = local.metrics_namespace
        metric_name = "PushRejected"
        dimensions  = merge(local.handler_dims, { Reason = metric_query.value })
        period      = 300
        stat        = "Sum"
      }
    }
  }
}
