# The function's execution role: exactly what the handler needs, nothing account-wide.

resource "aws_iam_role" "this" {
  name               = local.name
  description        = "lake-ingest ${var.source_id}: Lambda execution role"
  assume_role_policy = data.aws_iam_policy_document.assume.json
  # A shared lake's bucket policy confines every role with this tag to the tagged prefix.
  tags = merge(local.tags, { "lake-ingest:raw-prefix" = local.raw_prefix })
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
    resources = ["${local.bucket_arn}/${local.raw_prefix}/*"]
  }

  statement {
    # Resuming a partial run reads back that run's manifest; no other object is readable.
    sid       = "ReadOwnManifestsOnly"
    actions   = ["s3:GetObject"]
    resources = ["${local.bucket_arn}/${local.raw_prefix}/ingest_date=*/run_id=*/_manifest.json"]
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
      resources = [local.kms_key_arn]
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

  # VPC attachment only: Lambda creates and removes the function's network interfaces with this
  # role. Describe calls have no resource-level permissions; the rest is bound to the subnets.
  dynamic "statement" {
    for_each = var.vpc_config == null ? [] : [1]
    content {
      sid       = "DescribeNetworkForVpcAttachment"
      actions   = ["ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets"]
      resources = ["*"]
    }
  }

  dynamic "statement" {
    for_each = var.vpc_config == null ? [] : [1]
    content {
      sid     = "NetworkInterfacesInTheGivenSubnetsOnly"
      actions = ["ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses"]
      resources = concat(
        ["arn:${local.partition}:ec2:${local.region}:${local.account_id}:network-interface/*"],
        [for id in var.vpc_config.subnet_ids : "arn:${local.partition}:ec2:${local.region}:${local.account_id}:subnet/${id}"],
        [for id in var.vpc_config.security_group_ids : "arn:${local.partition}:ec2:${local.region}:${local.account_id}:security-group/${id}"],
      )
    }
  }

  statement {
    # X-Ray has no resource-level permissions: "*" is the only valid resource.
    sid       = "XRayTraces"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"]
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
      context_values = [local.bucket_arn, "${local.bucket_arn}/${local.raw_prefix}/*"]
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
      context_test   = "StringEquals"
      context_values = [local.dlq_arn]
    }
    LambdaEnvironment = {
      actions        = ["kms:Decrypt"]
      via_service    = local.via_service.lambda
      context_key    = "aws:lambda:FunctionArn"
      context_test   = "StringEquals"
      context_values = [local.function_arn]
    }
  }
}
