// A validator for the subset of JSON Schema that schema/mesh.schema.json uses (type, const, enum,
// required, properties, additionalProperties: false, items, minItems, minLength, maxLength,
// pattern, oneOf). Pure: a value in, every problem out, each with the path of the field.

export type Path = Array<string | number>

export interface SchemaProblem {
  path: Path
  message: string
}

export interface JsonSchema {
  type?: 'object' | 'array' | 'string' | 'boolean' | 'integer' | 'number'
  const?: unknown
  enum?: unknown[]
  required?: string[]
  properties?: Record<string, JsonSchema>
  additionalProperties?: boolean
  items?: JsonSchema
  minItems?: number
  minLength?: number
  maxLength?: number
  pattern?: string
  oneOf?: JsonSchema[]
  description?: string
  [k: string]: unknown
}

const typeOf = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'array' : Number.isInteger(v) ? 'integer' : typeof v)
const show = (v: unknown) => JSON.stringify(v)

export function validateSchema(schema: JsonSchema, value: unknown, path: Path = []): SchemaProblem[] {
  const problems: SchemaProblem[] = []
  const at = (message: string, p: Path = path) => problems.push({path: p, message})
  if (schema.oneOf) {
    const results = schema.oneOf.map((s) => validateSchema(s, value, path))
    if (results.some((r) => r.length === 0)) return []
    // The alternative of the value's own type explains best; else list what is allowed.
    const sameType = schema.oneOf.findIndex((s) => s.type !== undefined && (s.type === typeOf(value) || (s.type === 'number' && typeof value === 'number')))
    if (sameType >= 0) return results[sameType]
    at(`must be ${schema.oneOf.map((s) => (s.const !== undefined ? show(s.const) : `a${s.type === 'array' || s.type === 'object' ? 'n' : ''} ${s.type}`)).join(' or ')}`)
    return problems
  }
  if (schema.const !== undefined && value !== schema.const) {
    at(`must be ${show(schema.const)}${value === undefined ? '' : `, not ${show(value)}`}`)
    return problems
  }
  if (schema.enum && !schema.enum.includes(value)) {
    at(`must be one of ${schema.enum.map(show).join(', ')}, not ${show(value)}`)
    return problems
  }
  if (schema.type) {
    const t = typeOf(value)
    const ok = schema.type === t || (schema.type === 'number' && t === 'integer')
    if (!ok) {
      at(`must be a${/^[aeiou]/.test(schema.type) ? 'n' : ''} ${schema.type}, not ${t === 'null' ? 'empty' : `${/^[aeiou]/.test(t) ? 'an' : 'a'} ${t}`}`)
      return problems
    }
  }
  if (typeof value === 'string') {
    if (schema.minLength !== undefined && value.length < schema.minLength) at(schema.minLength === 1 ? 'must not be empty' : `must have at least ${schema.minLength} characters`)
    if (schema.maxLength !== undefined && value.length > schema.maxLength) at(`must have at most ${schema.maxLength} characters`)
    if (schema.pattern !== undefined && !new RegExp(schema.pattern).test(value)) at(`${show(value)} does not match ${schema.pattern}`)
  }
  if (Array.isArray(value)) {
    if (schema.minItems !== undefined && value.length < schema.minItems) at(`must have at least ${schema.minItems} item${schema.minItems === 1 ? '' : 's'}`)
    if (schema.items) for (const [i, item] of value.entries()) problems.push(...validateSchema(schema.items, item, [...path, i]))
  }
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const obj = value as Record<string, unknown>
    for (const r of schema.required ?? []) if (obj[r] === undefined) at(`is required`, [...path, r])
    for (const [k, v] of Object.entries(obj)) {
      const sub = schema.properties?.[k]
      if (sub) problems.push(...validateSchema(sub, v, [...path, k]))
      else if (schema.additionalProperties === false) at(`is not a known field${schema.properties ? ` (known: ${Object.keys(schema.properties).join(', ')})` : ''}`, [...path, k])
    }
  }
  return problems
}

/** `spec.clusters[1].context` */
export function formatPath(path: Path): string {
  let out = ''
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out === '' ? p : `.${p}`
  return out || '(document)'
}
