variable "aws_endpoint" {
  description = "URL of the local AWS (moto server), e.g. http://127.0.0.1:5000."
  type        = string

  validation {
    condition     = can(regex("^http://(127\\.[0-9.]+|localhost)(:[0-9]+)?$", var.aws_endpoint))
    error_message = "aws_endpoint must be a loopback http URL such as http://127.0.0.1:5000."
  }
}

variable "api_endpoint" {
  description = "Base URL of the local upstream API, e.g. http://127.0.0.1:8080."
  type        = string
}

variable "region" {
  description = "Region name the local AWS answers for."
  type        = string
  default     = "us-east-1"
}

variable "source_id" {
  description = "Source id of the demo source."
  type        = string
  default     = "demo-orders"
}
