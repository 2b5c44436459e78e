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
  root   = var.name

  type_names = {
    string  = "a string", number = "a number", integer = "a whole number",
    boolean = "true or false", object = "an object", array = "a list", null = "null"
  }

  given_is_object = can(regex("^\\{", jsonencode(var.api_config)))
  given           = try({ for k, v in var.api_config : k => v if v != null }, {})

  # The options that hold objects of options (auth, pagination), and those given as objects.
  nested_names = [for k, spec in local.props : k if try(spec.type, "") == "object" && can(spec.properties)]
  nested = {
    for k in local.nested_names : k => { for k2, v2 in local.given[k] : k2 => v2 if v2 != null }
    if contains(keys(local.given), k) && can(regex("^\\{", jsonencode(local.given[k])))
  }

  # -- stage 1 and 2 at the top: required, then unknown --------------------------------------------
  top_missing = [for k in local.schema.required : "${local.root}.${k}: is required" if !contains(keys(local.given), k)]
  top_unknown = [
    for k in sort(keys(local.given)) :
    "${local.root}.${k}: is not an option; the options are: ${join(", ", sort(keys(local.props)))}"
    if !contains(keys(local.props), k)
  ]

  # -- values: every (path, value, spec) to check, as JSON text so that types may differ -----------
  level1 = [
    for k in sort(keys(local.given)) : {
      path = "${local.root}.${k}", json = jsonencode(local.given[k]), spec = jsonencode(local.props[k])
    } if contains(keys(local.props), k) && !contains(local.nested_names, k)
  ]
  nested_leaves = flatten([
    for k, obj in local.nested : [
      for k2 in sort(keys(obj)) : {
        path = "${local.root}.${k}.${k2}", json = jsonencode(obj[k2]), spec = jsonencode(local.props[k].properties[k2])
      } if contains(keys(local.props[k].properties), k2)
    ] if length(local.nested_problems[k]) == 0
  ])
  leaves = concat(local.level1, local.nested_leaves)

  leaf = [for l in local.leaves : {
    path = l.path
    json = l.json
    spec = jsondecode(l.spec)
    kind = (
      can(regex("^\"", l.json)) ? "string" :
      can(regex("^-?[0-9]+$", l.json)) ? "integer" :
      can(regex("^-?[0-9]", l.json)) ? "number" :
      contains(["true", "false"], l.json) ? "boolean" :
      can(regex("^\\{", l.json)) ? "object" :
      can(regex("^\\[", l.json)) ? "array" : "null"
    )
  }]
  # A user:password@ in a URL is masked in messages (a message must not repeat a credential).
  shown = { for l in local.leaf : l.path => replace(l.json, "/\\/\\/[^/@\\s]*@/", "//***@") }

  # The type first; nothing else is checked on a value of the wrong type.
  leaf_problems = flatten([for l in local.leaf : (
    !(length(flatten([try(l.spec.type, [])])) == 0 || contains(flatten([try(l.spec.type, [])]), l.kind) || (l.kind == "integer" && contains(flatten([try(l.spec.type, [])]), "number"))) ?
    ["${l.path}: is ${local.shown[l.path]}; it must be ${join(" or ", [for t in flatten([l.spec.type]) : local.type_names[t]])}"] :
    concat(
      try(l.spec.enum, null) != null && !try(contains(l.spec.enum, jsondecode(l.json)), false) ?
      ["${l.path}: is ${local.shown[l.path]}; it must be one of ${join(", ", l.spec.enum)}"] : [],
      contains(["integer", "number"], l.kind) && can(l.spec.minimum) && !(try(jsondecode(l.json) >= l.spec.minimum && jsondecode(l.json) <= l.spec.maximum, false)) ?
      ["${l.path}: is ${local.shown[l.path]}; it must be from ${l.spec.minimum} to ${l.spec.maximum}"] : [],
      l.kind == "string" && try(length(jsondecode(l.json)) < l.spec.minLength, false) ?
      ["${l.path}: must not be empty"] : [],
      l.kind == "string" && can(l.spec.pattern) && !try(length(jsondecode(l.json)) < l.spec.minLength, false) && !can(regex(try(l.spec.pattern, ""), jsondecode(l.json))) ?
      ["${l.path}: is ${local.shown[l.path]}; it must be ${try(l.spec["x-hint"], "text matching ${try(l.spec.pattern, "")}")}"] : [],
      l.kind == "array" && try(length(jsondecode(l.json)) < l.spec.minItems, false) ?
      ["${l.path}: must not be empty"] : [],
    )
  )])

  # Lists and maps: their items, and their values (additionalProperties), once they have the right type.
  level2 = flatten([
    for l in local.leaf : concat(
      l.kind == "array" && can(l.spec.items) ? [
        for i, item in jsondecode(l.json) : { path = "${l.path}[${i}]", json = jsonencode(item), spec = jsonencode(l.spec.items) }
      ] : [],
      l.kind == "object" && can(l.spec.additionalProperties.type) ? [
        for k in sort(keys(jsondecode(l.json))) : { path = "${l.path}.${k}", json = jsonencode(jsondecode(l.json)[k]), spec = jsonencode(l.spec.additionalProperties) }
      ] : [],
    ) if !contains([for p in local.leaf_problems : split(": ", p)[0]], l.path)
  ])
  level2_leaf = [for l in local.level2 : {
    path = l.path
    json = l.json
    spec = jsondecode(l.spec)
    kind = (
      can(regex("^\"", l.json)) ? "string" :
      can(regex("^-?[0-9]+$", l.json)) ? "integer" :
      can(regex("^-?[0-9]", l.json)) ? "number" :
      contains(["true", "false"], l.json) ? "boolean" :
      can(regex("^\\{", l.json)) ? "object" :
      can(regex("^\\[", l.json)) ? "array" : "null"
    )
  }]
  level2_problems = flatten([for l in local.level2_leaf : (
    !(length(flatten([try(l.spec.type, [])])) == 0 || contains(flatten([try(l.spec.type, [])]), l.kind) || (l.kind == "integer" && contains(flatten([try(l.spec.type, [])]), "number"))) ?
    ["${l.path}: is ${l.json}; it must be ${join(" or ", [for t in flatten([l.spec.type]) : local.type_names[t]])}"] :
    l.kind == "string" && can(l.spec.pattern) && !can(regex(try(l.spec.pattern, ""), jsondecode(l.json))) ?
    ["${l.path}: is ${l.json}; it must be ${try(l.spec["x-hint"], "text matching ${try(l.spec.pattern, "")}")}"] : []
  )])

  # -- objects of options (auth, pagination): required, then unknown for their type, then values ---
  nested_type_problems = {
    for k in local.nested_names : k => ["${local.root}.${k}: is ${jsonencode(local.given[k])}; it must be an object"]
    if contains(keys(local.given), k) && !contains(keys(local.nested), k)
  }
  clause = {
    for k, obj in local.nested : k => one(concat([
      for c in try(local.props[k].allOf, []) : {
        allowed  = c.then.propertyNames.enum
        required = try(c.then.required, [])
        name     = "${k} type \"${c.if.properties.type.const}\""
      } if try(obj.type, null) == c.if.properties.type.const
    ], []))
  }
  nested_problems = {
    for k, obj in local.nested : k => (
      length([for r in local.props[k].required : r if !contains(keys(obj), r)]) > 0 ?
      [for r in local.props[k].required : "${local.root}.${k}.${r}: is required" if !contains(keys(obj), r)] :
      concat(
        [
          for k2 in sort(keys(obj)) : (
            local.clause[k] != null ?
            "${local.root}.${k}.${k2}: is not an option of ${local.clause[k].name}; its options are: ${join(", ", local.clause[k].allowed)}" :
            "${local.root}.${k}.${k2}: is not an option; the options are: ${join(", ", sort(keys(local.props[k].properties)))}"
          ) if local.clause[k] != null ? !contains(local.clause[k].allowed, k2) : !contains(keys(local.props[k].properties), k2)
        ],
        [for r in try(local.clause[k].required, []) : "${local.root}.${k}.${r}: is required for ${local.clause[k].name}" if !contains(keys(obj), r)],
        flatten([
          for key in sort(keys(try(local.props[k].dependentRequired, {}))) : [
            for need in local.props[k].dependentRequired[key] : "${local.root}.${k}.${need}: is required with ${key}" if !contains(keys(obj), need)
          ] if contains(keys(obj), key)
        ]),
      )
    )
  }

  schema_problems = (
    !local.given_is_object ? ["${local.root}: is ${jsonencode(var.api_config)}; it must be an object"] :
    length(local.top_missing) > 0 ? local.top_missing :
    length(local.top_unknown) > 0 ? local.top_unknown :
    concat(flatten(values(local.nested_type_problems)), flatten(values(local.nested_problems)), local.leaf_problems, local.level2_problems)
  )

  # -- rules across fields (the handler applies the same ones, lake_ingest/config.py) ---------------
  credential_pattern = local.schema["x-credential-name-pattern"]
  # Names declared harmless (non_secret_names), as the rule reads names: lowercase, without - _ .
  non_secret = [for n in try(tolist(local.given.non_secret_names), []) : replace(lower(tostring(n)), "/[-_.]/", "")]
  endpoint   = try(tostring(local.given.endpoint), "")
  credential_urls = merge(
    { endpoint = local.endpoint },
    can(tostring(local.nested.auth.token_url)) ? { "auth.token_url" = tostring(local.nested.auth.token_url) } : {},
  )
  rule_problems = concat(
    flatten([
      for name in ["headers", "query_params"] : [
        for key in sort(try(keys(local.given[name]), [])) : "${local.root}.${name}.${key}: looks like a credential; use auth and keep the value in the secret (if '${key}' carries none, list it in non_secret_names)"
        if can(regex(local.credential_pattern, replace(lower(key), "/[-_.]/", ""))) && !contains(local.non_secret, replace(lower(key), "/[-_.]/", ""))
      ]
    ]),
    # The endpoint and an OAuth2 token_url: credentials go to both, so both follow the same rules.
    flatten([
      for where, url in local.credential_urls : concat(
        [
          for pair in split("&", try(split("?", split("#", url)[0])[1], "")) : "${local.root}.${where}: query parameter '${split("=", pair)[0]}' looks like a credential; use auth and keep the value in the secret (if '${split("=", pair)[0]}' carries none, list it in non_secret_names)"
          if pair != "" && can(regex(local.credential_pattern, replace(lower(split("=", pair)[0]), "/[-_.]/", ""))) && !contains(local.non_secret, replace(lower(split("=", pair)[0]), "/[-_.]/", ""))
        ],
        startswith(url, "http://") && !(var.allow_http_loopback && can(regex("^http://(127\\.[0-9.]+|localhost|\\[::1\\])(:[0-9]+)?([/?#]|$)", url))) ?
        ["${local.root}.${where}: must use https; plain http is accepted only for a loopback host (127.0.0.1, localhost, ::1) with allow_http_loopback = true, for local testing only"] : [],
      )
    ]),
    [
      for key in sort(try(keys(local.nested.auth.token_params), [])) : "${local.root}.auth.token_params.${key}: looks like a credential; keep credentials in the secret (client_id_field, client_secret_field, refresh_token_field)"
      if can(regex(local.credential_pattern, replace(lower(key), "/[-_.]/", ""))) && !contains(local.non_secret, replace(lower(key), "/[-_.]/", ""))
    ],
    contains(keys(local.given), "body") && upper(try(tostring(local.given.method), "GET")) != "POST" ?
    ["${local.root}.body: is allowed only with method POST"] : [],
  )

  # incremental: placeholders and the type belong together; lookback and initial_value follow cursor_type.
  incremental   = try(local.nested.incremental, {})
  inc_type      = try(local.incremental.type, "")
  inc_where     = "${local.root}.incremental"
  sent          = jsonencode([try(local.given.endpoint, null), try(local.given.query_params, null), try(local.given.body, null)])
  uses_window   = strcontains(local.sent, "{window_start}") || strcontains(local.sent, "{window_end}")
  uses_cursor   = strcontains(local.sent, "{cursor}")
  cursor_type   = try(local.incremental.cursor_type, "timestamp")
  lookback_json = jsonencode(try(local.incremental.lookback, null))
  initial_json  = jsonencode(try(local.incremental.initial_value, null))
  initial_text  = try(tostring(local.incremental.initial_value), "")
  placeholders  = "query_params, body or the endpoint's path or query"
  # The endpoint's scheme and host, and its fragment: placeholders there are never substituted.
  endpoint_outside = try(join("", [regex("^[^:]*://[^/?#]*", local.endpoint), try(split("#", local.endpoint)[1], "")]), "")
  incremental_problems = concat(
    local.uses_window && local.inc_type != "window" ? ["${local.inc_where}: {window_start} or {window_end} is used, so incremental must be of type window"] : [],
    local.uses_cursor && local.inc_type != "cursor" ? ["${local.inc_where}: {cursor} is used, so incremental must be of type cursor"] : [],
    local.inc_type == "window" && !local.uses_window ? ["${local.inc_where}: type window sends nothing: put {window_start} and/or {window_end} in ${local.placeholders}"] : [],
    local.inc_type == "cursor" && !local.uses_cursor ? ["${local.inc_where}: type cursor sends nothing: put {cursor} in ${local.placeholders}"] : [],
    [for name in sort(distinct([for m in regexall("\\{(window_start|window_end|cursor)\\}", local.endpoint_outside) : m[0]])) : "${local.root}.endpoint: {${name}} is in the scheme, host or fragment, where it is not substituted (a value must not choose where the request goes): put it in the path or the query"],
    local.inc_type != "cursor" ? [] : concat(
      local.cursor_type == "timestamp" && local.lookback_json != "null" && !can(regex("^\"[0-9]+(s|m|h|d)\"$", local.lookback_json)) ?
      ["${local.inc_where}.lookback: is ${local.lookback_json}; a timestamp cursor's lookback is a duration such as 10m"] : [],
      local.cursor_type == "timestamp" && !(can(regex("^-?[0-9]", local.initial_json)) || (can(regex("^\"", local.initial_json)) && (can(regex("^[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\\.[0-9]+)?)?)?(Z|[+-][0-9]{2}:?[0-9]{2})?$", local.initial_text)) || can(regex("^-?[0-9]+(\\.[0-9]+)?$", local.initial_text))))) ?
      ["${local.inc_where}.initial_value: is ${local.initial_json}; a timestamp cursor starts at an ISO 8601 time such as 2026-01-01T00:00:00Z (or epoch seconds, as a number or its digits)"] : [],
      local.cursor_type == "number" && local.lookback_json != "null" && !can(regex("^-?[0-9]", local.lookback_json)) ?
      ["${local.inc_where}.lookback: is ${local.lookback_json}; a number cursor's lookback is a number"] : [],
      local.cursor_type == "number" && !(can(regex("^-?[0-9]", local.initial_json)) || (can(regex("^\"", local.initial_json)) && can(regex("^-?[0-9]+(\\.[0-9]+)?$", local.initial_text)))) ?
      ["${local.inc_where}.initial_value: is ${local.initial_json}; a number cursor starts at a number"] : [],
      local.cursor_type == "string" && local.lookback_json != "null" ? ["${local.inc_where}.lookback: a string cursor has no lookback"] : [],
      local.cursor_type == "string" && !can(regex("^\"", local.initial_json)) ? ["${local.inc_where}.initial_value: is ${local.initial_json}; a string cursor starts at a string"] : [],
      local.cursor_type != "timestamp" && contains(keys(local.incremental), "future_skew") ? ["${local.inc_where}.future_skew: applies to timestamp cursors; a ${local.cursor_type} cursor has no future"] : [],
      local.cursor_type != "timestamp" && contains(keys(local.incremental), "format") ? ["${local.inc_where}.format: a ${local.cursor_type} cursor is sent as it is; format applies to timestamps"] : [],
    ),
  )

  problems = length(local.schema_problems) > 0 ? local.schema_problems : concat(local.rule_problems, local.incremental_problems)

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
