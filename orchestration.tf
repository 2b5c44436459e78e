# Optional orchestration on AWS Step Functions (var.orchestration): a run state machine that carries one
# run to completion through the function's resume events, and, for a window source, a backfill state
# machine that runs many windows (a Distributed Map over an item list in the lake) through the same loop.

locals {
  orchestrated     = var.orchestration != null
  backfill_enabled = local.orchestrated && try(local.api_config.incremental.type == "window", false)
  orchestration    = local.orchestrated ? var.orchestration : null

  run_machine_name      = "${local.name}-run"
  backfill_machine_name = "${local.name}-backfill"
  run_machine_arn       = "arn:${local.partition}:states:${local.region}:${local.account_id}:stateMachine:${local.run_machine_name}"
  backfill_machine_arn  = "arn:${local.partition}:states:${local.region}:${local.account_id}:stateMachine:${local.backfill_machine_name}"
  # The Distributed Map's label: its child executions are <machine>/<label>:<id>.
  backfill_map_label      = "windows"
  backfill_child_arn      = "${local.backfill_machine_arn}/${local.backfill_map_label}"
  machines_log_group_name = "/aws/vendedlogs/states/${local.name}"
  backfill_prefix         = "${local.raw_prefix}/_backfill"
  max_resumes             = try(local.orchestration.max_resumes, 0)
  run_timeout_seconds = try(
    ceil(local.orchestration.execution_timeout_hours * 3600),
    (local.max_resumes + 1) * (var.timeout_seconds + 60 + local.orchestration.resume_wait_seconds),
    0,
  )

  # One run to completion: invoke; while the result is PARTIAL_SUCCESS with a resume_event, pause and
  # invoke again with it. A handler error (the function raised) fails the execution with that error.
  run_loop = !local.orchestrated ? null : {
    StartAt = "Start"
    States = {
      Start = {
        Type       = "Pass"
        Parameters = { "event.$" = "$", resumes = 0 }
        Next       = "Invoke"
      }
      Invoke = {
        Type     = "Task"
        Resource = "arn:${local.partition}:states:::lambda:invoke"
        Parameters = {
          FunctionName = local.function_arn
          "Payload.$"  = "$.event"
        }
        # The result lists at most 100 object keys (the manifest lists them all): far below 256 KiB.
        ResultSelector = { "result.$" = "$.Payload" }
        ResultPath     = "$.last"
        TimeoutSeconds = var.timeout_seconds + 60
        # AWS's recommended retrier for Lambda service errors, and throttles (the reserved concurrency).
        Retry = [
          {
            ErrorEquals     = ["Lambda.ClientExecutionTimeoutException", "Lambda.ServiceException", "Lambda.AWSLambdaException", "Lambda.SdkClientException", "Lambda.TooManyRequestsException"]
            IntervalSeconds = 2
            MaxAttempts     = 6
            BackoffRate     = 2
          },
          {
            # The function raised StateLocked or RefreshLocked: another run (or another copy of this one,
            # after a retried Lambda call) holds the state and fetched nothing here; wait for it to finish.
            ErrorEquals     = ["StateLocked", "RefreshLocked"]
            IntervalSeconds = 30
            MaxAttempts     = 5
            BackoffRate     = 2
          },
        ]
        Next = "Outcome"
      }
      Outcome = {
        Type = "Choice"
        Choices = [
          { Variable = "$.last.result.status", StringEquals = "SUCCESS", Next = "Done" },
          {
            And = [
              { Variable = "$.last.result.status", StringEquals = "PARTIAL_SUCCESS" },
              { Variable = "$.last.result.resume_event", IsPresent = true },
              { Variable = "$.resumes", NumericLessThan = local.max_resumes },
            ]
            Next = "Pause"
          },
          {
            And = [
              { Variable = "$.last.result.status", StringEquals = "PARTIAL_SUCCESS" },
              { Variable = "$.last.result.resume_event", IsPresent = true },
            ]
            Next = "ResumeLimitReached"
          },
          { Variable = "$.last.result.status", StringEquals = "PARTIAL_SUCCESS", Next = "NotResumable" },
        ]
        Default = "Quarantined"
      }
      Pause = {
        Type    = "Wait"
        Seconds = try(local.orchestration.resume_wait_seconds, 1)
        Next    = "Resume"
      }
      Resume = {
        Type = "Pass"
        Parameters = {
          "event.$"   = "$.last.result.resume_event"
          "resumes.$" = "States.MathAdd($.resumes, 1)"
        }
        Next = "Invoke"
      }
      Done = { Type = "Succeed", OutputPath = "$.last.result" }
      Quarantined = {
        Type      = "Fail"
        Error     = "LakeIngest.Quarantined"
        CausePath = "States.Format('run {} stopped with status {} ({}): its pages up to the bad one are kept; see its manifest {} and _quarantine/', $.last.result.run_id, $.last.result.status, $.last.result.stop_reason, $.last.result.manifest)"
      }
      ResumeLimitReached = {
        Type      = "Fail"
        Error     = "LakeIngest.ResumeLimitReached"
        CausePath = "States.Format('run {} was resumed ${local.max_resumes} times (orchestration.max_resumes) and still has pages; its manifest {} holds its resume_event: start this state machine with it to go on, or raise max_pages or the timeout', $.last.result.run_id, $.last.result.manifest)"
      }
      NotResumable = {
        Type      = "Fail"
        Error     = "LakeIngest.NotResumable"
        CausePath = "States.Format('run {} stopped early ({}) without a way to resume it: see its manifest {}', $.last.result.run_id, $.last.result.stop_reason, $.last.result.manifest)"
      }
    }
  }

  # A backfill: the windows listed in the lake, each run through the loop above, at most
  # max_concurrency at a time (capped by the module's limit), results written beside the item list.
  backfill_definition = !local.backfill_enabled ? null : {
    Comment        = "lake-ingest ${var.source_id}: backfill windows (python -m lake_ingest backfill start)"
    TimeoutSeconds = ceil(local.orchestration.backfill_timeout_hours * 3600)
    StartAt        = "Limits"
    States = {
      Limits = {
        Type = "Pass"
        Parameters = {
          "backfill_id.$"           = "$.backfill_id"
          "items_key.$"             = "$.items_key"
          "max_concurrency.$"       = "$.max_concurrency"
          tolerated_failure_percent = local.orchestration.backfill_tolerated_failure_percent
        }
        Next = "WithinLimits"
      }
      WithinLimits = {
        Type = "Choice"
        Choices = [{
          Or = [
            { Variable = "$.max_concurrency", NumericGreaterThan = local.orchestration.backfill_max_concurrency },
            { Variable = "$.max_concurrency", NumericLessThan = 1 },
          ]
          Next = "ConcurrencyOutOfRange"
        }]
        Default = "Windows"
      }
      ConcurrencyOutOfRange = {
        Type  = "Fail"
        Error = "LakeIngest.ConcurrencyOutOfRange"
        Cause = "max_concurrency must be from 1 to ${local.orchestration.backfill_max_concurrency} (orchestration.backfill_max_concurrency, the API's limit)"
      }
      Windows = {
        Type  = "Map"
        Label = local.backfill_map_label
        ItemReader = {
          Resource     = "arn:${local.partition}:states:::s3:getObject"
          ReaderConfig = { InputType = "JSON" }
          Parameters   = { Bucket = local.bucket_name, "Key.$" = "$.items_key" }
        }
        # Each child gets exactly its window and the execution's backfill id, whatever else an item
        # list in the lake carries (a forged run_id, force or query_params never reach the function)
        # (https://docs.aws.amazon.com/step-functions/latest/dg/input-output-itemselector.html).
        ItemSelector = {
          "backfill_id.$" = "$$.Execution.Input.backfill_id"
          window = {
            "start.$" = "$$.Map.Item.Value.window.start"
            "end.$"   = "$$.Map.Item.Value.window.end"
          }
        }
        ItemProcessor = merge(
          { ProcessorConfig = { Mode = "DISTRIBUTED", ExecutionType = "STANDARD" } },
          local.run_loop,
        )
        MaxConcurrencyPath             = "$.max_concurrency"
        ToleratedFailurePercentagePath = "$.tolerated_failure_percent"
        ResultWriter = {
          Resource = "arn:${local.partition}:states:::s3:putObject"
          # The execution's input, not the Map's: the prefix the CLI chose under _backfill/<id>/.
          Parameters = { Bucket = local.bucket_name, "Prefix.$" = "$$.Execution.Input.results_prefix" }
        }
        End = true
      }
    }
  }
}

resource "aws_sfn_state_machine" "run" {
  count = local.orchestrated ? 1 : 0

  name     = local.run_machine_name
  type     = "STANDARD"
  role_arn = aws_iam_role.run_machine[0].arn
  definition = jsonencode(merge(
    { Comment = "lake-ingest ${var.source_id}: one run to completion through its resume events", TimeoutSeconds = local.run_timeout_seconds },
    local.run_loop,
  ))

  logging_configuration {
    log_destination        = "${aws_cloudwatch_log_group.machines[0].arn}:*"
    include_execution_data = local.orchestration.include_execution_data
    level                  = local.orchestration.log_level
  }

  tracing_configuration {
    enabled = true
  }

  encryption_configuration {
    type                              = "CUSTOMER_MANAGED_KMS_KEY"
    kms_key_id                        = local.kms_key_arn
    kms_data_key_reuse_period_seconds = 300
  }

  tags = local.tags

  lifecycle {
    precondition {
      condition     = local.run_timeout_seconds >= var.timeout_seconds + 60
      error_message = "orchestration.execution_timeout_hours (${coalesce(try(local.orchestration.execution_timeout_hours, null), "null")}) must leave room for at least one invocation: ${var.timeout_seconds + 60} s (timeout_seconds + 60)."
    }
  }

  depends_on = [aws_iam_role_policy.run_machine]
}

resource "aws_sfn_state_machine" "backfill" {
  count = local.backfill_enabled ? 1 : 0

  name       = local.backfill_machine_name
  type       = "STANDARD"
  role_arn   = aws_iam_role.backfill_machine[0].arn
  definition = jsonencode(local.backfill_definition)

  logging_configuration {
    log_destination        = "${aws_cloudwatch_log_group.machines[0].arn}:*"
    include_execution_data = local.orchestration.include_execution_data
    level                  = local.orchestration.log_level
  }

  tracing_configuration {
    enabled = true
  }

  encryption_configuration {
    type                              = "CUSTOMER_MANAGED_KMS_KEY"
    kms_key_id                        = local.kms_key_arn
    kms_data_key_reuse_period_seconds = 300
  }

  tags = local.tags

  lifecycle {
    precondition {
      condition     = local.orchestration.backfill_max_concurrency <= var.reserved_concurrency
      error_message = "orchestration.backfill_max_concurrency (${local.orchestration.backfill_max_concurrency}) exceeds reserved_concurrency (${var.reserved_concurrency}): the extra windows would only be throttled. Raise reserved_concurrency or lower backfill_max_concurrency (keep both within the API's rate limit)."
    }
  }

  depends_on = [aws_iam_role_policy.backfill_machine]
}

resource "aws_cloudwatch_log_group" "machines" {
  count = local.orchestrated ? 1 : 0

  # /aws/vendedlogs/: AWS's advice for Step Functions, to keep CloudWatch Logs' resource policy small
  # (https://docs.aws.amazon.com/step-functions/latest/dg/cw-logs.html).
  name              = local.machines_log_group_name
  retention_in_days = var.log_retention_days
  kms_key_id        = local.kms_key_arn
  tags              = local.tags
}
