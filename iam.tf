# The function's execution role: exactly what the handler needs, nothing account-wide.

resource "aws_iam_role" "this" {
  name                 = local.name
  description          = "lake-ingest ${var.source_id}: Lambda execution role"
  assume_role_policy   = data.aws_iam_policy_document.assume.json
  path                 = var.role_path
  permissions_boundary = var.role_permissions_boundary
  # local.tags carries lake-ingest:source-id: the lake's bucket policy and every source's secret policy
  # key on it. The prefix tag says where the role writes (informational).
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
    # Confused-deputy guard: aws:SourceAccount, set when a service acts for a resource owner
    # (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-sourceaccount).
    # Not aws:SourceArn: Lambda documents neither for execution roles, and SourceArn breaks VPC functions.
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
    # Multipart pages: CreateMultipartUpload, UploadPart and CompleteMultipartUpload are all authorized
    # as s3:PutObject (https://docs.aws.amazon.com/AmazonS3/latest/userguide/mpuoverview.html#mpuAndPermissions);
    # AbortMultipartUpload cleans up a failed large page instead of leaving it half-written.
    actions   = ["s3:PutObject", "s3:AbortMultipartUpload"]
    resources = ["${local.bucket_arn}/${local.raw_prefix}/*"]
    # Only this account's bucket (bucket names are global): https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-resourceaccount
    condition {
      test     = "StringEquals"
      variable = "aws:ResourceAccount"
      values   = [local.account_id]
    }
  }

  statement {
    # Resuming a partial run, or answering a retried one, reads back that run's manifest; an incremental
    # source reads its cursor state (a conditional write with If-Match also needs s3:GetObject:
    # https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html), and so does an
    # oauth2_refresh_token source its refresh lease and its token state (the shared access token and the
    # write-ahead copy of a rotated refresh token; written under prefix/* above), and with the records zone
    # the fields of the last complete run (schema drift). Nothing else is readable.
    sid     = "ReadOwnManifestsAndStateOnly"
    actions = ["s3:GetObject"]
    resources = concat(
      ["${local.bucket_arn}/${local.raw_prefix}/ingest_date=*/run_id=*/_manifest.json", "${local.bucket_arn}/${local.raw_prefix}/_state/cursor.json"],
      local.rotates_refresh_token ? ["${local.bucket_arn}/${local.raw_prefix}/_state/oauth2-refresh.lock", "${local.bucket_arn}/${local.raw_prefix}/_state/oauth2-tokens.json"] : [],
      var.table.enabled ? ["${local.bucket_arn}/${local.raw_prefix}/_state/schema.json"] : [],
    )
    condition {
      test     = "StringEquals"
      variable = "aws:ResourceAccount"
      values   = [local.account_id]
    }
  }

  statement {
    # Whatever another policy attached to this role later grants (a managed s3:* or read-only policy),
    # S3 stays confined to the source's own prefix: an explicit deny wins over any allow
    # (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html).
    sid           = "DenyS3OutsideOwnPrefix"
    effect        = "Deny"
    actions       = ["s3:*"]
    not_resources = ["${local.bucket_arn}/${local.raw_prefix}/*"]
  }

  dynamic "statement" {
    # A push source's function writes what the ingress verified: it never reads the signing secrets.
    for_each = local.push ? [] : [1]
    content {
      sid       = "ReadOwnSecretOnly"
      actions   = ["secretsmanager:GetSecretValue"]
      resources = [aws_secretsmanager_secret.api.arn]
    }
  }

  dynamic "statement" {
    # oauth2_refresh_token: the provider rotates the refresh token on every use, and the handler
    # writes the new one back as a new version of this secret only (never any other secret's), under a
    # custom staging label, then moves AWSCURRENT to it with RemoveFromVersionId = the version it read,
    # which Secrets Manager refuses if AWSCURRENT has moved since: a compare-and-swap
    # (https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_UpdateSecretVersionStage.html).
    for_each = local.rotates_refresh_token ? [1] : []
    content {
      sid       = "RotateOwnRefreshTokenOnly"
      actions   = ["secretsmanager:PutSecretValue", "secretsmanager:UpdateSecretVersionStage"]
      resources = [aws_secretsmanager_secret.api.arn]
    }
  }

  dynamic "statement" {
    # A push source's function reads no secret, so no key use through Secrets Manager either.
    for_each = { for k, g in local.role_kms_grants : k => g if !(local.push && k == "SecretsManager") }
    content {
      sid       = "UseKeyVia${statement.key}"
      actions   = statement.value.actions
      resources = [local.kms_key_arn]
      # The key is usable only through the named service (https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-via-service),
      # and, where the service documents its encryption context, only for this source's own resource.
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
    # Lambda's on-failure destination sends with the execution role (https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html).
    sid       = "DeadLetterOwnQueueOnly"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.dlq.arn]
  }

  dynamic "statement" {
    # A push source's function is fed by its buffer through an event source mapping, which polls and
    # deletes with this role (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html#events-sqs-permissions);
    # the messages are decrypted with the UseKeyViaSQS grant below. It never sends to the buffer.
    for_each = local.push ? [1] : []
    content {
      sid       = "ReceiveFromOwnBufferOnly"
      actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"]
      resources = [local.push_buffer_arn]
    }
  }

  statement {
    sid       = "LogToOwnLogGroupOnly"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.this.arn}:*"]
  }

  # VPC attachment only: Lambda creates and removes the function's network interfaces with this role
  # (https://docs.aws.amazon.com/lambda/latest/dg/configuration-vpc.html#configuration-vpc-permissions).
  # Describe calls have no resource-level permissions.
  dynamic "statement" {
    for_each = var.vpc_config == null ? [] : [1]
    content {
      sid       = "DescribeNetworkForVpcAttachment"
      actions   = ["ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets"]
      resources = ["*"]
    }
  }

  # Creating an interface is authorized on the interface, the subnet and the security groups: the
  # latter two are named; interfaces only in those subnets (ec2:Subnet takes subnet ARNs:
  # https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/ExamplePolicies_EC2.html).
  dynamic "statement" {
    for_each = var.vpc_config == null ? [] : [1]
    content {
      sid     = "CreateInterfacesInTheGivenSubnetsOnly"
      actions = ["ec2:CreateNetworkInterface"]
      resources = concat(
        [for id in var.vpc_config.subnet_ids : "arn:${local.partition}:ec2:${local.region}:${local.account_id}:subnet/${id}"],
        [for id in var.vpc_config.security_group_ids : "arn:${local.partition}:ec2:${local.region}:${local.account_id}:security-group/${id}"],
      )
    }
  }

  dynamic "statement" {
    for_each = var.vpc_config == null ? [] : [1]
    content {
      sid       = "ManageInterfacesInTheGivenSubnetsOnly"
      actions   = ["ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses"]
      resources = ["arn:${local.partition}:ec2:${local.region}:${local.account_id}:network-interface/*"]
      condition {
        test     = "ArnEquals"
        variable = "ec2:Subnet"
        values   = [for id in var.vpc_config.subnet_ids : "arn:${local.partition}:ec2:${local.region}:${local.account_id}:subnet/${id}"]
      }
    }
  }

  # Lambda's documented safeguard: the function's own code may not use the network-interface permissions
  # meant for the Lambda service (https://docs.aws.amazon.com/lambda/latest/dg/configuration-vpc.html#configuration-vpc-permissions).
  dynamic "statement" {
    for_each = var.vpc_config == null ? [] : [1]
    content {
      sid       = "NoNetworkInterfacesFromFunctionCode"
      effect    = "Deny"
      actions   = ["ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets", "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses"]
      resources = ["*"]
      condition {
        test     = "ArnEquals"
        variable = "lambda:SourceFunctionArn"
        values   = [local.function_arn]
      }
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
  # What the function's role may do with the key: each grant only through one service. S3 and Secrets
  # Manager document the encryption context they send, so those grants are bound to this source's own
  # bucket and secret too. SQS and Lambda document none: their grants rest on kms:ViaService and on the
  # role's other permissions (it may send only to its own queue, and may call no Lambda API at all).
  role_kms_grants = {
    S3 = {
      # PutObject needs GenerateDataKey; multipart pages need Decrypt as well
      # (https://docs.aws.amazon.com/AmazonS3/latest/userguide/mpuoverview.html#mpuAndPermissions).
      actions      = ["kms:GenerateDataKey", "kms:Decrypt"]
      via_service  = local.via_service.s3
      context_key  = "aws:s3:arn"
      context_test = "StringLike"
      # With S3 Bucket Keys the context is the bucket ARN, without them the object ARN
      # (https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html#encryption-context).
      context_values = [local.bucket_arn, "${local.bucket_arn}/${local.raw_prefix}/*"]
    }
    SecretsManager = {
      # GetSecretValue decrypts with the context SecretARN; PutSecretValue (a rotated refresh token) needs
      # GenerateDataKey too, with the same context (https://docs.aws.amazon.com/secretsmanager/latest/userguide/security-encryption.html).
      actions        = local.rotates_refresh_token ? ["kms:Decrypt", "kms:GenerateDataKey"] : ["kms:Decrypt"]
      via_service    = local.via_service.secretsmanager
      context_key    = "SecretARN"
      context_test   = "StringEquals"
      context_values = [aws_secretsmanager_secret.api.arn]
    }
    SQS = {
      # A sender to an encrypted queue needs GenerateDataKey and Decrypt, a receiver (a push source's
      # buffer) Decrypt (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-key-management.html).
      actions        = ["kms:GenerateDataKey", "kms:Decrypt"]
      via_service    = local.via_service.sqs
      context_key    = null
      context_test   = null
      context_values = null
    }
    LambdaEnvironment = {
      # Environment variables encrypted with a customer managed key
      # (https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars-encryption.html).
      actions        = ["kms:Decrypt"]
      via_service    = local.via_service.lambda
      context_key    = null
      context_test   = null
      context_values = null
    }
  }
}
