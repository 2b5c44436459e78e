output "function_name" {
  description = "Name of the ingestion Lambda function."
  value       = aws_lambda_function.this.function_name
}

output "function_arn" {
  description = "ARN of the ingestion Lambda function (target for schedules and event rules)."
  value       = aws_lambda_function.this.arn
}

output "role_arn" {
  description = "ARN of the function's execution role."
  value       = aws_iam_role.this.arn
}

output "role_name" {
  description = "Name of the function's execution role."
  value       = aws_iam_role.this.name
}

output "bucket_name" {
  description = "Name of the raw bucket."
  value       = local.bucket_name
}

output "bucket_arn" {
  description = "ARN of the raw bucket."
  value       = local.bucket_arn
}

output "raw_prefix" {
  description = "Key prefix under which this source writes (the role can write nowhere else)."
  value       = local.raw_prefix
}

output "kms_key_arn" {
  description = "ARN of the KMS key that encrypts the objects, secret, logs, queue and topic (grant readers kms:Decrypt only via S3, and s3:GetObject only on the data they read: never _state/)."
  value       = local.kms_key_arn
}

output "kms_key_alias" {
  description = "Alias of the KMS key."
  value       = try(module.lake[0].kms_key_alias, null)
}

output "secret_arn" {
  description = "ARN of the Secrets Manager secret the operator fills with the API credentials (JSON object)."
  value       = aws_secretsmanager_secret.api.arn
}

output "log_group_name" {
  description = "CloudWatch log group of the function."
  value       = aws_cloudwatch_log_group.this.name
}

output "sns_topic_arn" {
  description = "SNS topic the alarms publish to: subscribe the on-call channel here."
  value       = local.alarm_topic_arn
}

output "dlq_arn" {
  description = "ARN of the dead-letter queue holding failed events with their errors."
  value       = aws_sqs_queue.dlq.arn
}

output "dlq_url" {
  description = "URL of the dead-letter queue."
  value       = aws_sqs_queue.dlq.id
}

output "alarm_arns" {
  description = "ARNs of the enabled alarms by name (error_rate, throttles, duration, concurrency, dead_letters, schedule_dead_letters, async_events_dropped, quarantined_pages, freshness; refresh_token_rotations for oauth2_refresh_token, cursor_values_rejected, cursor_empty_runs and cursor_not_advanced for cursor sources; schema_changes with the records zone; with orchestration run_failed, run_timed_out, backfill_failed, backfill_timed_out, backfill_windows_failed; for a push source push_rejected, push_dead_letters, push_buffer_failed, push_api_5xx and, with push.alarms.no_events_hours, push_no_events)."
  value = merge(
    { for k, a in aws_cloudwatch_metric_alarm.simple : k => a.arn },
    { for k, a in aws_cloudwatch_metric_alarm.state : k => a.arn },
    { for a in aws_cloudwatch_metric_alarm.error_rate : "error_rate" => a.arn },
    { for a in aws_cloudwatch_metric_alarm.freshness : "freshness" => a.arn },
    { for k, a in aws_cloudwatch_metric_alarm.machines : k => a.arn },
    { for k, a in aws_cloudwatch_metric_alarm.push : k => a.arn },
    { for a in aws_cloudwatch_metric_alarm.push_rejected : "push_rejected" => a.arn },
  )
}

output "scheduler_role_arn" {
  description = "ARN of the role EventBridge Scheduler invokes the function with, or null without a schedule."
  value       = try(aws_iam_role.scheduler[0].arn, null)
}

output "schedule_dlq_arn" {
  description = "ARN of the schedule's dead-letter queue (events the scheduler could not deliver), or null without a schedule."
  value       = try(aws_sqs_queue.schedule_dlq[0].arn, null)
}

output "uses_shared_lake" {
  description = "Whether this source writes into a shared lake (var.lake) rather than its own bucket and key."
  value       = !local.own_lake
}

output "schedule_arn" {
  description = "ARN of the EventBridge Scheduler schedule, or null without schedule_expression."
  value       = try(aws_scheduler_schedule.this[0].arn, null)
}

output "schedule_group_arn" {
  description = "ARN of the source's own EventBridge Scheduler schedule group (named as the source; the scheduler role trusts this group only), or null without schedule_expression."
  value       = try(aws_scheduler_schedule_group.this[0].arn, null)
}

output "package_hash" {
  description = "Content hash of the deployed package (source_code_hash)."
  value       = local.package_hash
}

output "policies" {
  description = "Every policy the module renders (JSON), for security review and policy linters. identity: the function role's, the scheduler role's, a push source's ingress role's and (with orchestration) the state machine roles' permissions, a reader's (reader_policy_json) and a backfill operator's (backfill_operator_policy_json); trust: their trust policies; resource: the queues' (a push source's buffer and its dead-letter queue too) and the secret's policies and, with an own lake, the bucket, key and topic policies."
  value = {
    identity = merge(
      { function_role = data.aws_iam_policy_document.role.json },
      length(module.reader_policy) > 0 ? { reader = module.reader_policy[0].json } : {},
      local.scheduled ? { scheduler_role = data.aws_iam_policy_document.scheduler.json } : {},
      local.push ? { ingress_role = data.aws_iam_policy_document.ingress[0].json } : {},
      local.orchestrated ? { run_machine_role = data.aws_iam_policy_document.machine_common["run"].json } : {},
      local.backfill_enabled ? {
        backfill_machine_role = data.aws_iam_policy_document.backfill_machine[0].json
        backfill_operator     = data.aws_iam_policy_document.backfill_operator[0].json
      } : {},
    )
    trust = merge(
      { function_role = data.aws_iam_policy_document.assume.json },
      local.scheduled ? { scheduler_role = data.aws_iam_policy_document.scheduler_assume.json } : {},
      local.push ? { ingress_role = data.aws_iam_policy_document.assume.json } : {},
      { for k, doc in data.aws_iam_policy_document.machine_assume : "${k}_machine_role" => doc.json },
    )
    resource = merge(
      { for k, doc in data.aws_iam_policy_document.queue : k => doc.json },
      { secret = data.aws_iam_policy_document.secret.json },
      local.own_lake ? { for k, doc in module.lake[0].policies : k => doc if k != "reader" } : {},
    )
  }
}

output "module_version" {
  description = "lake-ingest version of this module and the handler it deploys (semantic versioning; see CHANGELOG.md)."
  value       = local.module_version
}

output "api_config" {
  description = "The API_CONFIG the function runs with (known at plan time; no secret is ever in it): the schema's top-level defaults filled in, the options you set, the method in capitals, an incremental source's timezone (schedule_timezone) and window (the schedule's rate) when unset. Review it in the plan."
  value       = local.api_config
}

output "run_state_machine_arn" {
  description = "ARN of the run state machine (orchestration on): start it with an event to carry one run to completion through its resumes; the schedule starts it. Null without orchestration."
  value       = try(aws_sfn_state_machine.run[0].arn, null)
}

output "backfill_state_machine_arn" {
  description = "ARN of the backfill state machine (orchestration on, window source): `python -m lake_ingest backfill start` runs it. Null otherwise."
  value       = try(aws_sfn_state_machine.backfill[0].arn, null)
}

output "backfill_operator_policy_json" {
  description = "The IAM policy (JSON) an operator needs to run `python -m lake_ingest backfill start|status|retry` for this source, and no more: read and write its `_backfill/` objects, list them, read its run manifests, the lake key only through S3 for its objects (and for its backfill executions' data), start the backfill state machine and follow its executions and map runs. Attach it to the operator's role (not to a role tagged as a source). Null without a backfill state machine."
  value       = try(data.aws_iam_policy_document.backfill_operator[0].json, null)
}

output "state_machine_role_arns" {
  description = "ARNs of the state machines' roles by machine (run, backfill); empty without orchestration."
  value = merge(
    { for r in aws_iam_role.run_machine : "run" => r.arn },
    { for r in aws_iam_role.backfill_machine : "backfill" => r.arn },
  )
}

output "state_machine_log_group_name" {
  description = "CloudWatch log group of the state machines' executions (orchestration on), or null."
  value       = try(aws_cloudwatch_log_group.machines[0].name, null)
}

output "source_json" {
  description = "The source file for the local runner (python -m lake_ingest run | state | backfill --config source.json), as JSON: `terraform output -raw source_json > source.json`. Holds no secret; alarm_names lists the source's alarms for `python -m lake_ingest alarms`."
  value = jsonencode(merge(
    {
      source_id        = var.source_id
      raw_bucket       = local.bucket_name
      raw_prefix       = local.raw_prefix
      secret_arn       = aws_secretsmanager_secret.api.arn
      kms_key_arn      = local.kms_key_arn
      raw_bucket_owner = local.account_id
      api_config       = local.api_config
      alarm_names = sort(concat(
        [for a in aws_cloudwatch_metric_alarm.simple : a.alarm_name],
        [for a in aws_cloudwatch_metric_alarm.state : a.alarm_name],
        [for a in aws_cloudwatch_metric_alarm.error_rate : a.alarm_name],
        [for a in aws_cloudwatch_metric_alarm.freshness : a.alarm_name],
        [for a in aws_cloudwatch_metric_alarm.machines : a.alarm_name],
        [for a in aws_cloudwatch_metric_alarm.push : a.alarm_name],
        [for a in aws_cloudwatch_metric_alarm.push_rejected : a.alarm_name],
      ))
      table = {
        enabled          = var.table.enabled
        columns          = var.table.columns
        primary_key      = local.primary_key
        on_schema_change = var.table.on_schema_change
        database         = local.glue_database
        name             = local.table_name
        published_name   = local.published_name
      }
    },
    var.allow_http_loopback ? { allow_http_loopback = true } : {},
    # A push source: its PUSH_CONFIG and where senders post (api_config is null).
    local.push ? { push = merge(local.push_config, { url = local.push_url }) } : {},
    local.orchestrated ? {
      orchestration = {
        run_state_machine_arn      = aws_sfn_state_machine.run[0].arn
        backfill_state_machine_arn = try(aws_sfn_state_machine.backfill[0].arn, null)
        backfill_max_concurrency   = local.orchestration.backfill_max_concurrency
        max_resumes                = local.max_resumes
      }
    } : {},
  ))
}

output "glue_database" {
  description = "The Glue database holding this source's tables (the lake's), or null when the lake gives none."
  value       = local.glue_database
}

output "glue_tables" {
  description = "Names of this source's Glue tables: records (<source_id with _ for ->, over <raw_prefix>/records/) and published (<name>_published, the pages of complete runs); null without tables (table.enabled false, or no Glue database)."
  value       = local.tables_enabled ? { records = aws_glue_catalog_table.this["records"].name, published = aws_glue_catalog_table.this["published"].name } : null
}

output "named_queries" {
  description = "IDs of this source's Athena named queries by name (<source_id>-complete, -runs and, with table.primary_key, -latest), in the lake's workgroup; empty without tables."
  value       = { for k, q in aws_athena_named_query.this : q.name => q.id }
}

output "reader_policy_json" {
  description = "The IAM policy (JSON) an analyst needs to query this source's records with Athena, and nothing else: the lake's reader policy (modules/lake reader_policy_json) for this source alone. Attach it to the analyst's role (not to a role tagged as a source). Null when the lake gives no Glue database or no Athena workgroup."
  value       = try(module.reader_policy[0].json, null)
}

output "push_url" {
  description = "Where a push source's sender posts its webhooks (https://<api-id>.execute-api.<region>.amazonaws.com/hooks/<source_id>); null for a pull source."
  value       = local.push_url
}

output "push_api_id" {
  description = "ID of a push source's HTTP API (its 4xx/5xx metrics and access log carry it), or null."
  value       = try(aws_apigatewayv2_api.push[0].id, null)
}

output "push_buffer_arn" {
  description = "ARN of a push source's buffer queue (accepted events waiting to be written), or null."
  value       = try(aws_sqs_queue.push[0].arn, null)
}

output "push_buffer_url" {
  description = "URL of a push source's buffer queue, or null."
  value       = try(aws_sqs_queue.push[0].url, null)
}

output "push_dlq_arn" {
  description = "ARN of a push source's dead-letter queue: accepted events the function failed to write 5 times (redrive them to the buffer once fixed), or null."
  value       = try(aws_sqs_queue.push_dlq[0].arn, null)
}

output "push_replay_table_arn" {
  description = "ARN of a push source's replay table (digests of accepted requests, expiring by TTL), or null (pull source, or push.replay_store false)."
  value       = try(aws_dynamodb_table.replay[0].arn, null)
}

output "ingress_function_name" {
  description = "Name of a push source's ingress function (verifies signatures, queues events), or null."
  value       = try(aws_lambda_function.ingress[0].function_name, null)
}

output "ingress_role_arn" {
  description = "ARN of a push source's ingress function role (tagged with the source id; denied all of S3), or null."
  value       = try(aws_iam_role.ingress[0].arn, null)
}
