// The reference verdict on records, for the agreement test in schemas/.
// usage: node validate.mjs LEXICON_DIR < cases.jsonl
//   each input line:  {"nsid": "...", "kind": "record"|"object", "value": {...}}
//   each output line: {"ok": true|false, "error": "..."|null}
import fs from 'node:fs'
import path from 'node:path'
import readline from 'node:readline'
import { Lexicons, jsonToLex, parseLexiconDoc } from '@atproto/lexicon'

const lexicons = new Lexicons()
const dir = process.argv[2]
for (const file of fs.readdirSync(dir).filter((f) => f.endsWith('.json')).sort()) {
  lexicons.add(parseLexiconDoc(JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8'))))
}

for await (const line of readline.createInterface({ input: process.stdin })) {
  if (!line.trim()) continue
  const { nsid, kind, value } = JSON.parse(line)
  try {
    if (kind === 'record') {
      lexicons.assertValidRecord(nsid, jsonToLex(value))
      console.log(JSON.stringify({ ok: true, error: null }))
    } else {
      const result = lexicons.validate(nsid, jsonToLex(value))
      console.log(JSON.stringify({ ok: result.success, error: result.success ? null : result.error.message }))
    }
  } catch (err) {
    console.log(JSON.stringify({ ok: false, error: err.message }))
  }
}
