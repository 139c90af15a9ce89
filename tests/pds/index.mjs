// The reference ATProto PDS (@atproto/pds) with an in-memory did:plc
// directory, both on 127.0.0.1 only, for end-to-end tests. Prints
// `READY {"pds":…,"plc":…}` once both listen; SIGTERM stops both.
import http from 'node:http'
import { once } from 'node:events'
import { createRequire } from 'node:module'
import { PDS } from '@atproto/pds'

const require = createRequire(import.meta.url)
const HOST = '127.0.0.1'

async function main() {
  const plc = require('@did-plc/server')
  const directory = plc.PlcServer.create({ db: plc.Database.mock(), port: 0 })
  const plcServer = http.createServer(directory.app)
  plcServer.listen(0, HOST)
  await once(plcServer, 'listening')
  // A hostname: the PDS refuses IP-literal DID resolver URLs.
  process.env.PDS_DID_PLC_URL = `http://localhost:${plcServer.address().port}`

  const pds = await PDS.fromEnv()
  // PDS.start() listens on every interface; keep it on loopback.
  const listen = pds.app.listen
  pds.app.listen = (port, ...rest) => listen.call(pds.app, port, HOST, ...rest)
  await pds.start()
  const port = pds.server.address().port
  console.log('READY ' + JSON.stringify({ pds: `http://${HOST}:${port}`, plc: process.env.PDS_DID_PLC_URL }))

  const stop = async () => {
    await pds.destroy().catch((err) => console.error('stop failed', err))
    plcServer.close()
    process.exit(0)
  }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
}

main().catch((err) => {
  console.error('FAILED', err)
  process.exit(1)
})
