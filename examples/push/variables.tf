variable "region" {
  description = "AWS region for the lake and its sources."
  type        = string
  default     = "eu-west-1"
}

variable "aws_endpoint" {
  description = "Only for trying it locally: URL of a local AWS (moto server) that every AWS call goes to, e.g. http://127.0.0.1:5000. Null (default): real AWS."
  type        = string
  default     = null

  validation {
    condition     = var.aws_endpoint == null || can(regex("^http://(127\\.[0-9.]+|localhost)(:[0-9]+)?$", coalesce(var.aws_endpoint, "x")))
    error_message = "aws_endpoint must be a loopback http URL such as http://127.0.0.1:5000 (or null for real AWS)."
  }
}

variable "batch_window_seconds" {
  description = "How long each source's writer gathers events before writing one object (push.batch.window_seconds): a minute by default; the local demo and tests use a second or two to see rows at once."
  type        = number
  default     = 60

  validation {
    condition     = var.batch_window_seconds >= 1 && var.batch_window_seconds <= 300
    error_message = "batch_window_seconds must be 1 to 300 (Lambda's MaximumBatchingWindowInSeconds for SQS)."
  }
}
