# The policies as AWS receives them: the real provider renders every policy document, offline.
# Every resource is overridden (nothing is created, no credentials are used); only the policy
# documents and the partition/region data sources run for real, in three partitions.

provider "aws" {
  region                      = "eu-west-1"
  access_key                  = "offline"
  secret_key                  = "offline"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_requesting_account_id  = true
}

provider "aws" {
  alias                       = "china"
  region                      = "cn-north-1"
  access_key                  = "offline"
  secret_key                  = "offline"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_requesting_account_id  = true
  skip_region_validation      = true
}

provider "aws" {
  alias                       = "govcloud"
  region                      = "us-gov-west-1"
  access_key                  = "offline"
  secret_key                  = "offline"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_requesting_account_id  = true
  skip_region_validation      = true
}

variables {
  source_id           = "orders"
  schedule_expression = "rate(1 hour)"
  package_path        = "tests/fixtures/placeholder.zip"
  api_config = {
    endpoint     = "https://api.example.com/v1/orders"
    auth         = { type = "bearer", secret_field = "api_key" }
    records_path = "data.items"
  }
  # terraform test needs a value for an ephemeral input in apply runs.
  api_credentials_wo         = { api_key = "placeholder" }
  api_credentials_wo_version = 1
}

override_data {
  target = data.aws_caller_identity.current
  values = { account_id = "111122223333" }
}
override_data {
  target = module.lake[0].data.aws_caller_identity.current
  values = { account_id = "111122223333" }
}

# Resources other documents refer to get realistic identifiers.
override_resource {
  target = aws_iam_role.this
  values = { arn = "arn:aws:iam::111122223333:role/lake-ingest-orders", id = "lake-ingest-orders", name = "lake-ingest-orders" }
}
override_resource {
  target = aws_iam_role.scheduler
  values = { arn = "arn:aws:iam::111122223333:role/lake-ingest-orders-scheduler", id = "lake-ingest-orders-scheduler" }
}
override_resource {
  target = aws_lambda_function.this
  values = { arn = "arn:aws:lambda:eu-west-1:111122223333:function:lake-ingest-orders", function_name = "lake-ingest-orders" }
}
override_resource {
  target = aws_secretsmanager_secret.api
  values = { arn = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:lake-ingest/orders/api-credentials-AbCdEf", id = "secret" }
}
override_resource {
  target = aws_sqs_queue.dlq
  values = { arn = "arn:aws:sqs:eu-west-1:111122223333:lake-ingest-orders-dlq", id = "https://sqs/dlq", name = "lake-ingest-orders-dlq" }
}
override_resource {
  target = aws_sqs_queue.schedule_dlq
  values = { arn = "arn:aws:sqs:eu-west-1:111122223333:lake-ingest-orders-schedule-dlq", id = "https://sqs/schedule-dlq" }
}
override_resource {
  target = module.lake[0].aws_kms_key.this
  values = { arn = "arn:aws:kms:eu-west-1:111122223333:key/1111", key_id = "1111" }
}
override_resource {
  target = module.lake[0].aws_s3_bucket.raw
  values = { arn = "arn:aws:s3:::lake-ingest-orders-raw-x", id = "lake-ingest-orders-raw-x", bucket = "lake-ingest-orders-raw-x" }
}
override_resource {
  target = module.lake[0].aws_sns_topic.alarms
  values = { arn = "arn:aws:sns:eu-west-1:111122223333:lake-ingest-orders-alarms", id = "topic" }
}
override_resource {
  target = aws_cloudwatch_metric_alarm.simple
}
override_resource {
  target = aws_cloudwatch_metric_alarm.error_rate
}
override_resource {
  target = aws_cloudwatch_metric_alarm.freshness
}
override_resource {
  target = aws_sqs_queue_policy.this
}
override_resource {
  target = aws_lambda_function_event_invoke_config.this
}
override_resource {
  target = aws_iam_role_policy.this
}
override_resource {
  target = aws_cloudwatch_log_group.this
  values = { arn = "arn:aws:logs:eu-west-1:111122223333:log-group:/aws/lambda/lake-ingest-orders", name = "/aws/lambda/lake-ingest-orders" }
}
override_resource {
  target = aws_scheduler_schedule.this
}
override_resource {
  target = aws_scheduler_schedule_group.this
  values = { arn = "arn:aws:scheduler:eu-west-1:111122223333:schedule-group/lake-ingest-orders", name = "lake-ingest-orders" }
}
override_resource {
  target = aws_cloudwatch_metric_alarm.state
}
override_resource {
  target = aws_iam_role_policy.scheduler
}
override_resource {
  target = aws_secretsmanager_secret_version.api
}
override_resource {
  target = aws_secretsmanager_secret_rotation.api
}
override_resource {
  target = aws_secretsmanager_secret_policy.api
}
override_resource {
  target = module.lake[0].aws_kms_alias.this
}
override_resource {
  target = module.lake[0].aws_s3_bucket_versioning.raw
}
override_resource {
  target = module.lake[0].aws_s3_bucket_server_side_encryption_configuration.raw
}
override_resource {
  target = module.lake[0].aws_s3_bucket_public_access_block.raw
}
override_resource {
  target = module.lake[0].aws_s3_bucket_ownership_controls.raw
}
override_resource {
  target = module.lake[0].aws_s3_bucket_lifecycle_configuration.raw
}
override_resource {
  target = module.lake[0].aws_s3_bucket_policy.raw
}
override_resource {
  target = module.lake[0].aws_s3_bucket_logging.raw
}
override_resource {
  target = module.lake[0].aws_s3_bucket_object_lock_configuration.raw
}
override_resource {
  target = module.lake[0].aws_sns_topic_policy.alarms
}
override_resource {
  target = module.lake[0].aws_glue_catalog_database.this
}
override_resource {
  target = module.lake[0].aws_athena_workgroup.this
}
override_resource {
  target = aws_glue_catalog_table.this
}
override_resource {
  target = aws_athena_named_query.this
}

run "function_role_as_rendered" {
  command = apply

  assert {
    condition     = alltrue([for s in jsondecode(output.policies.identity.function_role).Statement : s.Sid == "XRayTraces" || !contains(flatten([try(s.Resource, [])]), "*")])
    error_message = "Only X-Ray may have Resource \"*\" in the rendered role policy."
  }
  assert {
    condition     = alltrue(flatten([for s in jsondecode(output.policies.identity.function_role).Statement : [for a in flatten([s.Action]) : !strcontains(a, "*")] if s.Effect == "Allow"]))
    error_message = "No rendered Allow action may contain a wildcard."
  }
  assert {
    condition = [for s in jsondecode(output.policies.identity.function_role).Statement : s if s.Effect == "Deny"] == [{
      Sid = "DenyS3OutsideOwnPrefix", Effect = "Deny", Action = "s3:*", NotResource = "arn:aws:s3:::lake-ingest-orders-raw-x/orders/*"
    }]
    error_message = "The one deny: S3 outside bucket/orders/*, whatever another policy attached to the role grants."
  }
  assert {
    condition = alltrue([
      for s in jsondecode(output.policies.identity.function_role).Statement : s.Condition.StringEquals["aws:ResourceAccount"] == "111122223333"
      if contains(["WriteOwnPrefixOnly", "ReadOwnManifestsAndStateOnly"], s.Sid)
    ])
    error_message = "S3 grants must be bound to this account's bucket (aws:ResourceAccount)."
  }
  assert {
    condition     = [for s in jsondecode(output.policies.identity.function_role).Statement : s.Resource if s.Sid == "WriteOwnPrefixOnly"][0] == "arn:aws:s3:::lake-ingest-orders-raw-x/orders/*"
    error_message = "Rendered S3 writes must be confined to bucket/orders/*."
  }
  assert {
    condition = alltrue([
      for s in jsondecode(output.policies.identity.function_role).Statement :
      length(s.Condition.StringEquals["kms:ViaService"]) > 0 &&
      length(flatten([for op, keys in s.Condition : [for k, v in keys : k if startswith(k, "kms:EncryptionContext:")]])) == (contains(["UseKeyViaS3", "UseKeyViaSecretsManager"], s.Sid) ? 1 : 0)
      if anytrue([for a in flatten([s.Action]) : startswith(a, "kms:")])
    ])
    error_message = "Every rendered KMS grant must carry kms:ViaService; S3 and Secrets Manager (whose encryption contexts are documented) one encryption-context condition, SQS and Lambda none."
  }
  assert {
    condition     = jsondecode(output.policies.trust.function_role).Statement[0].Condition.StringEquals["aws:SourceAccount"] == "111122223333" && jsondecode(output.policies.trust.function_role).Statement[0].Principal.Service == "lambda.amazonaws.com" && jsondecode(output.policies.trust.function_role).Statement[0].Sid == "LambdaOfThisAccountOnly"
    error_message = "The rendered trust policy must name lambda.amazonaws.com with aws:SourceAccount."
  }
}

run "refresh_token_source_as_rendered" {
  command = apply
  variables {
    api_config = {
      endpoint = "https://api.example.com/v1/tickets"
      auth     = { type = "oauth2_refresh_token", token_url = "https://login.example.com/oauth2/token" }
    }
    # The function rotates the secret's value: the module must not set it (plan-time check).
    api_credentials_wo_version = null
  }

  assert {
    condition = jsonencode([for s in jsondecode(output.policies.identity.function_role).Statement : [sort(s.Action), s.Resource] if s.Sid == "RotateOwnRefreshTokenOnly"]) == jsonencode([
      [["secretsmanager:PutSecretValue", "secretsmanager:UpdateSecretVersionStage"], "arn:aws:secretsmanager:eu-west-1:111122223333:secret:lake-ingest/orders/api-credentials-AbCdEf"]
    ])
    error_message = "The rendered role may put new versions of its own secret and move its staging labels, on its own secret only."
  }
  assert {
    condition     = contains([for s in jsondecode(output.policies.identity.function_role).Statement : s.Resource if s.Sid == "ReadOwnManifestsAndStateOnly"][0], "arn:aws:s3:::lake-ingest-orders-raw-x/orders/_state/oauth2-tokens.json")
    error_message = "A rotating source reads back its token state from its own _state/."
  }
  assert {
    condition = one([
      for s in jsondecode(output.policies.identity.function_role).Statement :
      join(",", sort(flatten([s.Action]))) == "kms:Decrypt,kms:GenerateDataKey" &&
      s.Condition.StringEquals["kms:EncryptionContext:SecretARN"] == "arn:aws:secretsmanager:eu-west-1:111122223333:secret:lake-ingest/orders/api-credentials-AbCdEf"
      if s.Sid == "UseKeyViaSecretsManager"
    ])
    error_message = "PutSecretValue's data key comes through Secrets Manager, for this secret only."
  }
}

run "scheduler_role_and_queues_as_rendered" {
  command = apply

  assert {
    condition     = toset(flatten([for s in jsondecode(output.policies.identity.scheduler_role).Statement : flatten([s.Resource])])) == toset(["arn:aws:lambda:eu-west-1:111122223333:function:lake-ingest-orders", "arn:aws:kms:eu-west-1:111122223333:key/1111", "arn:aws:sqs:eu-west-1:111122223333:lake-ingest-orders-schedule-dlq"])
    error_message = "The scheduler role may touch only its function, the key and its own dead-letter queue."
  }
  assert {
    condition = (
      jsondecode(output.policies.trust.scheduler_role).Statement[0].Condition == { ArnEquals = { "aws:SourceArn" = "arn:aws:scheduler:eu-west-1:111122223333:schedule-group/lake-ingest-orders" }, StringEquals = { "aws:SourceAccount" = "111122223333" } } &&
      [for s in jsondecode(output.policies.identity.scheduler_role).Statement : s.Condition.StringEquals["kms:EncryptionContext:aws:scheduler:schedule:arn"] if s.Sid == "DecryptOwnScheduleOnly"][0] == "arn:aws:scheduler:eu-west-1:111122223333:schedule/lake-ingest-orders/lake-ingest-orders"
    )
    error_message = "The scheduler role trusts the source's own schedule group only, and decrypts its own schedule in that group only."
  }
  assert {
    condition = alltrue([
      for name, doc in output.policies.resource : jsondecode(doc).Statement[0].Effect == "Deny" && jsondecode(doc).Statement[0].Condition.Bool["aws:SecureTransport"] == "false"
      if contains(["dlq", "schedule_dlq"], name)
    ]) && length(output.policies.resource) == 6
    error_message = "Both queues must deny non-TLS access; the secret's and the own lake's bucket, key and topic policies must be rendered too."
  }
  assert {
    condition = jsondecode(output.policies.resource.secret).Statement[0].Effect == "Deny" && jsondecode(output.policies.resource.secret).Statement[0].Action == "secretsmanager:*" && jsondecode(output.policies.resource.secret).Statement[0].Condition == {
      Null            = { "aws:PrincipalTag/lake-ingest:source-id" = "false" }
      StringNotEquals = { "aws:PrincipalTag/lake-ingest:source-id" = "orders" }
    }
    error_message = "The secret must deny every action by any other lake-ingest source's role (tagged with another source id), and only those."
  }
  assert {
    condition     = alltrue([for role in [aws_iam_role.this, one(aws_iam_role.scheduler)] : role.permissions_boundary == null && role.path == "/"])
    error_message = "Without role_permissions_boundary and role_path the roles get no boundary and the root path."
  }
}

run "own_lake_bucket_key_and_topic_as_rendered" {
  command = apply

  assert {
    condition = toset([for s in jsondecode(output.policies.resource.bucket).Statement : s.Sid]) == toset([
      "DenyInsecureTransport", "DenyPutsWithOtherEncryption", "DenyPutsWithOtherKey", "DenyKmsPutsWithoutKeyId", "OnlyOwnPrefixorders", "TokenStateOnlyForItsSource", "UnregisteredSourcesNoAccess"
    ])
    error_message = "The rendered bucket policy must hold exactly the TLS, encryption, key, key-id, own-prefix, token-state and unregistered-source guards."
  }
  assert {
    condition = [for s in jsondecode(output.policies.resource.bucket).Statement : [s.Resource, s.Condition] if s.Sid == "TokenStateOnlyForItsSource"][0] == [
      "arn:aws:s3:::lake-ingest-orders-raw-x/*/_state/oauth2-tokens.json", { Null = { "aws:PrincipalTag/lake-ingest:source-id" = "true" } }
    ]
    error_message = "Every principal without a source tag (a reader, an administrator) is kept out of the sources' OAuth2 token state."
  }
  assert {
    condition     = [for s in jsondecode(output.policies.resource.bucket).Statement : s.Condition if s.Sid == "DenyKmsPutsWithoutKeyId"][0] == { Null = { "s3:x-amz-server-side-encryption" = "false", "s3:x-amz-server-side-encryption-aws-kms-key-id" = "true" } }
    error_message = "aws:kms without a key id (S3 would use aws/s3) is denied only when the SSE header is sent and the key header is not."
  }
  assert {
    condition     = [for s in jsondecode(output.policies.resource.bucket).Statement : s.NotResource if s.Sid == "OnlyOwnPrefixorders"][0] == "arn:aws:s3:::lake-ingest-orders-raw-x/orders/*" && !strcontains(output.policies.resource.bucket, "$${")
    error_message = "The prefix guard must name the source's prefix literally (IAM documents policy variables only in Resource and Condition)."
  }
  assert {
    condition = alltrue([
      for s in jsondecode(output.policies.resource.bucket).Statement : s.Condition.Null == { (keys(s.Condition.StringNotEquals)[0]) = "false" }
      if startswith(s.Sid, "DenyPutsWith")
    ])
    error_message = "The encryption denies must apply only when the request carries the header (UploadPart and CompleteMultipartUpload carry none)."
  }
  assert {
    condition     = [for s in jsondecode(output.policies.resource.key).Statement : s.Condition.ArnLike["kms:EncryptionContext:aws:logs:arn"] if s.Sid == "CloudWatchLogsForTheSourcesLogGroupsOnly"][0] == ["arn:aws:logs:eu-west-1:111122223333:log-group:/aws/lambda/lake-ingest-orders", "arn:aws:logs:eu-west-1:111122223333:log-group:/aws/vendedlogs/states/lake-ingest-orders"]
    error_message = "An own lake's key may serve CloudWatch Logs for this function's log group and its state machines' only."
  }
  assert {
    condition     = length([for s in jsondecode(output.policies.resource.key).Statement : s if s.Principal == { AWS = "arn:aws:iam::111122223333:root" }]) == 1
    error_message = "Exactly one statement delegates the key to IAM (the account root); no role is named in the key policy."
  }
  assert {
    condition     = [for s in jsondecode(output.policies.resource.alarm_topic).Statement : s.Condition.ArnLike["aws:SourceArn"] if s.Sid == "CloudWatchAlarmsOfTheSources"][0] == "arn:aws:cloudwatch:eu-west-1:111122223333:alarm:lake-ingest-orders-*"
    error_message = "Only this source's alarms may publish to an own lake's topic."
  }
}

run "aws_cn_partition" {
  command   = apply
  state_key = "china"
  providers = { aws = aws.china }

  # What AWS itself would return in this partition, for the resources the module does not name.
  override_resource {
    target = aws_secretsmanager_secret.api
    values = { arn = "arn:aws-cn:secretsmanager:cn-north-1:111122223333:secret:lake-ingest/orders/api-credentials-AbCdEf", id = "secret" }
  }
  override_resource {
    target = aws_sqs_queue.dlq
    values = { arn = "arn:aws-cn:sqs:cn-north-1:111122223333:lake-ingest-orders-dlq", id = "https://sqs/dlq", name = "lake-ingest-orders-dlq" }
  }
  override_resource {
    target = aws_sqs_queue.schedule_dlq
    values = { arn = "arn:aws-cn:sqs:cn-north-1:111122223333:lake-ingest-orders-schedule-dlq", id = "https://sqs/schedule-dlq" }
  }
  override_resource {
    target = aws_cloudwatch_log_group.this
    values = { arn = "arn:aws-cn:logs:cn-north-1:111122223333:log-group:/aws/lambda/lake-ingest-orders", name = "/aws/lambda/lake-ingest-orders" }
  }
  override_resource {
    target = aws_lambda_function.this
    values = { arn = "arn:aws-cn:lambda:cn-north-1:111122223333:function:lake-ingest-orders", function_name = "lake-ingest-orders" }
  }
  override_resource {
    target = module.lake[0].aws_kms_key.this
    values = { arn = "arn:aws-cn:kms:cn-north-1:111122223333:key/1111", key_id = "1111" }
  }
  override_resource {
    target = module.lake[0].aws_s3_bucket.raw
    values = { arn = "arn:aws-cn:s3:::lake-ingest-orders-raw-x", id = "lake-ingest-orders-raw-x", bucket = "lake-ingest-orders-raw-x" }
  }
  override_resource {
    target = module.lake[0].aws_sns_topic.alarms
    values = { arn = "arn:aws-cn:sns:cn-north-1:111122223333:lake-ingest-orders-alarms", id = "topic" }
  }

  assert {
    condition = alltrue([
      for arn in flatten([for s in jsondecode(output.policies.identity.function_role).Statement : flatten([try(s.Resource, s.NotResource)]) if s.Sid != "XRayTraces"]) :
      startswith(arn, "arn:aws-cn:")
    ])
    error_message = "In aws-cn every ARN the module builds must use the aws-cn partition."
  }
  assert {
    condition     = contains(flatten([for s in jsondecode(output.policies.identity.function_role).Statement : try(flatten([s.Condition.StringEquals["kms:ViaService"]]), [])]), "s3.cn-north-1.amazonaws.com") && !strcontains(output.policies.identity.function_role, "amazonaws.com.cn")
    error_message = "kms:ViaService takes the .amazonaws.com suffix in every partition, aws-cn included (KMS developer guide)."
  }
  assert {
    condition = alltrue([
      for arn in flatten([for s in jsondecode(output.reader_policy_json).Statement : flatten([s.Resource])]) : startswith(arn, "arn:aws-cn:")
      ]) && contains(flatten([for s in jsondecode(output.reader_policy_json).Statement : flatten([s.Resource])]), "arn:aws-cn:glue:cn-north-1:111122223333:table/lake_ingest_orders/orders_published") && [
      for s in jsondecode(output.reader_policy_json).Statement : s.Condition.StringEquals["kms:ViaService"] if s.Sid == "UseKeyViaS3ForTheChosenDataOnly"
    ][0] == "s3.cn-north-1.amazonaws.com"
    error_message = "In aws-cn the reader policy names aws-cn ARNs (Glue, Athena, S3, KMS) and kms:ViaService keeps the .amazonaws.com suffix."
  }
  assert {
    condition     = [for s in jsondecode(output.policies.resource.key).Statement : s.Principal.Service if s.Sid == "CloudWatchLogsForTheSourcesLogGroupsOnly"][0] == "logs.cn-north-1.amazonaws.com.cn"
    error_message = "CloudWatch Logs' principal is regional and uses the China DNS suffix."
  }
  assert {
    condition = alltrue([
      for arn in flatten([for name, doc in output.policies.resource : [for s in jsondecode(doc).Statement : flatten([try(s.Resource, s.NotResource)]) if try(s.Resource, null) != "*"]]) :
      startswith(arn, "arn:aws-cn:")
    ])
    error_message = "Every resource policy (queues, bucket, topic) must name aws-cn ARNs."
  }
}

run "aws_us_gov_partition" {
  command   = apply
  state_key = "govcloud"
  providers = { aws = aws.govcloud }

  # What AWS itself would return in this partition, for the resources the module does not name.
  override_resource {
    target = aws_secretsmanager_secret.api
    values = { arn = "arn:aws-us-gov:secretsmanager:us-gov-west-1:111122223333:secret:lake-ingest/orders/api-credentials-AbCdEf", id = "secret" }
  }
  override_resource {
    target = aws_sqs_queue.dlq
    values = { arn = "arn:aws-us-gov:sqs:us-gov-west-1:111122223333:lake-ingest-orders-dlq", id = "https://sqs/dlq", name = "lake-ingest-orders-dlq" }
  }
  override_resource {
    target = aws_sqs_queue.schedule_dlq
    values = { arn = "arn:aws-us-gov:sqs:us-gov-west-1:111122223333:lake-ingest-orders-schedule-dlq", id = "https://sqs/schedule-dlq" }
  }
  override_resource {
    target = aws_cloudwatch_log_group.this
    values = { arn = "arn:aws-us-gov:logs:us-gov-west-1:111122223333:log-group:/aws/lambda/lake-ingest-orders", name = "/aws/lambda/lake-ingest-orders" }
  }
  override_resource {
    target = aws_lambda_function.this
    values = { arn = "arn:aws-us-gov:lambda:us-gov-west-1:111122223333:function:lake-ingest-orders", function_name = "lake-ingest-orders" }
  }
  override_resource {
    target = module.lake[0].aws_kms_key.this
    values = { arn = "arn:aws-us-gov:kms:us-gov-west-1:111122223333:key/1111", key_id = "1111" }
  }
  override_resource {
    target = module.lake[0].aws_s3_bucket.raw
    values = { arn = "arn:aws-us-gov:s3:::lake-ingest-orders-raw-x", id = "lake-ingest-orders-raw-x", bucket = "lake-ingest-orders-raw-x" }
  }
  override_resource {
    target = module.lake[0].aws_sns_topic.alarms
    values = { arn = "arn:aws-us-gov:sns:us-gov-west-1:111122223333:lake-ingest-orders-alarms", id = "topic" }
  }

  assert {
    condition = alltrue([
      for arn in flatten([for name, doc in output.policies.identity : [for s in jsondecode(doc).Statement : flatten([try(s.Resource, s.NotResource)]) if s.Sid != "XRayTraces"]]) :
      startswith(arn, "arn:aws-us-gov:")
    ])
    error_message = "In aws-us-gov every ARN the module builds must use the aws-us-gov partition (the reader's Glue, Athena, S3 and KMS ARNs included)."
  }
  assert {
    condition     = contains(keys(output.policies.identity), "reader") && jsondecode(output.reader_policy_json) == jsondecode(output.policies.identity.reader) && contains(flatten([for s in jsondecode(output.reader_policy_json).Statement : flatten([s.Resource])]), "arn:aws-us-gov:athena:us-gov-west-1:111122223333:workgroup/lake-ingest-orders")
    error_message = "The reader policy is rendered in aws-us-gov, with the workgroup's aws-us-gov ARN, and listed in policies.identity."
  }
  assert {
    condition     = [for s in jsondecode(output.policies.resource.key).Statement : s.Principal.AWS if s.Sid == "AccountAdministersKeyAndDelegatesToIAM"][0] == "arn:aws-us-gov:iam::111122223333:root"
    error_message = "The key's account principal must use the aws-us-gov partition."
  }
}


# With orchestration, for a window source: the state machines' role policies as the provider renders them.
run "state_machine_roles_as_rendered" {
  command = apply
  variables {
    api_config = {
      endpoint     = "https://api.example.com/v1/events"
      auth         = { type = "bearer", secret_field = "api_key" }
      records_path = "data"
      query_params = { from = "{window_start}", to = "{window_end}" }
      incremental  = { type = "window" }
    }
    orchestration = {}
    # Platform conventions (issue 22): every role the module creates takes both.
    role_permissions_boundary = "arn:aws:iam::111122223333:policy/platform/lake-boundary"
    role_path                 = "/platform/lake-ingest/"
  }

  override_resource {
    target = aws_sfn_state_machine.run
    values = { arn = "arn:aws:states:eu-west-1:111122223333:stateMachine:lake-ingest-orders-run" }
  }
  override_resource {
    target = aws_sfn_state_machine.backfill
    values = { arn = "arn:aws:states:eu-west-1:111122223333:stateMachine:lake-ingest-orders-backfill" }
  }
  override_resource {
    target = aws_iam_role.run_machine
    values = { arn = "arn:aws:iam::111122223333:role/lake-ingest-orders-sfn-run", id = "lake-ingest-orders-sfn-run" }
  }
  override_resource {
    target = aws_iam_role.backfill_machine
    values = { arn = "arn:aws:iam::111122223333:role/lake-ingest-orders-sfn-backfill", id = "lake-ingest-orders-sfn-backfill" }
  }
  override_resource {
    target = aws_iam_role_policy.run_machine
  }
  override_resource {
    target = aws_iam_role_policy.backfill_machine
  }
  override_resource {
    target = aws_cloudwatch_log_group.machines
  }
  override_resource {
    target = aws_cloudwatch_metric_alarm.machines
  }

  assert {
    condition = alltrue(flatten([
      for name in ["run_machine_role", "backfill_machine_role"] : [
        for s in jsondecode(output.policies.identity[name]).Statement :
        contains(["DeliverExecutionLogs", "XRayTraces"], s.Sid) || !contains(flatten([try(s.Resource, [])]), "*")
      ]
    ]))
    error_message = "Resource \"*\" only where AWS allows nothing else: log delivery and X-Ray."
  }
  assert {
    condition = alltrue(flatten([
      for name in ["run_machine_role", "backfill_machine_role"] : [
        for s in jsondecode(output.policies.identity[name]).Statement : [for a in flatten([s.Action]) : !strcontains(a, "*")] if s.Effect == "Allow"
      ]
    ]))
    error_message = "No rendered Allow action of a machine role may contain a wildcard."
  }
  assert {
    condition     = toset(flatten([for s in jsondecode(output.policies.identity.run_machine_role).Statement : flatten([s.Resource]) if s.Sid == "InvokeThisFunctionOnly"])) == toset(["arn:aws:lambda:eu-west-1:111122223333:function:lake-ingest-orders", "arn:aws:lambda:eu-west-1:111122223333:function:lake-ingest-orders:*"])
    error_message = "The machines invoke this function only, in both ARN forms."
  }
  assert {
    condition = (
      [for s in jsondecode(output.policies.identity.run_machine_role).Statement : s.Condition.StringLike["kms:EncryptionContext:aws:states:stateMachineArn"] if s.Sid == "UseKeyForOwnExecutionStateOnly"][0] == ["arn:aws:states:eu-west-1:111122223333:stateMachine:lake-ingest-orders-run", "arn:aws:states:eu-west-1:111122223333:stateMachine:lake-ingest-orders-run/*"] &&
      length([for s in jsondecode(output.policies.identity.run_machine_role).Statement : s if can(s.Condition.StringEquals["kms:ViaService"])]) == 0
    )
    error_message = "The run machine uses the key for its own state only, and without kms:ViaService (AWS warns it stops executions)."
  }
  assert {
    condition     = !strcontains(output.policies.identity.run_machine_role, "s3:")
    error_message = "The run machine has no S3 access at all."
  }
  assert {
    condition = [for s in jsondecode(output.policies.identity.backfill_machine_role).Statement : s if s.Effect == "Deny"] == [{
      Sid = "DenyS3OutsideOwnBackfills", Effect = "Deny", Action = "s3:*", NotResource = "arn:aws:s3:::lake-ingest-orders-raw-x/orders/_backfill/*"
    }]
    error_message = "The backfill machine's one deny: S3 outside the source's _backfill/, whatever else is attached."
  }
  assert {
    condition = [
      for role in [aws_iam_role.this, one(aws_iam_role.scheduler), one(aws_iam_role.run_machine), one(aws_iam_role.backfill_machine)] : [role.permissions_boundary, role.path]
    ] == [for i in range(4) : ["arn:aws:iam::111122223333:policy/platform/lake-boundary", "/platform/lake-ingest/"]]
    error_message = "Every role the module creates (function, scheduler, run and backfill machines) takes role_permissions_boundary and role_path."
  }
  assert {
    condition     = jsondecode(output.policies.trust.backfill_machine_role).Statement[0].Condition == { ArnEquals = { "aws:SourceArn" = ["arn:aws:states:eu-west-1:111122223333:stateMachine:lake-ingest-orders-backfill", "arn:aws:states:eu-west-1:111122223333:stateMachine:lake-ingest-orders-backfill/windows"] }, StringEquals = { "aws:SourceAccount" = "111122223333" } }
    error_message = "The backfill machine's role trusts Step Functions for that machine of this account only: the machine and its labelled Distributed Map children, both exact (ArnEquals, no wildcard)."
  }
  assert {
    condition = (
      jsondecode(output.backfill_operator_policy_json) == jsondecode(output.policies.identity.backfill_operator) &&
      alltrue(flatten([for s in jsondecode(output.backfill_operator_policy_json).Statement : [for a in flatten([s.Action]) : !strcontains(a, "*")]])) &&
      alltrue([for s in jsondecode(output.backfill_operator_policy_json).Statement : s.Effect == "Allow" && !contains(flatten([s.Resource]), "*")]) &&
      [for s in jsondecode(output.backfill_operator_policy_json).Statement : s.Condition if s.Sid == "ListOwnBackfillsOnly"][0] == { StringEquals = { "aws:ResourceAccount" = "111122223333" }, StringLike = { "s3:prefix" = "orders/_backfill/*" } } &&
      [for s in jsondecode(output.backfill_operator_policy_json).Statement : s.Condition if s.Sid == "UseKeyViaS3ForOwnPrefixOnly"][0] == { StringEquals = { "kms:ViaService" = "s3.eu-west-1.amazonaws.com" }, StringLike = { "kms:EncryptionContext:aws:s3:arn" = ["arn:aws:s3:::lake-ingest-orders-raw-x", "arn:aws:s3:::lake-ingest-orders-raw-x/orders/*"] } }
    )
    error_message = "The rendered backfill operator policy: no wildcard action or resource, listing confined to its _backfill/, the key only through S3 for this bucket and prefix; also listed in policies.identity."
  }
}


# The records zone (issue 21): the Glue tables and named queries as the provider receives them, and the
# source's reader policy as rendered.
run "records_tables_queries_and_reader_as_rendered" {
  command   = apply
  state_key = "records"
  variables {
    api_config = {
      endpoint     = "https://api.example.com/v1/orders"
      auth         = { type = "bearer", secret_field = "api_key" }
      records_path = "data.items"
      query_params = { since = "{cursor}" }
      incremental  = { type = "cursor", cursor_path = "seq", cursor_type = "number", initial_value = 0 }
    }
    table = {
      columns     = { id = "string", amount = "decimal(12,2)" }
      primary_key = ["id"]
    }
  }

  assert {
    condition = aws_glue_catalog_table.this["records"].parameters == tomap({
      "classification"                       = "json"
      "projection.enabled"                   = "true"
      "projection.ingest_date.type"          = "date"
      "projection.ingest_date.format"        = "yyyy-MM-dd"
      "projection.ingest_date.range"         = "NOW-10YEARS,NOW+1DAYS"
      "projection.ingest_date.interval"      = "1"
      "projection.ingest_date.interval.unit" = "DAYS"
      "storage.location.template"            = "s3://lake-ingest-orders-raw-x/orders/records/ingest_date=$${ingest_date}/"
    }) && aws_glue_catalog_table.this["published"].parameters["storage.location.template"] == "s3://lake-ingest-orders-raw-x/orders/published/ingest_date=$${ingest_date}/"
    error_message = "Projection parameters, with the exact location templates of both tables."
  }
  assert {
    condition = (
      jsonencode([for c in one(aws_glue_catalog_table.this["records"].storage_descriptor).columns : "${c.name} ${c.type}"]) == jsonencode(["run_id string", "attempt int", "page int", "record_index int", "ingested_at timestamp", "record string", "cursor_value double", "amount decimal(12,2)", "id string"]) &&
      jsonencode([for c in one(aws_glue_catalog_table.this["published"].storage_descriptor).columns : "${c.name} ${c.type}"]) == jsonencode(["run_id string", "attempt int", "page int", "records bigint", "object string", "published_at timestamp"]) &&
      aws_glue_catalog_table.this["records"].database_name == "lake_ingest_orders" && aws_glue_catalog_table.this["records"].table_type == "EXTERNAL_TABLE"
    )
    error_message = "A number-cursor source's records table: the fixed columns, cursor_value double, then the declared columns; the published table's columns."
  }
  assert {
    condition     = aws_athena_named_query.this["latest"].query == <<-SQL
      -- One row per primary key: the newest version of each record among the complete runs (by the
      -- source's cursor, then by when it was ingested), so the lookback overlap and re-fetches disappear.
      SELECT *
      FROM (
        SELECT
          r.*,
          row_number() OVER (PARTITION BY r."id" ORDER BY r.cursor_value DESC NULLS LAST, r.ingested_at DESC, r.page DESC, r.record_index DESC) AS row_rank
        FROM "lake_ingest_orders"."orders" AS r
        JOIN "lake_ingest_orders"."orders_published" AS p
          ON p.ingest_date = r.ingest_date
          AND p.run_id = r.run_id
          AND p.attempt = r.attempt
          AND p.page = r.page
      ) AS ranked
      WHERE row_rank = 1
    SQL
    error_message = "orders-latest, rendered from queries/latest.sql: partitioned by the primary key, newest first by cursor, ingestion time, page and index."
  }
  assert {
    condition     = aws_athena_named_query.this["complete"].query == <<-SQL
      -- Every record of the source's complete runs, each once. A run's records become visible when its
      -- manifest says it is complete: it then publishes the list of its pages, and only listed pages are
      -- joined (a run still going, stopped incomplete, quarantined or being re-run is not). Filter on
      -- r.ingest_date to read only the days you need (the partitions Athena projects).
      SELECT r.*
      FROM "lake_ingest_orders"."orders" AS r
      JOIN "lake_ingest_orders"."orders_published" AS p
        ON p.ingest_date = r.ingest_date
        AND p.run_id = r.run_id
        AND p.attempt = r.attempt
        AND p.page = r.page
    SQL
    error_message = "orders-complete, rendered from queries/complete.sql."
  }
  assert {
    condition     = strcontains(aws_athena_named_query.this["runs"].query, "FROM \"lake_ingest_orders\".\"orders_published\"\nGROUP BY ingest_date, run_id, attempt") && aws_athena_named_query.this["runs"].workgroup == "lake-ingest-orders"
    error_message = "orders-runs reads the published table, in the own lake's workgroup."
  }
  assert {
    condition = (
      [for s in jsondecode(output.reader_policy_json).Statement : s.Sid] == ["RunQueriesInTheLakeWorkgroupOnly", "ReadTheChosenSourcesTablesOnly", "ReadTheChosenSourcesRecordsOnly", "ListTheChosenRecordsAndResultsOnly", "WriteAndReadQueryResultsOnly", "LocateTheLakeBucket", "UseKeyViaS3ForTheChosenDataOnly"] &&
      alltrue([for s in jsondecode(output.reader_policy_json).Statement : s.Effect == "Allow" && !contains(flatten([s.Resource]), "*") && alltrue([for a in flatten([s.Action]) : !strcontains(a, "*")])]) &&
      toset(flatten([[for s in jsondecode(output.reader_policy_json).Statement : s.Resource if s.Sid == "ReadTheChosenSourcesRecordsOnly"]])) == toset(["arn:aws:s3:::lake-ingest-orders-raw-x/orders/records/*", "arn:aws:s3:::lake-ingest-orders-raw-x/orders/published/*"]) &&
      [for s in jsondecode(output.reader_policy_json).Statement : s.Condition if s.Sid == "ListTheChosenRecordsAndResultsOnly"][0] == { StringEquals = { "aws:ResourceAccount" = "111122223333" }, StringLike = { "s3:prefix" = ["orders/records/", "orders/records/*", "orders/published/", "orders/published/*", "_athena/", "_athena/*"] } } &&
      [for s in jsondecode(output.reader_policy_json).Statement : s.Condition if s.Sid == "UseKeyViaS3ForTheChosenDataOnly"][0] == { StringEquals = { "kms:ViaService" = "s3.eu-west-1.amazonaws.com" }, StringLike = { "kms:EncryptionContext:aws:s3:arn" = ["arn:aws:s3:::lake-ingest-orders-raw-x", "arn:aws:s3:::lake-ingest-orders-raw-x/orders/records/*", "arn:aws:s3:::lake-ingest-orders-raw-x/orders/published/*", "arn:aws:s3:::lake-ingest-orders-raw-x/_athena/*"] } } &&
      toset(flatten([[for s in jsondecode(output.reader_policy_json).Statement : s.Resource if s.Sid == "ReadTheChosenSourcesTablesOnly"]])) == toset(["arn:aws:glue:eu-west-1:111122223333:catalog", "arn:aws:glue:eu-west-1:111122223333:database/lake_ingest_orders", "arn:aws:glue:eu-west-1:111122223333:table/lake_ingest_orders/orders", "arn:aws:glue:eu-west-1:111122223333:table/lake_ingest_orders/orders_published"])
    )
    error_message = "The rendered reader policy: no wildcard action or resource; the source's records and published lists, listing only there and under _athena/, its two tables, the key only via S3 for those objects."
  }
  assert {
    condition     = contains([for s in jsondecode(output.policies.identity.function_role).Statement : s.Resource if s.Sid == "ReadOwnManifestsAndStateOnly"][0], "arn:aws:s3:::lake-ingest-orders-raw-x/orders/_state/schema.json")
    error_message = "The function reads back its schema state (the last complete run's fields)."
  }
}
