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
  policy = data.aws_iam_policy_document.raw_bucket.json

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

data "aws_iam_policy_document" "raw_bucket" {
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

  # Requests that name an encryption must name SSE-KMS with this key; requests that name none get
  # the bucket default (this key). UploadPart carries no encryption headers, so "IfExists" is not used.
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
      test     = "StringNotEquals"
      variable = "s3:x-amz-server-side-encryption"
      values   = ["aws:kms"]
    }
  }

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
      test     = "StringNotEquals"
      variable = "s3:x-amz-server-side-encryption-aws-kms-key-id"
      values   = [aws_kms_key.this.arn]
    }
  }

  # Attribute-based confinement: a role tagged lake-ingest:raw-prefix (every source's role) can
  # touch objects only under that prefix, whatever its IAM policy says.
  statement {
    sid           = "SourcesOnlyUnderTheirOwnPrefix"
    effect        = "Deny"
    actions       = ["s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload"]
    not_resources = ["${aws_s3_bucket.raw.arn}/&{aws:PrincipalTag/${local.source_prefix_tag}}/*"]
    principals {
      type        = "AWS"
      identifiers = ["*"]
    }
    condition {
      test     = "Null"
      variable = "aws:PrincipalTag/${local.source_prefix_tag}"
      values   = ["false"]
    }
  }
}
