// The Mesh file's JSON schema: the one source of schema/mesh.schema.json (published for editors,
// shipped in the package; \`npm run schema:update\` writes it, test/unit/mesh.test.ts checks they agree).
// Compiled in, so the single executables need no file beside them.
import type {JsonSchema} from './schema.ts'

export const MESH_SCHEMA: JsonSchema = {
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "$id": "https://github.com/kubectl-mesh/kubectl-mesh/schema/mesh.schema.json",
  "title": "kubectl-mesh Mesh",
  "description": "The declarative topology of an Istio mesh for `kubectl mesh plan -f` / `kubectl mesh apply -f` (docs/apply.md).",
  "type": "object",
  "required": [
    "apiVersion",
    "kind",
    "spec"
  ],
  "additionalProperties": false,
  "properties": {
    "apiVersion": {
      "const": "kubectl-mesh/v1alpha1"
    },
    "kind": {
      "const": "Mesh"
    },
    "metadata": {
      "type": "object",
      "additionalProperties": false,
      "properties": {
        "name": {
          "type": "string",
          "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
          "maxLength": 63
        }
      }
    },
    "spec": {
      "type": "object",
      "required": [
        "clusters"
      ],
      "additionalProperties": false,
      "properties": {
        "istioNamespace": {
          "type": "string",
          "minLength": 1,
          "description": "The namespace Istio is installed in, in every cluster (default istio-system)."
        },
        "ca": {
          "type": "object",
          "required": [
            "dir"
          ],
          "additionalProperties": false,
          "description": "The CA folder in the layout of `kubectl mesh ca gen` (relative paths: to the file's folder). apply installs each cluster's intermediate as Secret cacerts, making what is missing.",
          "properties": {
            "dir": {
              "type": "string",
              "minLength": 1
            }
          }
        },
        "expose": {
          "enum": [
            "all",
            "exported"
          ],
          "description": "Across networks, what links pass through the remote east-west gateway (cluster link --expose; default all)."
        },
        "clusters": {
          "type": "array",
          "minItems": 1,
          "items": {
            "type": "object",
            "required": [
              "context"
            ],
            "additionalProperties": false,
            "properties": {
              "context": {
                "type": "string",
                "minLength": 1,
                "description": "The kubeconfig context of the cluster."
              },
              "name": {
                "type": "string",
                "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
                "maxLength": 63,
                "description": "The cluster's folder in ca.dir (default: the context)."
              },
              "remoteName": {
                "type": "string",
                "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
                "maxLength": 63,
                "description": "The cluster ID when Istio's install does not say it (cluster link --remote-name)."
              },
              "server": {
                "type": "string",
                "pattern": "^https://",
                "description": "The API server address other clusters' istiods use (cluster link --server)."
              },
              "tlsServerName": {
                "type": "string",
                "minLength": 1,
                "description": "cluster link --tls-server-name."
              },
              "network": {
                "type": "string",
                "minLength": 1,
                "description": "The cluster's network when the install does not say it (cluster link --network)."
              },
              "gateway": {
                "type": "string",
                "minLength": 1,
                "description": "The east-west gateway address[:port] (cluster link --gateway)."
              }
            }
          }
        },
        "links": {
          "description": "`all`: every pair of clusters, both ways; or a list of pairs.",
          "oneOf": [
            {
              "const": "all"
            },
            {
              "type": "array",
              "items": {
                "type": "object",
                "required": [
                  "from",
                  "to"
                ],
                "additionalProperties": false,
                "description": "`from` discovers `to` (its istiod reads `to`'s endpoints); bidirectional: both ways.",
                "properties": {
                  "from": {
                    "type": "string",
                    "minLength": 1
                  },
                  "to": {
                    "type": "string",
                    "minLength": 1
                  },
                  "bidirectional": {
                    "type": "boolean"
                  },
                  "networkConfig": {
                    "enum": [
                      "meshnetworks",
                      "gateway"
                    ],
                    "description": "Across networks, how `from`'s istiod learns `to`'s east-west gateway (cluster link --network-config; default meshnetworks): an entry in the istio ConfigMap's meshNetworks, or nothing written there (`to`'s gateway Service is discovered from its network label)."
                  },
                  "createGateway": {
                    "type": "boolean",
                    "description": "Ambient clusters: write the istio-east-west Gateway in `to` (and `from` when bidirectional) where none exists (cluster link --create-gateway)."
                  }
                }
              }
            }
          ]
        },
        "exports": {
          "type": "array",
          "items": {
            "type": "object",
            "required": [
              "cluster",
              "namespace",
              "service"
            ],
            "additionalProperties": false,
            "properties": {
              "cluster": {
                "type": "string",
                "minLength": 1
              },
              "namespace": {
                "type": "string",
                "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
              },
              "service": {
                "type": "string",
                "pattern": "^[a-z]([-a-z0-9]*[a-z0-9])?$"
              }
            }
          }
        },
        "imports": {
          "type": "array",
          "items": {
            "type": "object",
            "required": [
              "cluster",
              "from",
              "namespace",
              "service"
            ],
            "additionalProperties": false,
            "properties": {
              "cluster": {
                "type": "string",
                "minLength": 1,
                "description": "The importing cluster (EAST)."
              },
              "from": {
                "type": "string",
                "minLength": 1,
                "description": "The exporting cluster (WEST)."
              },
              "namespace": {
                "type": "string",
                "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
              },
              "service": {
                "type": "string",
                "pattern": "^[a-z]([-a-z0-9]*[a-z0-9])?$"
              },
              "host": {
                "type": "string",
                "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$",
                "description": "The host to import as (default SERVICE.NAMESPACE.global)."
              },
              "via": {
                "type": "string",
                "enum": [
                  "direct",
                  "egress"
                ],
                "description": "direct (default): the importing cluster's sidecars go straight to the exporting cluster's east-west gateway; egress: through the importing cluster's egress gateway (service import --via-egress)."
              },
              "egressGateway": {
                "type": "string",
                "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?/[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
                "description": "With via: egress, NAMESPACE/NAME of the egress gateway Service (default: the Service labelled istio=egressgateway)."
              }
            }
          }
        }
      }
    }
  }
}
