# The shared lake on its own (mock provider, plan): bucket and key settings, options, validation.

mock_provider "aws" {
  override_during = plan

  mock_data "aws_caller_identity" {
    defaults = { account_id = "111122223333" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws", dns_suffix = "amazonaws.com" }
  }
  mock_data "aws_region" {
    defaults = { name = "eu-west-1" }
  }
  mock_data "aws_iam_policy_document" {
    defaults = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
  }
  mock_resource "aws_s3_bucket" {
    defaults = { arn = "arn:aws:s3:::acme-lake-raw-x", id = "acme-lake-raw-x" }
  }
  mock_resource "aws_kms_key" {
    defaults = { arn = "arn:aws:kms:eu-west-1:111122223333:key/1111", key_id = "1111" }
  }
  mock_resource "aws_sns_topic" {
    defaults = { arn = "arn:aws:sns:eu-west-1:111122223333:acme-lake-alarms" }
  }
}

variables {
  name = "acme-lake"
}

run "bucket_and_key_are_hardened" {
  command = plan

  assert {
    condition     = aws_kms_key.this.enable_key_rotation && aws_kms_key.this.deletion_window_in_days == 30 && aws_kms_alias.this.name == "alias/acme-lake"
    error_message = "The key must rotate, have a deletion window and an alias."
  }
  assert {
    condition     = aws_s3_bucket_versioning.raw.versioning_configuration[0].status == "Enabled"
    error_message = "Versioning must be on."
  }
  assert {
    condition     = one(aws_s3_bucket_server_side_encryption_configuration.raw.rule).bucket_key_enabled && one(one(aws_s3_bucket_server_side_encryption_configuration.raw.rule).apply_server_side_encryption_by_default).sse_algorithm == "aws:kms"
    error_message = "Default encryption must be SSE-KMS with bucket keys."
  }
  assert {
    condition = alltrue([
      aws_s3_bucket_public_access_block.raw.block_public_acls, aws_s3_bucket_public_access_block.raw.block_public_policy,
      aws_s3_bucket_public_access_block.raw.ignore_public_acls, aws_s3_bucket_public_access_block.raw.restrict_public_buckets,
    ])
    error_message = "All public access must be blocked."
  }
  assert {
    condition     = one(aws_s3_bucket_ownership_controls.raw.rule).object_ownership == "BucketOwnerEnforced"
    error_message = "ACLs must be disabled (BucketOwnerEnforced)."
  }
  assert {
    condition     = length(aws_s3_bucket_logging.raw) == 0 && length(aws_s3_bucket_object_lock_configuration.raw) == 0 && aws_s3_bucket.raw.object_lock_enabled == false
    error_message = "Access logging and object lock are off by default."
  }
  assert {
    condition     = aws_sns_topic.alarms.kms_master_key_id == "arn:aws:kms:eu-west-1:111122223333:key/1111"
    error_message = "The alarm topic must be encrypted with the lake key."
  }
  assert {
    condition = anytrue([
      for s in data.aws_iam_policy_document.raw_bucket.statement : s.sid == "UnregisteredSourcesNoAccess" && s.effect == "Deny" &&
      jsonencode([for c in s.condition : [c.test, c.variable, c.values]]) == jsonencode([["Null", "aws:PrincipalTag/lake-ingest:source-id", ["false"]]])
    ])
    error_message = "With no source registered, every role tagged as a lake-ingest source must be turned away."
  }
  assert {
    condition = anytrue([
      for s in data.aws_iam_policy_document.kms.statement : anytrue([
        for c in s.condition : c.variable == "kms:EncryptionContext:aws:logs:arn" && toset(c.values) == toset(["arn:aws:logs:eu-west-1:111122223333:log-group:/aws/lambda/lake-ingest-*", "arn:aws:logs:eu-west-1:111122223333:log-group:/aws/vendedlogs/states/lake-ingest-*"])
      ])
    ])
    error_message = "By default the key serves the log groups of every lake-ingest-* function and of their state machines."
  }
}

run "options_turn_on_logging_and_object_lock" {
  command = plan
  variables {
    access_logging = { bucket = "acme-access-logs" }
    object_lock    = { mode = "GOVERNANCE", days = 30 }
  }
  assert {
    condition     = aws_s3_bucket_logging.raw[0].target_bucket == "acme-access-logs" && aws_s3_bucket_logging.raw[0].target_prefix == "s3-access/"
    error_message = "Access logging must go to the given bucket."
  }
  assert {
    condition     = aws_s3_bucket.raw.object_lock_enabled && one(one(aws_s3_bucket_object_lock_configuration.raw[0].rule).default_retention).mode == "GOVERNANCE"
    error_message = "Object lock must be enabled with the given default retention."
  }
}

run "rejects_bad_name" {
  command = plan
  variables {
    name = "Acme_Lake"
  }
  expect_failures = [var.name]
}

run "rejects_bad_object_lock" {
  command = plan
  variables {
    object_lock = { mode = "STRICT", days = 30 }
  }
  expect_failures = [var.object_lock]
}

run "rejects_bad_function_patterns" {
  command = plan
  variables {
    function_name_patterns = []
  }
  expect_failures = [var.function_name_patterns]
}

run "rejects_bad_access_log_bucket" {
  command = plan
  variables {
    access_logging = { bucket = "arn:aws:s3:::logs" }
  }
  expect_failures = [var.access_logging]
}

run "registered_sources_are_confined_to_their_prefixes" {
  command = plan
  variables {
    sources = { orders = "orders", invoices = "billing/invoices", "orders-archive" = "orders-archive" }
  }
  assert {
    condition = toset([
      for s in data.aws_iam_policy_document.raw_bucket.statement : jsonencode([s.sid, s.effect, s.actions, s.not_resources, [for c in s.condition : [c.test, c.variable, c.values]]])
      if startswith(coalesce(s.sid, "-"), "OnlyOwnPrefix")
      ]) == toset([
      for id, prefix in { orders = "orders", invoices = "billing/invoices", "orders-archive" = "orders-archive" } :
      jsonencode(["OnlyOwnPrefix${replace(id, "-", "X")}", "Deny", ["s3:*"], ["arn:aws:s3:::acme-lake-raw-x/${prefix}/*"], [["StringEquals", "aws:PrincipalTag/lake-ingest:source-id", [id]]]])
    ])
    error_message = "Each registered source gets one deny: anything outside bucket/<its prefix>/* (no policy variable)."
  }
  assert {
    condition = anytrue([
      for s in data.aws_iam_policy_document.raw_bucket.statement : s.sid == "UnregisteredSourcesNoAccess" && contains(
        [for c in s.condition : jsonencode([c.test, c.values]) if c.variable == "aws:PrincipalTag/lake-ingest:source-id"],
        jsonencode(["StringNotEquals", ["invoices", "orders", "orders-archive"]])
      )
    ])
    error_message = "Roles tagged with a source id this lake does not know must be turned away."
  }
  assert {
    condition     = jsonencode(output.for_sources.source_prefixes) == jsonencode({ orders = "orders", invoices = "billing/invoices", "orders-archive" = "orders-archive" })
    error_message = "for_sources must carry the registered prefixes, so each source can check its registration at plan time."
  }
}

run "encryption_denies_apply_only_when_the_header_is_sent" {
  command = plan
  assert {
    condition = alltrue([
      for s in data.aws_iam_policy_document.raw_bucket.statement : contains([for c in s.condition : "${c.test} ${c.variable} ${jsonencode(c.values)}"], "Null ${one([for c in s.condition : c.variable if c.test == "StringNotEquals"])} [\"false\"]")
      if startswith(coalesce(s.sid, "-"), "DenyPutsWith")
    ])
    error_message = "UploadPart and CompleteMultipartUpload are s3:PutObject without SSE headers: each encryption deny needs a presence (Null) test."
  }
  assert {
    condition = jsonencode([for s in data.aws_iam_policy_document.raw_bucket.statement : [s.effect, s.actions, [for c in s.condition : [c.test, c.variable, c.values]]] if s.sid == "DenyKmsPutsWithoutKeyId"]) == jsonencode([[
      "Deny", ["s3:PutObject"], [["Null", "s3:x-amz-server-side-encryption", ["false"]], ["Null", "s3:x-amz-server-side-encryption-aws-kms-key-id", ["true"]]]
    ]])
    error_message = "A put that names SSE (aws:kms) without the key id would get the AWS managed aws/s3 key: denied, only when the SSE header is sent and the key header is not."
  }
}

run "rejects_nested_prefixes" {
  command = plan
  variables {
    sources = { billing = "billing", invoices = "billing/invoices" }
  }
  expect_failures = [var.sources]
}

run "rejects_the_same_prefix_twice" {
  command = plan
  variables {
    sources = { a = "shared", b = "shared" }
  }
  expect_failures = [var.sources]
}

run "rejects_dot_segments_in_prefixes" {
  command = plan
  variables {
    sources = { a = "vendor/../other" }
  }
  expect_failures = [var.sources]
}

run "rejects_a_bad_source_id" {
  command = plan
  variables {
    sources = { "Orders_API" = "orders" }
  }
  expect_failures = [var.sources]
}

# The query side: the Glue database, the Athena workgroup and the reader's policy.
run "database_and_workgroup" {
  command = plan
  variables {
    sources = { orders = "orders" }
  }
  assert {
    condition     = aws_glue_catalog_database.this.name == "acme_lake"
    error_message = "The Glue database is the lake's name with '_' for '-' (Athena reads lowercase letters, digits and underscores)."
  }
  assert {
    condition = (
      aws_athena_workgroup.this[0].name == "acme-lake" && aws_athena_workgroup.this[0].state == "ENABLED" &&
      one(aws_athena_workgroup.this[0].configuration).bytes_scanned_cutoff_per_query == 10737418240 &&
      one(aws_athena_workgroup.this[0].configuration).enforce_workgroup_configuration &&
      one(aws_athena_workgroup.this[0].configuration).publish_cloudwatch_metrics_enabled
    )
    error_message = "The workgroup is named as the lake, stops a query at 10 GiB scanned, overrides client settings and publishes metrics."
  }
  assert {
    condition = (
      one(one(aws_athena_workgroup.this[0].configuration).result_configuration).output_location == "s3://acme-lake-raw-x/_athena/" &&
      one(one(aws_athena_workgroup.this[0].configuration).result_configuration).expected_bucket_owner == "111122223333" &&
      one(one(one(aws_athena_workgroup.this[0].configuration).result_configuration).encryption_configuration).encryption_option == "SSE_KMS" &&
      one(one(one(aws_athena_workgroup.this[0].configuration).result_configuration).encryption_configuration).kms_key_arn == "arn:aws:kms:eu-west-1:111122223333:key/1111"
    )
    error_message = "Query results go to s3://<bucket>/_athena/ of this account, encrypted SSE_KMS with the lake key."
  }
  assert {
    condition = (
      output.for_sources.glue_database == "acme_lake" && output.for_sources.athena_workgroup == "acme-lake" &&
      output.for_sources.athena_results == "s3://acme-lake-raw-x/_athena/"
    )
    error_message = "for_sources must hand each source the database, the workgroup and the results location."
  }
}

run "reader_policy_covers_the_chosen_sources_only" {
  command = plan
  variables {
    sources        = { orders = "orders", invoices = "billing/invoices", "orders-archive" = "orders-archive" }
    reader_sources = ["orders", "invoices"]
  }
  assert {
    condition     = jsonencode([for s in module.reader.statements : s.sid]) == jsonencode(["RunQueriesInTheLakeWorkgroupOnly", "ReadTheChosenSourcesTablesOnly", "ReadTheChosenSourcesRecordsOnly", "ListTheChosenRecordsAndResultsOnly", "WriteAndReadQueryResultsOnly", "LocateTheLakeBucket", "UseKeyViaS3ForTheChosenDataOnly"])
    error_message = "The reader policy's statements: workgroup, tables, records, listing, results, bucket location, key via S3."
  }
  assert {
    condition = jsonencode(one([for s in module.reader.statements : s.resources if s.sid == "RunQueriesInTheLakeWorkgroupOnly"])) == jsonencode(["arn:aws:athena:eu-west-1:111122223333:workgroup/acme-lake"]) && toset(one([for s in module.reader.statements : s.actions if s.sid == "RunQueriesInTheLakeWorkgroupOnly"])) == toset([
      "athena:StartQueryExecution", "athena:GetQueryExecution", "athena:GetQueryResults", "athena:StopQueryExecution",
      "athena:GetWorkGroup", "athena:ListNamedQueries", "athena:GetNamedQuery", "athena:BatchGetNamedQuery",
    ])
    error_message = "Queries and named queries, in the lake's workgroup only."
  }
  assert {
    condition = toset(one([for s in module.reader.statements : s.resources if s.sid == "ReadTheChosenSourcesTablesOnly"])) == toset([
      "arn:aws:glue:eu-west-1:111122223333:catalog", "arn:aws:glue:eu-west-1:111122223333:database/acme_lake",
      "arn:aws:glue:eu-west-1:111122223333:table/acme_lake/orders", "arn:aws:glue:eu-west-1:111122223333:table/acme_lake/orders_published",
      "arn:aws:glue:eu-west-1:111122223333:table/acme_lake/invoices", "arn:aws:glue:eu-west-1:111122223333:table/acme_lake/invoices_published",
    ])
    error_message = "Glue: the catalog, the database and the chosen sources' two tables each; not orders-archive's."
  }
  assert {
    condition = toset(one([for s in module.reader.statements : s.resources if s.sid == "ReadTheChosenSourcesRecordsOnly"])) == toset([
      "arn:aws:s3:::acme-lake-raw-x/orders/records/*", "arn:aws:s3:::acme-lake-raw-x/orders/published/*",
      "arn:aws:s3:::acme-lake-raw-x/billing/invoices/records/*", "arn:aws:s3:::acme-lake-raw-x/billing/invoices/published/*",
    ])
    error_message = "Objects: only the chosen sources' records/ and published/ zones (never raw pages, manifests, _state/ or _backfill/)."
  }
  assert {
    condition = jsonencode(one([for s in module.reader.statements : s.conditions if s.sid == "ListTheChosenRecordsAndResultsOnly"])) == jsonencode([
      { test = "StringLike", variable = "s3:prefix", values = [
        "billing/invoices/records/", "billing/invoices/records/*", "billing/invoices/published/", "billing/invoices/published/*",
        "orders/records/", "orders/records/*", "orders/published/", "orders/published/*", "_athena/", "_athena/*",
      ] },
      { test = "StringEquals", variable = "aws:ResourceAccount", values = ["111122223333"] },
    ])
    error_message = "Listing only below the chosen sources' records/ and published/ and the results prefix, in this account's bucket."
  }
  assert {
    condition     = jsonencode(one([for s in module.reader.statements : s.resources if s.sid == "WriteAndReadQueryResultsOnly"])) == jsonencode(["arn:aws:s3:::acme-lake-raw-x/_athena/*"]) && toset(one([for s in module.reader.statements : s.actions if s.sid == "WriteAndReadQueryResultsOnly"])) == toset(["s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"])
    error_message = "Query results: written and read under _athena/ only."
  }
  assert {
    condition = jsonencode(one([for s in module.reader.statements : [s.actions, s.resources, s.conditions] if s.sid == "UseKeyViaS3ForTheChosenDataOnly"])) == jsonencode([
      ["kms:Decrypt", "kms:GenerateDataKey"], ["arn:aws:kms:eu-west-1:111122223333:key/1111"], [
        { test = "StringEquals", variable = "kms:ViaService", values = ["s3.eu-west-1.amazonaws.com"] },
        { test = "StringLike", variable = "kms:EncryptionContext:aws:s3:arn", values = [
          "arn:aws:s3:::acme-lake-raw-x",
          "arn:aws:s3:::acme-lake-raw-x/billing/invoices/records/*", "arn:aws:s3:::acme-lake-raw-x/billing/invoices/published/*",
          "arn:aws:s3:::acme-lake-raw-x/orders/records/*", "arn:aws:s3:::acme-lake-raw-x/orders/published/*",
          "arn:aws:s3:::acme-lake-raw-x/_athena/*",
        ] },
      ],
    ])
    error_message = "The key: Decrypt and GenerateDataKey only through S3, only for the bucket (Bucket Keys) and the chosen data and results."
  }
  assert {
    condition     = !strcontains(jsonencode(module.reader.statements), "orders-archive") && !strcontains(jsonencode(module.reader.statements), "orders_archive")
    error_message = "A source that is not a reader appears nowhere in the reader policy."
  }
}

run "reader_policy_defaults_to_every_registered_source" {
  command = plan
  variables {
    sources = { orders = "orders", "orders-archive" = "orders-archive" }
  }
  assert {
    condition     = contains(one([for s in module.reader.statements : s.resources if s.sid == "ReadTheChosenSourcesTablesOnly"]), "arn:aws:glue:eu-west-1:111122223333:table/acme_lake/orders_archive_published")
    error_message = "Without reader_sources every registered source is readable (table name: the source id with '_' for '-')."
  }
}

run "athena_can_be_turned_off" {
  command = plan
  variables {
    sources = { orders = "orders" }
    athena  = { enabled = false }
  }
  assert {
    condition     = length(aws_athena_workgroup.this) == 0 && output.for_sources.athena_workgroup == null && output.for_sources.athena_results == null && output.for_sources.glue_database == "acme_lake"
    error_message = "Without Athena: no workgroup (the database stays, for other engines)."
  }
  assert {
    condition = (
      jsonencode([for s in module.reader.statements : s.sid]) == jsonencode(["ReadTheChosenSourcesTablesOnly", "ReadTheChosenSourcesRecordsOnly", "ListTheChosenRecordsAndResultsOnly", "LocateTheLakeBucket", "UseKeyViaS3ForTheChosenDataOnly"]) &&
      jsonencode(one([for s in module.reader.statements : s.actions if s.sid == "UseKeyViaS3ForTheChosenDataOnly"])) == jsonencode(["kms:Decrypt"])
    )
    error_message = "Without Athena the reader gets no Athena action, writes no results and may only decrypt."
  }
}

run "athena_settings_are_passed_on" {
  command = plan
  variables {
    athena = { bytes_scanned_cutoff_per_query = 0, results_prefix = "query-results/athena" }
  }
  assert {
    condition = (
      one(aws_athena_workgroup.this[0].configuration).bytes_scanned_cutoff_per_query == 0 &&
      one(one(aws_athena_workgroup.this[0].configuration).result_configuration).output_location == "s3://acme-lake-raw-x/query-results/athena/"
    )
    error_message = "A cutoff of 0 means no limit; the results prefix is the one given."
  }
}

run "rejects_a_source_prefix_named_athena" {
  command = plan
  variables {
    sources = { orders = "orders", athena = "_athena" }
  }
  expect_failures = [var.sources]
}

run "rejects_a_source_prefix_under_the_results_prefix" {
  command = plan
  variables {
    sources = { athena = "_athena/orders" }
  }
  expect_failures = [var.sources]
}

run "rejects_results_inside_a_source_prefix" {
  command = plan
  variables {
    sources = { orders = "orders" }
    athena  = { results_prefix = "orders/athena" }
  }
  expect_failures = [var.sources]
}

run "rejects_a_cutoff_below_10_mib" {
  command = plan
  variables {
    athena = { bytes_scanned_cutoff_per_query = 10000000 }
  }
  expect_failures = [var.athena]
}

run "rejects_a_results_prefix_with_a_slash_at_the_end" {
  command = plan
  variables {
    athena = { results_prefix = "_athena/" }
  }
  expect_failures = [var.athena]
}

run "rejects_an_unregistered_reader_source" {
  command = plan
  variables {
    sources        = { orders = "orders" }
    reader_sources = ["orders", "payroll"]
  }
  expect_failures = [var.reader_sources]
}
