variable "api_config" {
  description = "The API_CONFIG to check and render: an object as docs/handler-contract.md#api_config describes (any type, so that a misspelled option survives to be reported instead of being dropped)."
  type        = any
}

variable "allow_http_loopback" {
  description = "Whether a plain http:// endpoint on a loopback host is acceptable (local testing only)."
  type        = bool
  default     = false
  nullable    = false
}

variable "name" {
  description = "How messages name the checked value, e.g. \"api_config\" or \"sources.orders.api_config\"."
  type        = string
  default     = "api_config"
  nullable    = false
}
