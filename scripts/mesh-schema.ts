// `npm run schema:update`: writes schema/mesh.schema.json from src/mesh/mesh-schema.ts.
import {writeFileSync} from 'node:fs'
import {MESH_SCHEMA} from '../src/mesh/mesh-schema.ts'

writeFileSync(new URL('../schema/mesh.schema.json', import.meta.url), `${JSON.stringify(MESH_SCHEMA, null, 2)}\n`)
