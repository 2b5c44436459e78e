# The raw bucket: versioned, SSE-KMS with bucket keys, private, TLS-only, owner-enforced; each
# source confined to its own prefix; optional access logging and object lock.

resource "aws_s3_bucket" "raw" {
  #checkov:skip=CKV_AWS_18:Access logging needs a log bucket the platform team owns: opt-in through var.access_logging (aws_s3_bucket_logging below).
  #checkov:skip=CKV2_AWS_62:Event notifications are a consumer's choice (the manifest object is the completion signal); nothing to notify by default.
  #checkov:skip=CKV_AWS_144:Cross-region replication is a disaster-recovery decision with a second-region bucket and key; not something a per-source module can create for you.
  bucket_prefix       = substr("${var.name}-raw-", 0, 37)
  force_destroy       = var.bucket_force_destroy
  object_lock_enabled = var.object_lock != null
  tags                = local.tags
}

resource "aws_s3_bucket_versioning" "raw" {
  bucket = aws_s3_bucket.raw.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "raw" {
  bucket = aws_s3_bucket.raw.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.this.arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_public_access_block" "raw" {
  bucket                  = aws_s3_bucket.raw.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "raw" {
  bucket = aws_s3_bucket.raw.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "raw" {
  bucket = aws_s3_bucket.raw.id

  rule {
    id     = "abort-incomplete-multipart-uploads"
    status = "Enabled"
    filter {}
    abort_incomplete_multipart_upload {
      days_after_initiation = var.abort_incomplete_multipart_days
    }
  }

  rule {
    id     = "expire-noncurrent-versions"
    status = "Enabled"
    filter {}
    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_expiration_days
    }
  }

  depends_on = [aws_s3_bucket_versioning.raw]
}

resource "aws_s3_bucket_policy" "raw" {
  bucket = aws_s3_bucket.raw.id
  # Minified: S3 limits a bucket policy to 20 KB, and each registered source adds a statement.
  policy = data.aws_iam_policy_document.raw_bucket.minified_json

  lifecycle {
    precondition {
      condition     = length(data.aws_iam_policy_document.raw_bucket.minified_json) <= 20480
      error_message = "The bucket policy for ${length(var.sources)} sources is ${length(data.aws_iam_policy_document.raw_bucket.minified_json)} bytes, over S3's 20 KB limit: split the sources across two lakes (modules/lake), or shorten their prefixes."
    }
  }

  depends_on = [aws_s3_bucket_public_access_block.raw]
}

resource "aws_s3_bucket_logging" "raw" {
  count = var.access_logging == null ? 0 : 1

  bucket        = aws_s3_bucket.raw.id
  target_bucket = var.access_logging.bucket
  target_prefix = var.access_logging.prefix
}

resource "aws_s3_bucket_object_lock_configuration" "raw" {
  count = var.object_lock == null ? 0 : 1

  bucket = aws_s3_bucket.raw.id
  rule {
    default_retention {
      mode = var.object_lock.mode
      days = var.object_lock.days
    }
  }

  depends_on = [aws_s3_bucket_versioning.raw]
}

locals {
  # Per-source statement ids: "-" becomes "X" (source ids are lowercase, so the mapping is one-to-one).
  source_sids = { for id in keys(var.sources) : id => "OnlyOwnPrefix${replace(id, "-", "X")}" }
}

data "aws_iam_policy_document" "raw_bucket" {
  # https://docs.aws.amazon.com/AmazonS3/latest/userguide/security-best-practices.html (aws:SecureTransport)
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.raw.arn, "${aws_s3_bucket.raw.arn}/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }

  # A request that names an encryption must name SSE-KMS; one that names none gets the bucket default
  # (this key). The Null test is what keeps UploadPart/CompleteMultipartUpload working: they are
  # authorized as s3:PutObject but carry no SSE headers, and a negated operator is true for an absent
  # key (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html).
  statement {
    sid       = "DenyPutsWithOtherEncryption"
    effect    = "Deny"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.raw.arn}/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Null"
      variable = "s3:x-amz-server-side-encryption"
      values   = ["false"]
    }
    condition {
      test     = "StringNotEquals"
      variable = "s3:x-amz-server-side-encryption"
      values   = ["aws:kms"]
    }
  }

  # Same presence test for the key header (https://docs.aws.amazon.com/AmazonS3/latest/userguide/specifying-kms-encryption.html).
  statement {
    sid       = "DenyPutsWithOtherKey"
    effect    = "Deny"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.raw.arn}/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Null"
      variable = "s3:x-amz-server-side-encryption-aws-kms-key-id"
      values   = ["false"]
    }
    condition {
      test     = "StringNotEquals"
      variable = "s3:x-amz-server-side-encryption-aws-kms-key-id"
      values   = [aws_kms_key.this.arn]
    }
  }

  # aws:kms without a key id is not refused by the two above (no key header to compare), yet S3 then
  # encrypts with the AWS managed key aws/s3, not this lake's key: deny the SSE header without the key
  # header. Both absent (UploadPart, CompleteMultipartUpload, Step Functions' ResultWriter) still pass
  # and get the bucket default (https://docs.aws.amazon.com/AmazonS3/latest/userguide/specifying-kms-encryption.html).
  statement {
    sid       = "DenyKmsPutsWithoutKeyId"
    effect    = "Deny"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.raw.arn}/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Null"
      variable = "s3:x-amz-server-side-encryption"
      values   = ["false"]
    }
    condition {
      test     = "Null"
      variable = "s3:x-amz-server-side-encryption-aws-kms-key-id"
      values   = ["true"]
    }
  }

  # Each registered source's role (tagged lake-ingest:source-id) touches nothing in this bucket outside
  # its own prefix, whatever other policies grant it: listing, versions, deletes and tagging included.
  # Static NotResource per source: IAM documents policy variables only in Resource and Condition
  # (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html#policy-vars-wheretouse).
  dynamic "statement" {
    for_each = var.sources
    content {
      sid           = local.source_sids[statement.key]
      effect        = "Deny"
      actions       = ["s3:*"]
      not_resources = ["${aws_s3_bucket.raw.arn}/${statement.value}/*"]
      principals {
        type        = "AWS"
        identifiers = ["*"]
      }
      condition {
        test     = "StringEquals"
        variable = "aws:PrincipalTag/${local.source_id_tag}"
        values   = [statement.key]
      }
    }
  }

  # A source's token state holds its live OAuth2 tokens (the shared access token, the write-ahead copy of
  # a rotated refresh token): no principal without a source tag reads it, whatever its IAM policy grants
  # (a lake reader, an administrator); the tagged source roles are confined to their own prefix above.
  # An explicit deny wins over any allow (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html).
  statement {
    sid       = "TokenStateOnlyForItsSource"
    effect    = "Deny"
    actions   = ["s3:GetObject", "s3:GetObjectVersion"]
    resources = ["${aws_s3_bucket.raw.arn}/*/_state/oauth2-tokens.json"]
    principals {
      type        = "AWS"
      identifiers = ["*"]
    }
    condition {
      test     = "Null"
      variable = "aws:PrincipalTag/${local.source_id_tag}"
      values   = ["true"]
    }
  }

  # A role tagged as a lake-ingest source that this lake does not know (another lake's source, or one
  # not registered in var.sources) gets nothing here. Null with "false": the tag is present.
  statement {
    sid       = "UnregisteredSourcesNoAccess"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.raw.arn, "${aws_s3_bucket.raw.arn}/*"]
    principals {
      type        = "AWS"
      identifiers = ["*"]
    }
    condition {
      test     = "Null"
      variable = "aws:PrincipalTag/${local.source_id_tag}"
      values   = ["false"]
    }
    dynamic "condition" {
      for_each = length(var.sources) > 0 ? [1] : []
      content {
        test     = "StringNotEquals"
        variable = "aws:PrincipalTag/${local.source_id_tag}"
        values   = sort(keys(var.sources))
      }
    }
  }
}
