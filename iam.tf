# The function's execution role: exactly what the handler needs, nothing account-wide.

resource "aws_iam_role" "this" {
  name               = local.name
  description        = "lake-ingest ${var.source_id}: Lambda execution role"
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = local.tags
}

data "aws_iam_policy_document" "assume" {
  statement {
    sid     = "LambdaOfThisAccountOnly"
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = [local.service_principal.lambda]
    }
    # Confused-deputy guard. (aws:SourceArn is not documented for execution roles and breaks VPC functions.)
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role_policy" "this" {
  name   = "ingest"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.role.json
}

data "aws_iam_policy_document" "role" {
  statement {
    sid = "WriteOwnPrefixOnly"
    # AbortMultipartUpload: a failed large page is cleaned up instead of left half-written.
    actions   = ["s3:PutObject", "s3:AbortMultipartUpload"]
    resources = ["${aws_s3_bucket.raw.arn}/${local.raw_prefix}/*"]
  }

  statement {
    # Resuming a partial run reads back that run's manifest; no other object is readable.
    sid       = "ReadOwnManifestsOnly"
    actions   = ["s3:GetObject"]
    resources = ["${aws_s3_bucket.raw.arn}/${local.raw_prefix}/ingest_date=*/run_id=*/_manifest.json"]
  }

  statement {
    sid       = "ReadOwnSecretOnly"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [aws_secretsmanager_secret.api.arn]
  }

  dynamic "statement" {
    for_each = local.role_kms_grants
    content {
      sid       = "UseKeyVia${statement.key}"
      actions   = statement.value.actions
      resources = [aws_kms_key.this.arn]
      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = [statement.value.via_service]
      }
      condition {
        test     = statement.value.context_test
        variable = "kms:EncryptionContext:${statement.value.context_key}"
        values   = statement.value.context_values
      }
    }
  }

  statement {
    sid       = "DeadLetterOwnQueueOnly"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.dlq.arn]
  }

  statement {
    sid       = "LogToOwnLogGroupOnly"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.this.arn}:*"]
  }

  statement {
    # X-Ray has no resource-level permissions: "*" is the only valid resource.
    sid       = "XRayTraces"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"]
  }
}
