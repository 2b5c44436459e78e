# Customer-managed key for everything this source stores: objects, secret, logs, queue, topic, env vars.

resource "aws_kms_key" "this" {
  description             = "lake-ingest ${var.source_id}: raw objects, API secret, logs, dead-letter queue, alarm topic"
  enable_key_rotation     = true
  deletion_window_in_days = var.kms_deletion_window_days
  policy                  = data.aws_iam_policy_document.kms.json
  tags                    = local.tags
}

resource "aws_kms_alias" "this" {
  name          = "alias/${var.name_prefix}/${var.source_id}"
  target_key_id = aws_kms_key.this.key_id
}

data "aws_iam_policy_document" "kms" {
  #checkov:skip=CKV_AWS_109:Key policy: "*" is this key, and the account-root statement is what lets IAM policies (e.g. lake readers) be granted use of it; AWS's default key policy.
  #checkov:skip=CKV_AWS_111:Key policy: "*" is this key; write actions are limited to the account root and to service principals bound by conditions.
  #checkov:skip=CKV_AWS_356:Key policy: the resource "*" in a key policy means this key only.
  statement {
    sid       = "AccountAdministersKeyAndDelegatesToIAM"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  statement {
    sid       = "CloudWatchLogsForThisLogGroupOnly"
    actions   = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = [local.service_principal.logs]
    }
    condition {
      test     = "ArnEquals"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = [local.log_group_arn]
    }
  }

  statement {
    sid       = "CloudWatchAlarmsPublishToEncryptedTopic"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey*"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = [local.service_principal.cloudwatch]
    }
    condition {
      test     = "ArnEquals"
      variable = "kms:EncryptionContext:aws:sns:topicArn"
      values   = [local.topic_arn]
    }
  }

  dynamic "statement" {
    for_each = local.role_kms_grants
    content {
      sid       = "FunctionRoleVia${statement.key}"
      actions   = statement.value.actions
      resources = ["*"]
      principals {
        type        = "AWS"
        identifiers = [aws_iam_role.this.arn]
      }
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
}

locals {
  # What the function's role may do with the key: each grant only through one service, and only
  # for this source's own bucket, secret, queue and function (encryption context).
  role_kms_grants = {
    S3 = {
      actions      = ["kms:GenerateDataKey", "kms:Decrypt"]
      via_service  = local.via_service.s3
      context_key  = "aws:s3:arn"
      context_test = "StringLike"
      # With S3 Bucket Keys the context is the bucket ARN; without, the object ARN.
      context_values = [aws_s3_bucket.raw.arn, "${aws_s3_bucket.raw.arn}/${local.raw_prefix}/*"]
    }
    SecretsManager = {
      actions        = ["kms:Decrypt"]
      via_service    = local.via_service.secretsmanager
      context_key    = "SecretARN"
      context_test   = "StringLike"
      context_values = [local.secret_arn_pattern]
    }
    SQS = {
      actions        = ["kms:GenerateDataKey", "kms:Decrypt"]
      via_service    = local.via_service.sqs
      context_key    = "aws:sqs:arn"
      context_test   = "ArnEquals"
      context_values = [local.dlq_arn]
    }
    LambdaEnvironment = {
      actions        = ["kms:Decrypt"]
      via_service    = local.via_service.lambda
      context_key    = "aws:lambda:FunctionArn"
      context_test   = "ArnEquals"
      context_values = [local.function_arn]
    }
  }
}
