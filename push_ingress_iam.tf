# The ingress function's role: read the signing secrets, claim replay keys, send to its own buffer, and
# never touch the lake. Tagged with the source id like the writer's role, so the lake's bucket policy and
# the other sources' secret policies treat it as this source.

resource "aws_iam_role" "ingress" {
  count = local.push ? 1 : 0

  name        = local.ingress_role_name
  description = "lake-ingest ${var.source_id}: webhook ingress function's execution role"
  # The same trust as the writer's: Lambda, for this account only (aws:SourceAccount).
  assume_role_policy   = data.aws_iam_policy_document.assume.json
  path                 = var.role_path
  permissions_boundary = var.role_permissions_boundary
  tags                 = local.tags
}

resource "aws_iam_role_policy" "ingress" {
  count = local.push ? 1 : 0

  name   = "ingress"
  role   = aws_iam_role.ingress[0].id
  policy = data.aws_iam_policy_document.ingress[0].json
}

data "aws_iam_policy_document" "ingress" {
  count = local.push ? 1 : 0

  statement {
    sid       = "ReadOwnSecretOnly"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [aws_secretsmanager_secret.api.arn]
  }

  statement {
    # Queued events carry no claim on the lake: only this source's buffer.
    sid       = "SendToOwnBufferOnly"
    actions   = ["sqs:SendMessage"]
    resources = [local.push_buffer_arn]
  }

  dynamic "statement" {
    # The claim is a conditional PutItem, its confirmation an UpdateItem, its release (the buffer
    # refused the event) a DeleteItem; no read: the condition decides.
    for_each = local.push_replay_store ? [1] : []
    content {
      sid       = "ClaimOwnReplayKeysOnly"
      actions   = ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"]
      resources = [local.replay_table_arn]
    }
  }

  dynamic "statement" {
    # The writer role's grants that the ingress needs, with the same conditions (iam.tf): the secret
    # through Secrets Manager for its own SecretARN, the buffer through SQS (a sender to an encrypted
    # queue needs GenerateDataKey and Decrypt), and its environment through Lambda.
    for_each = { for k, g in local.role_kms_grants : k => g if contains(["SecretsManager", "SQS", "LambdaEnvironment"], k) }
    content {
      sid       = "UseKeyVia${statement.key}"
      actions   = statement.value.actions
      resources = [local.kms_key_arn]
      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = [statement.value.via_service]
      }
      dynamic "condition" {
        for_each = statement.value.context_key == null ? [] : [statement.value]
        content {
          test     = condition.value.context_test
          variable = "kms:EncryptionContext:${condition.value.context_key}"
          values   = condition.value.context_values
        }
      }
    }
  }

  statement {
    sid       = "LogToOwnLogGroupOnly"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${local.ingress_log_arn}:*"]
  }

  statement {
    # X-Ray has no resource-level permissions: "*" is the only valid resource.
    sid       = "XRayTraces"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"]
  }

  statement {
    # Whatever is attached to this role later, the ingress never reads or writes the lake: an explicit
    # deny wins over any allow (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html).
    sid       = "DenyAllS3"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = ["*"]
  }
}
