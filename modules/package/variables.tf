variable "source_dir" {
  description = "Folder whose files go into the zip root (for lake-ingest: lambda_src)."
  type        = string
}

variable "requirements_file" {
  description = "Fully pinned requirements installed into the zip as pure-Python wheels; null for none."
  type        = string
  default     = null
}

variable "python_version" {
  description = "Python version the dependencies are resolved for (the Lambda runtime's, e.g. 3.12)."
  type        = string
  default     = "3.12"

  validation {
    condition     = can(regex("^3\\.[0-9]{1,2}$", var.python_version))
    error_message = "python_version must look like 3.12."
  }
}

variable "build_dir" {
  description = "Where zips (named by content hash) and dependency installs are written. Relative paths keep plans portable."
  type        = string
}

variable "python_executable" {
  description = "Python interpreter (with pip) on the machine that runs terraform apply."
  type        = string
  default     = "python3"
}

variable "rebuild_triggers" {
  description = "Extra values that force a rebuild when they change, e.g. the function name (so a replaced function never finds its zip missing)."
  type        = map(string)
  default     = {}
}
