// Proxy choice as Go's net/http and client-go make it (the e2e suite checks the same against kubectl).
import assert from 'node:assert/strict'
import {describe, test} from 'node:test'
import {UsageError} from '../../src/errors.ts'
import {chooseProxy, noProxyMatches} from '../../src/kube/proxy.ts'

const https = new URL('https://api.example.com:6443')
const pick = (server: URL, proxyUrl: string | undefined, env: NodeJS.ProcessEnv) => chooseProxy(server, proxyUrl, 'c', env)?.url.href

describe('chooseProxy', () => {
  test('proxy-url wins over the environment and applies to loopback too', () => {
    assert.equal(pick(new URL('https://127.0.0.1:6443'), 'socks5://127.0.0.1:1080', {HTTPS_PROXY: 'http://p:1'}), 'socks5://127.0.0.1:1080')
  })
  test('proxy-url schemes other than http, https, socks5 are errors naming the scheme', () => {
    assert.throws(() => pick(https, 'socks5h://p:1', {}), (e: unknown) => e instanceof UsageError && /unsupported scheme "socks5h"/.test(e.message))
  })
  test('HTTPS_PROXY for https servers, HTTP_PROXY for http ones, upper case first, http:// assumed', () => {
    assert.equal(pick(https, undefined, {HTTPS_PROXY: 'proxy:3128', https_proxy: 'http://other:1'}), 'http://proxy:3128/')
    assert.equal(pick(https, undefined, {HTTP_PROXY: 'http://p:1'}), undefined)
    assert.equal(pick(new URL('http://api.example.com'), undefined, {http_proxy: 'http://p:1'}), 'http://p:1/')
  })
  test('never through an environment proxy for localhost and loopback addresses', () => {
    for (const h of ['https://localhost:1', 'https://127.0.0.1:1', 'https://127.9.9.9:1', 'https://[::1]:1']) assert.equal(pick(new URL(h), undefined, {HTTPS_PROXY: 'http://p:1'}), undefined, h)
  })
})

describe('noProxyMatches', () => {
  const cases: Array<[string, string, string, boolean]> = [
    ['api.example.com', '443', '*', true],
    ['api.example.com', '443', 'example.com', true],
    ['example.com', '443', 'example.com', true],
    ['example.com', '443', '.example.com', false],
    ['a.example.com', '443', '.example.com', true],
    ['badexample.com', '443', 'example.com', false],
    ['api.example.com', '443', 'api.example.com:6443', false],
    ['api.example.com', '6443', 'api.example.com:6443', true],
    ['10.1.2.3', '443', '10.0.0.0/8', true],
    ['11.1.2.3', '443', '10.0.0.0/8', false],
    ['10.1.2.3', '443', 'foo, 10.1.2.3', true],
    ['::2', '443', '[::2]', true],
  ]
  for (const [host, port, list, want] of cases) test(`${host}:${port} vs "${list}" → ${want}`, () => assert.equal(noProxyMatches(host, port, list), want))
})
