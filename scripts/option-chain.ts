// How far a command's options object travels: from a function's options parameter, every function
// it is handed to (as itself, or spread into a new object), transitively, with the modules they
// live in. Uses the TypeScript checker to resolve each call to its declaration.
// With --fields, a value read from it (`o.force`, `o.report`) handed on counts too, and is followed.
// With --edges, also the calls between the functions reached (and how many cross a module) and
// the return statements in them: how far the values climb back.
//   node scripts/option-chain.ts [--fields] [--edges] [FILE FUNCTION PARAM]   default: src/link/service.ts link o
import ts from 'typescript'
import {relative, resolve} from 'node:path'

const fields = process.argv.includes('--fields')
const edgesToo = process.argv.includes('--edges')
const args = process.argv.slice(2).filter((a) => a !== '--fields' && a !== '--edges')
const [file, fn, param] = args.length >= 3 ? args : ['src/link/service.ts', 'link', 'o']
const root = resolve(import.meta.dirname, '..')
const config = ts.getParsedCommandLineOfConfigFile(resolve(root, 'tsconfig.check.json'), {}, {...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {}})!
const program = ts.createProgram(config.fileNames, config.options)
const checker = program.getTypeChecker()
const start = program.getSourceFile(resolve(root, file))!

type Fn = ts.FunctionLikeDeclaration
const name = (f: Fn) => `${relative(resolve(root, 'src'), f.getSourceFile().fileName)}:${(f.name && f.name.getText()) || (ts.isVariableDeclaration(f.parent) ? f.parent.name.getText() : '<anonymous>')}`
let startFn: Fn | undefined
ts.forEachChild(start, function find(n) {
  if (ts.isFunctionDeclaration(n) && n.name?.text === fn) startFn = n
  ts.forEachChild(n, find)
})
if (!startFn) throw new Error(`${fn} not found in ${file}`)

const seen = new Map<Fn, Set<string>>()
const queue: Array<[Fn, ts.Symbol]> = []
const add = (f: Fn, p: ts.ParameterDeclaration) => {
  const sym = ts.isIdentifier(p.name) ? checker.getSymbolAtLocation(p.name) : undefined
  const key = p.name.getText()
  if (!seen.has(f)) seen.set(f, new Set())
  if (sym && !seen.get(f)!.has(key)) {
    seen.get(f)!.add(key)
    queue.push([f, sym])
  }
}
add(startFn, startFn.parameters.find((p) => p.name.getText() === param)!)
const carries = (arg: ts.Expression, sym: ts.Symbol): boolean =>
  (ts.isIdentifier(arg) && checker.getSymbolAtLocation(arg) === sym) ||
  (fields && ts.isPropertyAccessExpression(arg) && carries(arg.expression, sym)) ||
  (fields && ts.isBinaryExpression(arg) && (carries(arg.left, sym) || carries(arg.right, sym))) ||
  (fields && ts.isObjectLiteralExpression(arg) && arg.properties.some((p) => ts.isPropertyAssignment(p) && carries(p.initializer, sym))) ||
  (ts.isObjectLiteralExpression(arg) && arg.properties.some((p) => ts.isSpreadAssignment(p) && carries(p.expression, sym)))
const declOf = (call: ts.CallExpression): Fn | undefined => {
  let s = checker.getSymbolAtLocation(call.expression)
  if (s && s.flags & ts.SymbolFlags.Alias) s = checker.getAliasedSymbol(s)
  const d = s?.valueDeclaration
  if (!d) return undefined
  if (ts.isFunctionLike(d) && 'body' in d) return d as Fn
  if (ts.isVariableDeclaration(d) && d.initializer && (ts.isArrowFunction(d.initializer) || ts.isFunctionExpression(d.initializer))) return d.initializer
  return undefined
}
while (queue.length > 0) {
  const [f, sym] = queue.shift()!
  const visit = (n: ts.Node) => {
    if (ts.isCallExpression(n)) {
      n.arguments.forEach((arg, i) => {
        if (!carries(arg, sym)) return
        const target = declOf(n)
        if (target && target.parameters[i]) add(target, target.parameters[i])
      })
    }
    ts.forEachChild(n, visit)
  }
  if (f.body) visit(f.body)
}
const fns = [...seen.keys()].map(name).sort()
const modules = new Set(fns.map((n) => n.split(':')[0]))
console.log(`${fn}(${param}) in ${file}: the options object${fields ? ' and the values read from it reach' : ' reaches'} ${fns.length} functions in ${modules.size} modules`)
for (const n of fns) console.log(`  ${n}`)
if (edgesToo) {
  let calls = 0
  let crossing = 0
  let returns = 0
  const moduleOf = (f: Fn) => f.getSourceFile().fileName
  for (const f of seen.keys()) {
    const visit = (n: ts.Node) => {
      if (ts.isReturnStatement(n)) returns++
      if (ts.isCallExpression(n)) {
        const t = declOf(n)
        if (t && seen.has(t)) {
          calls++
          if (moduleOf(t) !== moduleOf(f)) crossing++
        }
      }
      ts.forEachChild(n, visit)
    }
    if (f.body) visit(f.body)
  }
  console.log(`calls between them: ${calls}, ${crossing} of them from one module into another; return statements in them: ${returns}`)
}
