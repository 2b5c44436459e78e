# The state machines' roles (var.orchestration): each may invoke only this source's function, use the
# key only for its own state, logs and (backfill) its own _backfill/ objects, and nothing else.

locals {
  machine_arns = { run = local.run_machine_arn, backfill = local.backfill_machine_arn }
  # Step Functions documents the state machine's ARN as the confused-deputy aws:SourceArn
  # (https://docs.aws.amazon.com/step-functions/latest/dg/procedure-create-iam-role.html). The docs are
  # silent on whether a Distributed Map's child executions present the machine's ARN or the labelled
  # <machine>/<label>: the backfill role trusts both exact forms (ArnEquals, no wildcard), which works
  # either way without trusting anything else.
  machine_trust = {
    run      = [local.run_machine_arn]
    backfill = [local.backfill_machine_arn, local.backfill_child_arn]
  }
  # Log delivery: the CloudWatch Logs actions take no resource-level permissions ("*" is required:
  # https://docs.aws.amazon.com/step-functions/latest/dg/cw-logs.html).
  log_delivery_actions = [
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
  ]
}

data "aws_iam_policy_document" "machine_assume" {
  for_each = local.orchestrated ? { for k, v in local.machine_trust : k => v if k == "run" || local.backfill_enabled } : {}

  statement {
    sid     = "StepFunctionsForThisStateMachineOnly"
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = [local.service_principal.states]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
    # The machine (and, for the backfill, its labelled children): local.machine_trust says why both forms.
    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = each.value
    }
  }
}

resource "aws_iam_role" "run_machine" {
  count = local.orchestrated ? 1 : 0

  name                 = "${local.name}-sfn-run"
  description          = "lake-ingest ${var.source_id}: the run state machine (invokes the function until the run is complete)"
  assume_role_policy   = data.aws_iam_policy_document.machine_assume["run"].json
  path                 = var.role_path
  permissions_boundary = var.role_permissions_boundary
  tags                 = local.tags
}

resource "aws_iam_role_policy" "run_machine" {
  count = local.orchestrated ? 1 : 0

  name   = "run"
  role   = aws_iam_role.run_machine[0].id
  policy = data.aws_iam_policy_document.machine_common["run"].json
}

resource "aws_iam_role" "backfill_machine" {
  count = local.backfill_enabled ? 1 : 0

  name                 = "${local.name}-sfn-backfill"
  description          = "lake-ingest ${var.source_id}: the backfill state machine (runs the windows listed under ${local.backfill_prefix}/)"
  assume_role_policy   = data.aws_iam_policy_document.machine_assume["backfill"].json
  path                 = var.role_path
  permissions_boundary = var.role_permissions_boundary
  # Tagged as the source: the lake's bucket policy confines it to the source's prefix too.
  tags = local.tags
}

resource "aws_iam_role_policy" "backfill_machine" {
  count = local.backfill_enabled ? 1 : 0

  name   = "backfill"
  role   = aws_iam_role.backfill_machine[0].id
  policy = data.aws_iam_policy_document.backfill_machine[0].json
}

# What both machines need: invoke this function, their own state's key, logs and traces.
data "aws_iam_policy_document" "machine_common" {
  for_each = local.orchestrated ? { for k, v in local.machine_arns : k => v if k == "run" || local.backfill_enabled } : {}

  statement {
    # Both forms: Lambda matches an unqualified ARN only against the unqualified one
    # (https://docs.aws.amazon.com/lambda/latest/dg/lambda-api-permissions-ref.html).
    sid       = "InvokeThisFunctionOnly"
    actions   = ["lambda:InvokeFunction"]
    resources = [local.function_arn, "${local.function_arn}:*"]
  }

  statement {
    # The execution's state is encrypted with the lake key in the context aws:states:stateMachineArn; no
    # kms:ViaService, which AWS warns can stop executions (https://docs.aws.amazon.com/step-functions/latest/dg/encryption-at-rest.html).
    # The "/*" form: a Distributed Map's children run as <machine>/<label> (the SAR's labelled ARNs).
    sid       = "UseKeyForOwnExecutionStateOnly"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = [local.kms_key_arn]
    condition {
      test     = "StringLike"
      variable = "kms:EncryptionContext:aws:states:stateMachineArn"
      values   = [each.value, "${each.value}/*"]
    }
  }

  statement {
    # Encrypted execution logs: the data key is made for this account's logs
    # (https://docs.aws.amazon.com/step-functions/latest/dg/encryption-at-rest.html).
    sid       = "UseKeyForOwnAccountLogDeliveryOnly"
    actions   = ["kms:GenerateDataKey"]
    resources = [local.kms_key_arn]
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:SourceArn"
      values   = ["arn:${local.partition}:logs:${local.region}:${local.account_id}:*"]
    }
  }

  statement {
    sid       = "DeliverExecutionLogs"
    actions   = local.log_delivery_actions
    resources = ["*"]
  }

  statement {
    # X-Ray has no resource-level permissions (https://docs.aws.amazon.com/step-functions/latest/dg/concepts-xray-tracing.html#xray-iam).
    sid       = "XRayTraces"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets"]
    resources = ["*"]
  }
}

data "aws_iam_policy_document" "backfill_machine" {
  count = local.backfill_enabled ? 1 : 0

  source_policy_documents = [data.aws_iam_policy_document.machine_common["backfill"].json]

  statement {
    # The Distributed Map starts its children as executions of this machine, and follows them
    # (https://docs.aws.amazon.com/step-functions/latest/dg/iam-policies-eg-dist-map.html).
    sid       = "RunOwnMapChildrenOnly"
    actions   = ["states:StartExecution"]
    resources = [local.backfill_machine_arn]
  }

  statement {
    # Its own executions and their children (execution:<machine>/<label>:<id>, per the SAR's ARN formats).
    sid     = "FollowOwnExecutionsOnly"
    actions = ["states:DescribeExecution", "states:StopExecution"]
    resources = [
      "arn:${local.partition}:states:${local.region}:${local.account_id}:execution:${local.backfill_machine_name}:*",
      "arn:${local.partition}:states:${local.region}:${local.account_id}:execution:${local.backfill_machine_name}/${local.backfill_map_label}:*",
    ]
  }

  statement {
    # ItemReader reads the item list; ResultWriter reads back what it writes.
    sid       = "ReadOwnBackfillsOnly"
    actions   = ["s3:GetObject"]
    resources = ["${local.bucket_arn}/${local.backfill_prefix}/*"]
    condition {
      test     = "StringEquals"
      variable = "aws:ResourceAccount"
      values   = [local.account_id]
    }
  }

  statement {
    # ResultWriter writes with multipart uploads (https://docs.aws.amazon.com/step-functions/latest/dg/iam-policies-eg-dist-map.html),
    # and sends no SSE headers: the bucket's default encryption (the lake key) applies.
    sid       = "WriteOwnBackfillResultsOnly"
    actions   = ["s3:PutObject", "s3:ListMultipartUploadParts", "s3:AbortMultipartUpload"]
    resources = ["${local.bucket_arn}/${local.backfill_prefix}/*/results/*"]
    condition {
      test     = "StringEquals"
      variable = "aws:ResourceAccount"
      values   = [local.account_id]
    }
  }

  statement {
    # Reading an SSE-KMS object needs Decrypt; multipart writes need Encrypt, GenerateDataKey and Decrypt
    # (Distributed Map ResultWriter, same page). Via S3 only, for this bucket (Bucket Keys: the context is
    # the bucket) or this source's backfill objects.
    sid       = "UseKeyViaS3ForOwnBackfillsOnly"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt", "kms:Encrypt"]
    resources = [local.kms_key_arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = [local.via_service.s3]
    }
    condition {
      test     = "StringLike"
      variable = "kms:EncryptionContext:aws:s3:arn"
      values   = [local.bucket_arn, "${local.bucket_arn}/${local.backfill_prefix}/*"]
    }
  }

  statement {
    # Whatever another policy attached to this role grants, S3 stays inside the source's backfills.
    sid           = "DenyS3OutsideOwnBackfills"
    effect        = "Deny"
    actions       = ["s3:*"]
    not_resources = ["${local.bucket_arn}/${local.backfill_prefix}/*"]
  }
}

# What an operator running `python -m lake_ingest backfill start|status|retry` needs, and nothing more:
# attach output.backfill_operator_policy_json to the operator's role (never to a source's roles).
data "aws_iam_policy_document" "backfill_operator" {
  count = local.backfill_enabled ? 1 : 0

  statement {
    # The plan, the item lists and the ResultWriter's files, all under the source's _backfill/; only a
    # bucket of this account (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-resourceaccount).
    sid       = "WriteAndReadOwnBackfillsOnly"
    actions   = ["s3:PutObject", "s3:GetObject"]
    resources = ["${local.bucket_arn}/${local.backfill_prefix}/*"]
    condition {
      test     = "StringEquals"
      variable = "aws:ResourceAccount"
      values   = [local.account_id]
    }
  }

  statement {
    # `status` reads each window's run manifest (is it complete, with how many records); no page.
    sid       = "ReadOwnRunManifestsOnly"
    actions   = ["s3:GetObject"]
    resources = ["${local.bucket_arn}/${local.raw_prefix}/ingest_date=*/run_id=*/_manifest.json"]
    condition {
      test     = "StringEquals"
      variable = "aws:ResourceAccount"
      values   = [local.account_id]
    }
  }

  statement {
    # Listing is authorized on the bucket; s3:prefix confines it to the source's _backfill/ (the item
    # lists and results) (https://docs.aws.amazon.com/AmazonS3/latest/userguide/amazon-s3-policy-keys.html).
    sid       = "ListOwnBackfillsOnly"
    actions   = ["s3:ListBucket"]
    resources = [local.bucket_arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${local.backfill_prefix}/*"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:ResourceAccount"
      values   = [local.account_id]
    }
  }

  statement {
    # SSE-KMS objects: only through S3, for this bucket (Bucket Keys: the bucket ARN) or this source's
    # objects (https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html#encryption-context).
    sid       = "UseKeyViaS3ForOwnPrefixOnly"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = [local.kms_key_arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = [local.via_service.s3]
    }
    condition {
      test     = "StringLike"
      variable = "kms:EncryptionContext:aws:s3:arn"
      values   = [local.bucket_arn, "${local.bucket_arn}/${local.raw_prefix}/*"]
    }
  }

  statement {
    # Starting needs no key permission even on an encrypted machine (Step Functions calls KMS for the
    # caller: https://docs.aws.amazon.com/step-functions/latest/dg/encryption-at-rest.html).
    sid       = "StartThisBackfillMachineOnly"
    actions   = ["states:StartExecution"]
    resources = [local.backfill_machine_arn]
  }

  statement {
    # Executions and map runs take their own ARN forms (https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsstepfunctions.html):
    # ListMapRuns is authorized on the execution, DescribeMapRun on the map run.
    sid       = "FollowOwnBackfillExecutionsOnly"
    actions   = ["states:DescribeExecution", "states:ListMapRuns"]
    resources = ["arn:${local.partition}:states:${local.region}:${local.account_id}:execution:${local.backfill_machine_name}:*"]
  }

  statement {
    # DescribeExecution returns the execution's data, encrypted with the lake key: the caller needs
    # Decrypt, here for this machine's executions only (https://docs.aws.amazon.com/step-functions/latest/apireference/API_DescribeExecution.html).
    sid       = "DecryptOwnBackfillExecutionsOnly"
    actions   = ["kms:Decrypt"]
    resources = [local.kms_key_arn]
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:aws:states:stateMachineArn"
      values   = [local.backfill_machine_arn]
    }
  }

  statement {
    sid       = "DescribeOwnMapRunsOnly"
    actions   = ["states:DescribeMapRun"]
    resources = ["arn:${local.partition}:states:${local.region}:${local.account_id}:mapRun:${local.backfill_machine_name}/*"]
  }
}
