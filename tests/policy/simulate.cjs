'use strict'
// Evaluates IAM requests offline with @cloud-copilot/iam-simulate, which implements AWS's documented
// policy evaluation logic (identity, resource and boundary policies; every condition operator with its
// Null/IfExists semantics; policy variables; same- and cross-account; trust and KMS key-policy rules).
//
// Usage: node simulate.cjs <node_modules dir>   (JSON on stdin, JSON on stdout)
//   in:  {"simulations": [{"id", "principal", "action", "resource", "resourceAccount", "context",
//          "identityPolicies": [{"name", "policy"}], "permissionBoundaries": [{"name", "policy"}],
//          "resourcePolicy": {"name", "policy", "kind": "resource" | "trust"} | null}]}
//   out: {"results": [{"id", "decision", "engine", "matched": [{"policy", "sid", "effect"}], "errors"}]}
//
// Two engines, one decision. runSimulation validates the request (action, resource type, every context
// key against the service's documented keys) and evaluates it; it drops context keys whose variable
// part contains ':' (kms:EncryptionContext:aws:s3:arn), a gap of its validation only. For requests with
// such keys the decision comes from the core evaluator the library's own runUnsafeSimulation uses,
// called with the same inputs; for all others both engines run and must agree.
const path = require('node:path')
const { createRequire } = require('node:module')

const modules = process.argv[2]
const requireThere = createRequire(path.join(modules, 'index.js'))
const internal = (file) => require(path.join(modules, '@cloud-copilot/iam-simulate/dist/cjs', file))
const simulate = requireThere('@cloud-copilot/iam-simulate')
const policyLib = requireThere('@cloud-copilot/iam-policy')
const core = internal('core_engine/CoreSimulatorEngine.js')
const requestLib = internal('request/request.js')
const contextLib = internal('requestContext.js')
const discovery = internal('context_keys/discoveryContextKeyConstraints.js')

const ENCRYPTION_CONTEXT = /^kms:encryptioncontext:/i

function validationErrors(sim) {
  const errors = []
  const check = (label, policy, validate) => {
    for (const e of validate(policy)) errors.push(`${label}: ${e.message || JSON.stringify(e)}`)
  }
  for (const p of sim.identityPolicies) check(`identity policy ${p.name}`, p.policy, policyLib.validateIdentityPolicy)
  for (const p of sim.permissionBoundaries || []) check(`boundary ${p.name}`, p.policy, policyLib.validateIdentityPolicy)
  if (sim.resourcePolicy) {
    const validate = sim.resourcePolicy.kind === 'trust' ? policyLib.validateTrustPolicy : policyLib.validateResourcePolicy
    check(`resource policy ${sim.resourcePolicy.name}`, sim.resourcePolicy.policy, validate)
  }
  return errors
}

function simulation(sim) {
  return {
    request: {
      principal: sim.principal,
      action: sim.action,
      resource: { resource: sim.resource, accountId: sim.resourceAccount },
      contextVariables: sim.context,
    },
    identityPolicies: sim.identityPolicies,
    permissionBoundaryPolicies: sim.permissionBoundaries && sim.permissionBoundaries.length ? sim.permissionBoundaries : undefined,
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    resourcePolicy: sim.resourcePolicy ? sim.resourcePolicy.policy : undefined,
  }
}

// What runUnsafeSimulation does, returning the whole analysis (it returns only the decision) and
// naming every policy (it leaves the resource policy unnamed).
function coreAnalysis(sim) {
  const load = (p) => policyLib.loadPolicy(p.policy, { name: p.name })
  const request = new requestLib.AwsRequestImpl(
    sim.principal,
    { resource: sim.resource, accountId: sim.resourceAccount },
    sim.action,
    new contextLib.RequestContextImpl(sim.context),
  )
  return core.authorize({
    request,
    sessionPolicy: undefined,
    identityPolicies: sim.identityPolicies.map(load),
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    resourcePolicy: sim.resourcePolicy ? load(sim.resourcePolicy) : undefined,
    permissionBoundaries: sim.permissionBoundaries && sim.permissionBoundaries.length ? sim.permissionBoundaries.map(load) : undefined,
    vpcEndpointPolicies: undefined,
    simulationParameters: {
      simulationMode: 'Strict',
      discoveryContextKeyConstraints: new discovery.DiscoveryContextKeyConstraints([]),
    },
    serviceSettings: { s3: { blockPublicAccess: undefined } },
  })
}

function matched(analysis, resourcePolicyName) {
  const found = []
  const take = (part, fallback) => {
    if (!part) return
    for (const kind of ['allowStatements', 'denyStatements']) {
      for (const s of part[kind] || []) {
        const statement = typeof s.statement.toJSON === 'function' ? s.statement.toJSON() : s.statement
        found.push({ policy: s.policyId || fallback, sid: statement.Sid || null, effect: statement.Effect })
      }
    }
  }
  take(analysis.identityAnalysis, 'identity')
  take(analysis.resourceAnalysis, resourcePolicyName)
  take(analysis.permissionBoundaryAnalysis, 'boundary')
  return found
}

async function evaluate(sim) {
  const errors = validationErrors(sim)
  const checked = await simulate.runSimulation(simulation(sim), {})
  if (checked.resultType === 'error') {
    return { id: sim.id, decision: null, engine: null, matched: [], errors: [...errors, JSON.stringify(checked.errors)] }
  }
  if (checked.resultType !== 'single') {
    return { id: sim.id, decision: null, engine: null, matched: [], errors: [...errors, `expected one resource, got ${checked.resultType}`] }
  }
  const ignored = checked.result.ignoredContextKeys || []
  const invalid = ignored.filter((k) => !ENCRYPTION_CONTEXT.test(k))
  for (const key of invalid) errors.push(`context key ${key} is not one AWS documents for ${sim.action}`)
  const analysis = coreAnalysis(sim)
  if (ignored.length === 0 && analysis.result !== checked.result.analysis.result) {
    errors.push(`engines disagree: runSimulation ${checked.result.analysis.result}, core ${analysis.result}`)
  }
  return {
    id: sim.id,
    decision: analysis.result,
    engine: ignored.length ? 'core' : 'both',
    matched: matched(analysis, sim.resourcePolicy ? sim.resourcePolicy.name : null),
    errors,
  }
}

async function main() {
  const chunks = []
  for await (const chunk of process.stdin) chunks.push(chunk)
  const { simulations } = JSON.parse(Buffer.concat(chunks).toString('utf8'))
  const results = []
  for (const sim of simulations) {
    try {
      results.push(await evaluate(sim))
    } catch (error) {
      results.push({ id: sim.id, decision: null, engine: null, matched: [], errors: [String(error && error.stack || error)] })
    }
  }
  process.stdout.write(JSON.stringify({ results }))
}

main().catch((error) => {
  process.stderr.write(String(error && error.stack || error) + '\n')
  process.exit(2)
})
