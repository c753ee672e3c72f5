#!/usr/bin/env node
// kubectl's plugin completion: kubectl runs `kubectl_complete-mesh ARGS… TOCOMPLETE` from PATH
// (cobra's __complete protocol). See docs/completion.md.
import {completeFromPackage} from '../dist/completion/package-entry.js'

await completeFromPackage(process.argv.slice(2))
