// The whole-run secret scan (test/leak-scan.ts) fails on a leak, names the run and the kind of
// secret without printing it, allows -o yaml stdout, and never passes on an empty or missing log.
import assert from 'node:assert/strict'
import {describe, test} from 'node:test'
import {isYaml, leaks, type RunRecord, scanRunLog} from '../leak-scan.ts'

// Fake secrets, built at run time so that this file holds none literally.
const KEY_BODY = 'MIIEvQIBADANBgkqhkiG9w0BAQEFAASC' + 'FAKEFAKEFAKE'.repeat(4)
const PEM_KEY = `-----BEGIN PRIVATE KEY-----\n${KEY_BODY}\n-----END PRIVATE KEY-----\n`
const b64url = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url')
const JWT = `${b64url({alg: 'RS256', kid: 'fake-key-id'})}.${b64url({sub: 'system:serviceaccount:x:fake-reader'})}.${'c2lnbmF0dXJl'.repeat(4)}`
const OPAQUE = 'fake0opaque0token0' + 'abcdef0123456789'.repeat(2)

const line = (r: Partial<RunRecord>) => JSON.stringify({file: 'test/e2e/x.test.ts', args: ['verify'], code: 0, stdout: '', stderr: '', ...r})

describe('leak scan', () => {
  test('the matcher finds PEM keys (also base64), JWTs and bearer tokens, and nothing in ordinary output', () => {
    assert.deepEqual(leaks(PEM_KEY), ['a PEM private key'])
    assert.deepEqual(leaks(JSON.stringify({key: PEM_KEY})), ['a PEM private key'], 'also inside a JSON string')
    assert.deepEqual(leaks(`    ${PEM_KEY.replaceAll('\n', '\n    ')}`), ['a PEM private key'], 'also indented (YAML)')
    assert.deepEqual(leaks('Error: x.txt is not a PEM private key (no "-----BEGIN PRIVATE KEY-----" or "-----BEGIN RSA PRIVATE KEY-----" block)'), [],
      'naming the header is not a leak')
    assert.deepEqual(leaks(`client-key-data: ${Buffer.from(PEM_KEY.replace('PRIVATE KEY', 'EC PRIVATE KEY')).toString('base64')}`), ['a base64 PEM private key'])
    assert.deepEqual(leaks(`token: ${JWT}`), ['a JWT (service-account token)'])
    assert.deepEqual(leaks(`Authorization: Bearer ${OPAQUE}`), ['a bearer token'])
    assert.deepEqual(leaks(`it was ${OPAQUE}`, [OPAQUE]), ['the reader token'])
    assert.deepEqual(leaks(`-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n${Buffer.from('-----BEGIN CERTIFICATE-----').toString('base64')}`), [])
    assert.deepEqual(leaks('cluster1  Secret/istio-system/istio-remote-secret-cluster2  created\nHint: use a Bearer token with kubectl'), [])
    assert.ok(isYaml(['link', '-o', 'yaml']) && isYaml(['--output=yaml']) && isYaml(['-oyaml']))
    assert.ok(!isYaml(['link', '-o', 'json']) && !isYaml(['link']))
  })

  test('a synthetic log with a leaked key and a bearer token fails, naming the runs and the kinds, never the secrets', () => {
    const log = [
      line({args: ['ca', 'gen', '--cluster', 'east', '-o', 'yaml'], stdout: PEM_KEY}), // allowed: -o yaml stdout
      line({args: ['ca', 'gen', '--cluster', 'east'], code: 1, stderr: `Error: cannot read ${PEM_KEY}`}),
      line({file: 'test/e2e/y.test.ts', args: ['cluster', 'link', '--verbose'], stdout: `GET /api Authorization: Bearer ${OPAQUE}`}),
      line({args: ['cluster', 'link', '-o', 'yaml'], stderr: `Warning: the token ${JWT}`}), // stderr of -o yaml is not allowed
      '{"truncated',
    ].join('\n')
    const {ok, report} = scanRunLog(`${log}\n`, '/tmp/runs.jsonl')
    assert.equal(ok, false)
    assert.match(report, /^leak scan: FAILED: 4 findings in 4 CLI runs from 2 test files \(log: \/tmp\/runs\.jsonl\):$/m)
    assert.match(report, /^ {2}- a PEM private key on stderr of `kubectl mesh ca gen --cluster east` \(test\/e2e\/x\.test\.ts, exit 1\)$/m)
    assert.match(report, /^ {2}- a bearer token on stdout of `kubectl mesh cluster link --verbose` \(test\/e2e\/y\.test\.ts, exit 0\)$/m)
    assert.match(report, /^ {2}- a JWT \(service-account token\) on stderr of `kubectl mesh cluster link -o yaml`/m)
    assert.match(report, /^ {2}- line 5 of the log is not a run record$/m)
    assert.doesNotMatch(report, /ca gen --cluster east -o yaml/, 'the stdout of -o yaml is allowed')
    for (const secret of [KEY_BODY, OPAQUE, JWT, 'BEGIN PRIVATE KEY']) assert.ok(!report.includes(secret), 'the report never holds the secret')
  })

  test('a clean log passes and says how much it scanned', () => {
    const {ok, report} = scanRunLog([line({stdout: '5 passed'}), line({file: 'test/e2e/y.test.ts', args: ['ca', 'gen', '-o', 'yaml'], stdout: PEM_KEY})].join('\n'), 'log')
    assert.equal(ok, true)
    assert.equal(report, 'leak scan: 2 CLI runs from 2 test files: no private key or token outside the stdout of -o yaml')
  })

  test('a missing or empty log fails: the scan cannot pass vacuously', () => {
    assert.equal(scanRunLog(undefined, '/tmp/x/runs.jsonl').ok, false)
    assert.match(scanRunLog(undefined, '/tmp/x/runs.jsonl').report, /no run log at \/tmp\/x\/runs\.jsonl/)
    assert.equal(scanRunLog('', 'log').ok, false)
    assert.match(scanRunLog('\n', 'log').report, /holds no CLI run/)
  })
})
