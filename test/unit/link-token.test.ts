// Table tests of the pure parts of link credentials (src/link/token.ts, src/link/rotate.ts) and of
// verify's links.token-lifetime on fixture facts.
import {describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {load} from 'js-yaml'
import {UsageError} from '../../src/errors.ts'
import {anchorSecret, chooseBoundToken, expiredAnchors, formatTtl, nextAnchorIndex, parseTokenTtl, tokenInfo, withoutTokenSecret} from '../../src/link/token.ts'
import {swapToken} from '../../src/link/rotate.ts'
import {remoteKubeconfig, remoteSecret} from '../../src/link/plan.ts'
import {runChecks} from '../../src/verify/runner.ts'
import {healthyMesh, remoteSecret as fixtureSecret} from './verify-fixtures.ts'

const b64url = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url')
const jwt = (claims: Record<string, unknown>) => `${b64url({alg: 'RS256'})}.${b64url(claims)}.c2lnbmF0dXJl`
const NOW = new Date('2026-12-01T00:00:00Z')
const s = (d: Date) => Math.floor(d.getTime() / 1000)
const bound = (iat: Date, ttl: number, anchor = 'istio-reader-east-anchor-1', uid = 'u1') => jwt({
  iss: 'https://west.example', iat: s(iat), exp: s(iat) + ttl, nbf: s(iat),
  'kubernetes.io': {namespace: 'istio-system', serviceaccount: {name: 'istio-reader-service-account', uid: 'sa'}, secret: {name: anchor, uid}},
})
const legacy = jwt({iss: 'kubernetes/serviceaccount', 'kubernetes.io/serviceaccount/namespace': 'istio-system', 'kubernetes.io/serviceaccount/secret.name': 'istio-reader-service-account-istio-remote-secret-token', 'kubernetes.io/serviceaccount/service-account.name': 'istio-reader-service-account'})

describe('--token-ttl', () => {
  for (const [input, seconds] of [['10m', 600], ['1h', 3600], ['1h30m', 5400], ['24h', 86_400], ['30d', 2_592_000], ['8760h', 31_536_000], ['600s', 600]] as const) {
    test(`${input} = ${seconds} s`, () => assert.equal(parseTokenTtl(input), seconds))
  }
  for (const bad of ['9m', '599s', '8761h', '366d', '', 'soon', '1h-', '10', '-1h', '1 h']) {
    test(`"${bad}" is exit 2 with the range`, () => {
      assert.throws(() => parseTokenTtl(bad), (e: unknown) => e instanceof UsageError && e.exitCode === 2 && /10m to 8760h/.test(`${e.message} ${e.hint}`))
    })
  }
  test('formatTtl round-trips', () => {
    for (const v of [600, 3600, 5400, 86_400, 31_536_000]) assert.equal(parseTokenTtl(formatTtl(v)), v)
  })
})

describe('token claims', () => {
  test('a bound token: issued, expires, anchor', () => {
    const i = tokenInfo(bound(NOW, 3600))
    assert.equal(i.kind, 'bound')
    assert.equal(i.lifetimeSeconds, 3600)
    assert.equal(i.issuedAt?.toISOString(), NOW.toISOString())
    assert.deepEqual(i.boundTo, {kind: 'Secret', name: 'istio-reader-east-anchor-1', uid: 'u1'})
  })
  test('a legacy token: long-lived, its Secret', () => {
    const i = tokenInfo(legacy)
    assert.equal(i.kind, 'long-lived')
    assert.equal(i.secretName, 'istio-reader-service-account-istio-remote-secret-token')
    assert.equal(i.expiresAt, undefined)
  })
  test('not a JWT', () => assert.equal(tokenInfo('token').kind, 'unknown'))
})

describe('reuse while more than half the life is left', () => {
  const anchor = {...anchorSecret('istio-system', 'east', 1, 3600, NOW, 'v'), metadata: {...anchorSecret('istio-system', 'east', 1, 3600, NOW, 'v').metadata, uid: 'u1'}}
  const secretWith = (token: string) => remoteSecret('istio-system', 'west', remoteKubeconfig({id: 'west', server: 'https://w', caData: 'Y2E=', token}), 'v')
  const at = (minutes: number) => new Date(NOW.getTime() + minutes * 60_000)
  test('29 minutes into 1h: reused', () => assert.ok(chooseBoundToken({secret: secretWith(bound(NOW, 3600)), id: 'west', anchors: [anchor], ttlSeconds: 3600, now: at(29)}).reuse))
  test('31 minutes into 1h: a new token', () => assert.match(chooseBoundToken({secret: secretWith(bound(NOW, 3600)), id: 'west', anchors: [anchor], ttlSeconds: 3600, now: at(31)}).reason, /left/))
  test('another TTL: a new token', () => assert.match(chooseBoundToken({secret: secretWith(bound(NOW, 3600)), id: 'west', anchors: [anchor], ttlSeconds: 7200, now: at(1)}).reason, /issued for 1h, not 2h/))
  test('anchor gone (revoked): a new token', () => assert.match(chooseBoundToken({secret: secretWith(bound(NOW, 3600)), id: 'west', anchors: [], ttlSeconds: 3600, now: at(1)}).reason, /anchor/))
  test('anchor re-created under the same name (other uid): a new token', () => {
    assert.ok(!chooseBoundToken({secret: secretWith(bound(NOW, 3600)), id: 'west', anchors: [{...anchor, metadata: {...anchor.metadata, uid: 'u2'}}], ttlSeconds: 3600, now: at(1)}).reuse)
  })
  test('a legacy token: a new one', () => assert.match(chooseBoundToken({secret: secretWith(legacy), id: 'west', anchors: [anchor], ttlSeconds: 3600, now: at(1)}).reason, /long-lived/))
  test('next anchor index and expired anchors', () => {
    const a3 = anchorSecret('istio-system', 'east', 3, 600, NOW, 'v')
    assert.equal(nextAnchorIndex([anchor, a3], 'east'), 4)
    assert.equal(nextAnchorIndex([], 'east'), 1)
    assert.deepEqual(expiredAnchors([anchor, a3], at(11)).map((a) => a.metadata.name), ['istio-reader-east-anchor-3'])
  })
  test('the legacy token Secret is left out of the reader steps', () => {
    const steps = [{desired: {apiVersion: 'v1', kind: 'Secret', metadata: {name: 'istio-reader-service-account-istio-remote-secret-token'}}}, {desired: {apiVersion: 'v1', kind: 'ServiceAccount', metadata: {name: 'istio-reader-service-account'}}}]
    assert.deepEqual(withoutTokenSecret(steps).map((x) => x.desired.kind), ['ServiceAccount'])
  })
})

describe('rotate: swapToken', () => {
  test('only the token changes', () => {
    const before = remoteSecret('istio-system', 'west', remoteKubeconfig({id: 'west', server: 'https://w', caData: 'Y2E=', token: 'old', tlsServerName: 'api'}), 'v')
    const after = swapToken(before, 'west', 'new')
    const a = load(Buffer.from(before.data.west, 'base64').toString()) as any
    const b = load(Buffer.from(after.data.west, 'base64').toString()) as any
    assert.equal(b.users[0].user.token, 'new')
    b.users[0].user.token = 'old'
    assert.deepEqual(b, a)
  })
})

describe('verify links.token-lifetime', () => {
  const withToken = (token: string, now = NOW) => {
    const f = healthyMesh()
    f.now = now
    const c1 = f.clusters[0]
    c1.lists.Secret = c1.lists.Secret!.filter((x) => x.metadata.name !== 'istio-remote-secret-cluster2')
    c1.lists.Secret.push(fixtureSecret(2, {user: {token}}))
    return f
  }
  const result = (f: ReturnType<typeof healthyMesh>) => runChecks(f).checks.filter((c) => c.id === 'links.token-lifetime' && c.cluster === 'cluster1')
  const anchorIn = (f: ReturnType<typeof healthyMesh>, name = 'istio-reader-east-anchor-1', uid = 'u1') => f.clusters[1].lists.Secret!.push({apiVersion: 'v1', kind: 'Secret', metadata: {name, namespace: 'istio-system', uid}})

  test('bound, 1h left: pass, with issued and expiry', () => {
    const f = withToken(bound(NOW, 3600 * 24 * 30))
    anchorIn(f)
    const [r] = result(f)
    assert.equal(r.status, 'pass', r.message)
    assert.match(r.message, /bound token .*issued 2026-12-01T00:00:00Z, expires 2026-12-31T00:00:00Z/)
  })
  test('bound, under 7 days left: warn with the rotate command', () => {
    const f = withToken(bound(NOW, 3600))
    anchorIn(f)
    const [r] = result(f)
    assert.equal(r.status, 'warn', r.message)
    assert.match(r.hint, /kubectl mesh cluster rotate-credentials --context cluster1 --remote-context cluster2/)
  })
  test('bound, expired: fail', () => {
    const f = withToken(bound(NOW, 3600), new Date(NOW.getTime() + 2 * 3600_000))
    anchorIn(f)
    assert.equal(result(f)[0].status, 'fail')
  })
  test('bound, anchor deleted in the peer: fail (revoked), naming the link', () => {
    const [r] = result(withToken(bound(NOW, 3600 * 24 * 30)))
    assert.equal(r.status, 'fail')
    assert.match(r.message, /link to cluster2: .*revoked.*anchor Secret istio-reader-east-anchor-1 is gone/)
  })
  test('the remote-access probe got 401: fail (revoked)', () => {
    const f = withToken(bound(NOW, 3600 * 24 * 30))
    anchorIn(f)
    f.probes[0] = {...f.probes[0], outcome: 'unauthorized'}
    assert.match(result(f)[0].message, /revoked or expired: the peer rejects it \(401\)/)
  })
  test('long-lived, its Secret 100 days old: warn', () => {
    const f = withToken(legacy)
    f.clusters[1].lists.Secret!.push({apiVersion: 'v1', kind: 'Secret', metadata: {name: 'istio-reader-service-account-istio-remote-secret-token', namespace: 'istio-system', creationTimestamp: new Date(NOW.getTime() - 100 * 86_400_000).toISOString()}})
    const [r] = result(f)
    assert.equal(r.status, 'warn', r.message)
    assert.match(r.message, /long-lived token .*older than 90 days/)
  })
})
