# What an analyst needs to query the records of some sources of a lake with Athena, and no more: run
# queries in the lake's workgroup, read those sources' Glue tables, read their records and published
# lists, write and read query results, and use the lake key only through S3 for exactly those objects.
# Not the raw pages or manifests, not _state/ or _backfill/, not another source's prefix or tables,
# not the key directly. Used by modules/lake (reader_policy_json, for var.reader_sources) and by the
# root module (reader_policy_json, for its one source), so both render the same rules.

locals {
  bucket_arn   = "arn:${var.partition}:s3:::${var.bucket_name}"
  glue_arn     = "arn:${var.partition}:glue:${var.region}:${var.account_id}"
  source_ids   = sort(keys(var.sources))
  table_names  = flatten([for id in local.source_ids : [replace(id, "-", "_"), "${replace(id, "-", "_")}_published"]])
  zones        = ["records", "published"]
  data_objects = flatten([for id in local.source_ids : [for z in local.zones : "${local.bucket_arn}/${var.sources[id]}/${z}/*"]])
  # The folder itself ("<prefix>/records/") and anything below it: a table's LOCATION, a partition's.
  data_listings    = flatten([for id in local.source_ids : [for z in local.zones : ["${var.sources[id]}/${z}/", "${var.sources[id]}/${z}/*"]]])
  results          = var.athena_results_prefix
  results_objects  = local.results == null ? [] : ["${local.bucket_arn}/${local.results}/*"]
  results_listings = local.results == null ? [] : ["${local.results}/", "${local.results}/*"]
  workgroup_arn    = var.athena_workgroup == null ? null : "arn:${var.partition}:athena:${var.region}:${var.account_id}:workgroup/${var.athena_workgroup}"
  # kms:ViaService takes "<service>.<region>.amazonaws.com" in every partition, aws-cn included
  # (https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-via-service).
  via_s3 = "s3.${var.region}.amazonaws.com"

  this_account = { test = "StringEquals", variable = "aws:ResourceAccount", values = [var.account_id] }

  # Each statement: sid, actions, resources, conditions ({test, variable, values}). Rendered below, and
  # output as `statements` so that plan-time tests can read them (a mock provider renders no JSON).
  statements = concat(
    var.athena_workgroup == null ? [] : [{
      # Query execution and the named queries are authorized on the workgroup
      # (https://docs.aws.amazon.com/athena/latest/ug/example-policies-workgroup.html).
      sid = "RunQueriesInTheLakeWorkgroupOnly"
      actions = [
        "athena:StartQueryExecution", "athena:GetQueryExecution", "athena:GetQueryResults", "athena:StopQueryExecution",
        "athena:GetWorkGroup", "athena:ListNamedQueries", "athena:GetNamedQuery", "athena:BatchGetNamedQuery",
      ]
      resources  = [local.workgroup_arn]
      conditions = []
    }],
    [{
      # A table action needs the table, its database and the catalog; GetTables returns only the tables
      # the caller may get (https://docs.aws.amazon.com/glue/latest/dg/glue-specifying-resource-arns.html,
      # https://docs.aws.amazon.com/glue/latest/dg/security_iam_id-based-policy-examples.html#security_iam_id-based-policy-examples-filter-tables).
      sid        = "ReadTheChosenSourcesTablesOnly"
      actions    = ["glue:GetDatabase", "glue:GetTable", "glue:GetTables", "glue:GetPartitions"]
      resources  = concat(["${local.glue_arn}:catalog", "${local.glue_arn}:database/${var.glue_database}"], [for t in local.table_names : "${local.glue_arn}:table/${var.glue_database}/${t}"])
      conditions = []
    }],
    length(local.data_objects) == 0 ? [] : [{
      # Athena reads with the caller's own S3 permissions (https://docs.aws.amazon.com/athena/latest/ug/s3-permissions.html):
      # the records zone and the published lists, nothing else of a source's prefix; only this account's bucket
      # (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-resourceaccount).
      sid        = "ReadTheChosenSourcesRecordsOnly"
      actions    = ["s3:GetObject"]
      resources  = local.data_objects
      conditions = [local.this_account]
    }],
    length(concat(local.data_listings, local.results_listings)) == 0 ? [] : [{
      # Listing is authorized on the bucket; s3:prefix confines it to the tables' locations and the results
      # (https://docs.aws.amazon.com/AmazonS3/latest/userguide/amazon-s3-policy-keys.html).
      sid        = "ListTheChosenRecordsAndResultsOnly"
      actions    = ["s3:ListBucket"]
      resources  = [local.bucket_arn]
      conditions = [{ test = "StringLike", variable = "s3:prefix", values = concat(local.data_listings, local.results_listings) }, local.this_account]
    }],
    local.results == null ? [] : [{
      # The workgroup writes each query's results as the caller, multipart for large ones, and the caller reads
      # them back: AmazonAthenaFullAccess's results-bucket actions (https://docs.aws.amazon.com/athena/latest/ug/managed-policies.html).
      sid        = "WriteAndReadQueryResultsOnly"
      actions    = ["s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"]
      resources  = local.results_objects
      conditions = [local.this_account]
    }],
    [{
      # Athena looks up the results bucket's region; also in AmazonAthenaFullAccess (https://docs.aws.amazon.com/athena/latest/ug/managed-policies.html).
      sid        = "LocateTheLakeBucket"
      actions    = ["s3:GetBucketLocation"]
      resources  = [local.bucket_arn]
      conditions = [local.this_account]
    }],
    [{
      # SSE-KMS objects, only through S3 and only for this bucket (Bucket Keys: the bucket ARN) or the objects
      # above (https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html#encryption-context);
      # query results need GenerateDataKey too (https://docs.aws.amazon.com/athena/latest/ug/encryption.html).
      sid       = "UseKeyViaS3ForTheChosenDataOnly"
      actions   = local.results == null ? ["kms:Decrypt"] : ["kms:Decrypt", "kms:GenerateDataKey"]
      resources = [var.kms_key_arn]
      conditions = [
        { test = "StringEquals", variable = "kms:ViaService", values = [local.via_s3] },
        { test = "StringLike", variable = "kms:EncryptionContext:aws:s3:arn", values = concat([local.bucket_arn], local.data_objects, local.results_objects) },
      ]
    }],
  )
}

data "aws_iam_policy_document" "this" {
  dynamic "statement" {
    for_each = local.statements
    content {
      sid       = statement.value.sid
      actions   = statement.value.actions
      resources = statement.value.resources
      dynamic "condition" {
        for_each = statement.value.conditions
        content {
          test     = condition.value.test
          variable = condition.value.variable
          values   = condition.value.values
        }
      }
    }
  }
}
