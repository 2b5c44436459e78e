# The lake's customer-managed key (rotation on): objects, and the sources' secrets, logs, queues,
# schedules and the alarm topic.

resource "aws_kms_key" "this" {
  description             = "lake-ingest lake ${var.name}: raw objects, and the sources' secrets, logs, queues, schedules and alarm topic"
  enable_key_rotation     = true
  deletion_window_in_days = var.kms_deletion_window_days
  policy                  = data.aws_iam_policy_document.kms.json
  tags                    = local.tags
}

resource "aws_kms_alias" "this" {
  name          = "alias/${var.name}"
  target_key_id = aws_kms_key.this.key_id
}

data "aws_iam_policy_document" "kms" {
  #checkov:skip=CKV_AWS_109:Key policy: "*" is this key, and the account-root statement is what lets IAM policies (e.g. lake readers) be granted use of it; AWS's default key policy.
  #checkov:skip=CKV_AWS_111:Key policy: "*" is this key; write actions are limited to the account root and to service principals bound by conditions.
  #checkov:skip=CKV_AWS_356:Key policy: the resource "*" in a key policy means this key only.
  statement {
    # The sources' roles use the key through this delegation: each role's own IAM policy allows
    # only GenerateDataKey/Decrypt via one service and for its own resources (kms:ViaService and
    # encryption context), so no role is named here and new sources need no key-policy change.
    sid       = "AccountAdministersKeyAndDelegatesToIAM"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  # CloudWatch Logs sends the log group's ARN as the context aws:logs:arn (no ":*" suffix)
  # (https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html).
  statement {
    sid       = "CloudWatchLogsForTheSourcesLogGroupsOnly"
    actions   = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = [local.service_principal.logs]
    }
    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = local.log_group_arns
    }
  }

  # Execution logs of a source's state machine (encrypted with this key) are delivered by CloudWatch Logs'
  # delivery service, which decrypts the data key the execution role made with the context SourceArn =
  # this account's logs (https://docs.aws.amazon.com/step-functions/latest/dg/encryption-at-rest.html);
  # KMS decrypts only with the context the key was made with, so the condition holds exactly for those.
  statement {
    sid       = "LogDeliveryForStateMachineLogsOnly"
    actions   = ["kms:Decrypt"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = [local.service_principal.log_delivery]
    }
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:SourceArn"
      values   = ["arn:${local.partition}:logs:${local.region}:${local.account_id}:*"]
    }
  }

  # Alarms publishing to the encrypted topic, bound to this account's source alarms with the confused-
  # deputy keys SNS documents for service publishers (it documents no encryption context)
  # (https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services).
  statement {
    sid       = "CloudWatchAlarmsPublishToEncryptedTopic"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey*"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = [local.service_principal.cloudwatch]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = local.alarm_arns
    }
  }
}
