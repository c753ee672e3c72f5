#!/usr/bin/env node
import {flush, run} from '@oclif/core'
import {handleTopLevel} from '../dist/top-level.js'

await run(process.argv.slice(2), import.meta.url).then(() => flush(), handleTopLevel)
