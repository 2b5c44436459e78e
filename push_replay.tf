# Replay protection: the ingress claims each request's key (a digest of its signature, or of its event
# id) with a conditional PutItem before it queues the event; a second claim of the same key is refused
# as replayed. Items expire with DynamoDB's TTL on expires_at (epoch seconds); deletion is best effort
# and may lag, which the claim's own condition on expires_at covers
# (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ttl-expired-items.html).

resource "aws_dynamodb_table" "replay" {
  #checkov:skip=CKV_AWS_119:AWS-owned key on purpose: the table holds only sha256 digests and timestamps, no event data. With a customer managed key DynamoDB uses the key on behalf of each caller (the ingress role would need Encrypt, Decrypt, ReEncrypt, GenerateDataKey, DescribeKey and CreateGrant on the lake key via DynamoDB: https://docs.aws.amazon.com/kms/latest/developerguide/services-dynamodb.html), a grant the lake's key does not otherwise give.
  count = local.push_replay_store ? 1 : 0

  name         = local.replay_table_name
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "pk"

  attribute {
    name = "pk"
    type = "S"
  }

  ttl {
    attribute_name = "expires_at"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = true
  }

  tags = local.tags
}
