# API_CONFIG checked against its JSON Schema at plan time, with Terraform built-ins only.
#
# The schema (lambda_src/lake_ingest/api_config.schema.json) is the one source of what API_CONFIG
# may hold; the handler checks the same schema at run time (lake_ingest/schema.py) with the same
# messages. Terraform has no recursion, so this walks the shapes the schema has: top-level options
# (scalars, lists, maps) and objects of options (auth, pagination) whose `type` decides which
# options they take (allOf of if/then clauses). Values are typed through jsonencode, which tells a
# string "30" from the number 30. Null means unset: a map(object(...)) input fills absent
# attributes with null. Checks run in stages, as in the handler: missing required options first,
# then unknown options, then values.

locals {
  schema = jsondecode(file("${path.module}/../../lambda_src/lake_ingest/api_config.schema.json"))
  props  = local.schema.properties

  # Every check lives in problems.tftpl, one expression whose steps are bound with single-item `for`
  # directives: the root module's `variable "api_config"` validation renders the same template, so
  # a mistake is reported on the caller's own `api_config = ...` line (a validation may not refer to
  # anything computed from its own variable, such as this module's outputs: that is a cycle).
  problems = jsondecode(templatefile("${path.module}/problems.tftpl", {
    api_config          = var.api_config
    allow_http_loopback = var.allow_http_loopback
    root                = var.name
    schema              = local.schema
  }))

  given = try({ for k, v in var.api_config : k => v if v != null }, {})
  # The options that hold objects of options (auth, pagination, incremental), given as objects.
  nested_names = [for k, spec in local.props : k if try(spec.type, "") == "object" && can(spec.properties)]
  nested = {
    for k in local.nested_names : k => { for k2, v2 in local.given[k] : k2 => v2 if v2 != null }
    if contains(keys(local.given), k) && can(regex("^\\{", jsonencode(local.given[k])))
  }

  # What the function runs with: the schema's top-level defaults, then the caller's options (objects
  # of options without their unset attributes; options inside them default as the schema says), the
  # method in capitals. Null while there are problems.
  defaults = { for k, spec in local.props : k => spec.default if can(spec.default) }
  rendered = length(local.problems) > 0 ? null : merge(
    local.defaults,
    local.given,
    local.nested,
    { method = upper(try(tostring(local.given.method), local.defaults.method)) },
  )
}
