// Istio revisions (src/istio/revision.ts): which istiod, mesh ConfigMap, injector ConfigMap and
// reader ClusterRole kubectl-mesh reads and writes in a cluster.
import {describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {chooseRevision, revisionNames, revisionOf} from '../../src/istio/revision.ts'

const istiod = (name: string, rev?: string) => ({apiVersion: 'apps/v1', kind: 'Deployment', metadata: {name, namespace: 'istio-system', labels: {app: 'istiod', ...(rev ? {'istio.io/rev': rev} : {})}}})

describe('Istio revisions', () => {
  test('names: the default revision has the plain names; another one suffixes them', () => {
    assert.deepEqual(revisionNames('default', 'istio-system'), {
      revision: 'default', istiod: 'istiod', meshConfigMap: 'istio', injectorConfigMap: 'istio-sidecar-injector', valuesConfigMap: 'values', readerClusterRole: 'istio-reader-clusterrole-istio-system',
    })
    assert.deepEqual(revisionNames('1-31', 'mesh'), {
      revision: '1-31', istiod: 'istiod-1-31', meshConfigMap: 'istio-1-31', injectorConfigMap: 'istio-sidecar-injector-1-31', valuesConfigMap: 'values-1-31', readerClusterRole: 'istio-reader-clusterrole-1-31-mesh',
    })
  })

  test('the revision of a Deployment: its istio.io/rev label, else its name', () => {
    assert.equal(revisionOf(istiod('istiod', 'default')), 'default')
    assert.equal(revisionOf(istiod('istiod-canary', 'canary')), 'canary')
    assert.equal(revisionOf(istiod('istiod-canary')), 'canary')
    assert.equal(revisionOf(istiod('istiod')), 'default')
  })

  test('choice: default when it runs (or nothing runs), else the first by name; the others are listed', () => {
    assert.deepEqual(chooseRevision([], 'istio-system').names.revision, 'default')
    assert.equal(chooseRevision([], 'istio-system').istiod, undefined)
    const both = chooseRevision([istiod('istiod-canary', 'canary'), istiod('istiod', 'default')], 'istio-system')
    assert.equal(both.names.revision, 'default')
    assert.equal(both.istiod?.metadata.name, 'istiod')
    assert.deepEqual(both.others, ['canary'])
    const only = chooseRevision([istiod('istiod-1-31', '1-31')], 'istio-system')
    assert.deepEqual([only.names.meshConfigMap, only.istiod?.metadata.name, only.others], ['istio-1-31', 'istiod-1-31', []])
    const two = chooseRevision([istiod('istiod-b', 'b'), istiod('istiod-a', 'a')], 'istio-system')
    assert.deepEqual([two.names.revision, two.others], ['a', ['b']])
  })
})
