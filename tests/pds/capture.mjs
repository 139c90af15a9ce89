// Scripts the test PDS and records its firehose.
//
//   node capture.mjs write  PDS_URL            # accounts and calendar records; prints what it wrote as JSON
//   node capture.mjs record PDS_URL OUT_PREFIX # the firehose from cursor 0 until idle:
//                                              #   OUT_PREFIX.frames (4-byte big-endian length + frame)
//                                              #   OUT_PREFIX.jsonl  (the same, in Jetstream's JSON shape)
//
// The story: two organizers and three guests over several weeks of
// simulated time: a weekly meetup (one week moved, one cancelled), a monthly
// last-Friday meetup, a one-off that is deleted, RSVPs (one before its
// event exists, one changed, one withdrawn, one with an unknown status), a
// malformed event record, and a handle change.
import fs from 'node:fs'
import WebSocket from 'ws'
import { decodeAll, decode } from '@atproto/lex-cbor'
import { lexToJson } from '@atproto/lex-json'
import { readCar } from '@atproto/repo'

const EVENT = 'community.lexicon.calendar.event'
const RSVP = 'community.lexicon.calendar.rsvp'

async function xrpc(pds, method, body, token) {
  const res = await fetch(`${pds}/xrpc/${method}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  })
  const text = await res.text()
  if (!res.ok) throw new Error(`${method}: ${res.status} ${text}`)
  return text ? JSON.parse(text) : {}
}

async function account(pds, name, suffix) {
  const handle = `${name}${suffix}.test`
  const made = await xrpc(pds, 'com.atproto.server.createAccount', {
    handle,
    email: `${name}${suffix}@example.com`,
    password: `${name}-password`,
  })
  return { name, handle, did: made.did, token: made.accessJwt }
}

function event(name, startsAt, extra = {}) {
  return {
    $type: EVENT,
    name,
    createdAt: '2026-11-01T10:00:00.000Z',
    startsAt,
    endsAt: startsAt.replace(/T(\d\d)/, (_, h) => `T${String(Number(h) + 2).padStart(2, '0')}`),
    mode: `${EVENT}#inperson`,
    status: `${EVENT}#scheduled`,
    ...extra,
  }
}

async function write(pds) {
  const suffix = String(Date.now() % 100000)
  const [rust, books, ana, ben, cai] = await Promise.all(
    ['rust', 'books', 'ana', 'ben', 'cai'].map((n) => account(pds, n, suffix)),
  )
  const written = []
  const put = async (who, collection, rkey, record) => {
    const out = await xrpc(pds, 'com.atproto.repo.putRecord', { repo: who.did, collection, rkey, record }, who.token)
    written.push({ action: 'put', uri: out.uri, cid: out.cid })
    return out
  }
  const del = async (who, collection, rkey) => {
    await xrpc(pds, 'com.atproto.repo.deleteRecord', { repo: who.did, collection, rkey }, who.token)
    written.push({ action: 'delete', uri: `at://${who.did}/${collection}/${rkey}` })
  }
  const rsvp = (subject, status) => ({
    $type: RSVP,
    subject: { uri: subject.uri, cid: subject.cid },
    status: `${RSVP}#${status}`,
    createdAt: '2026-11-02T09:00:00.000Z',
  })
  const berlin = {
    $type: 'community.lexicon.location.address',
    country: 'DE',
    locality: 'Berlin',
    name: 'c-base',
  }
  // Weekly Rust meetup, Tuesdays 18:00 UTC.
  const weeks = ['2026-12-01', '2026-12-08', '2026-12-15', '2026-12-22']
  const weekly = []
  for (const [n, day] of weeks.entries()) {
    weekly.push(
      await put(rust, EVENT, `rust-weekly-${n}`, event(`Rust Meetup #${12 + n}`, `${day}T18:00:00.000Z`, { locations: [berlin] })),
    )
  }
  // An RSVP to the monthly meetup before that event exists: its subject
  // CID is the one the event will have.
  const lastFridayUri = `at://${books.did}/${EVENT}/books-monthly-0`
  const early = { uri: lastFridayUri, cid: weekly[0].cid }
  await put(cai, RSVP, 'early', rsvp(early, 'going'))
  // Monthly book club, last Friday.
  const monthly = []
  for (const [n, day] of ['2026-11-27', '2026-12-25', '2027-01-29'].entries()) {
    monthly.push(await put(books, EVENT, `books-monthly-${n}`, event('Book club', `${day}T19:00:00.000Z`)))
  }
  await put(ana, RSVP, 'rust-12', rsvp(weekly[0], 'going'))
  await put(ben, RSVP, 'rust-12', rsvp(weekly[0], 'interested'))
  await put(ben, RSVP, 'rust-12', rsvp(weekly[0], 'going'))
  await put(ana, RSVP, 'books-0', rsvp(monthly[0], 'notgoing'))
  await put(cai, RSVP, 'rust-13', rsvp(weekly[1], 'maybe'))
  // Week 3 moves to Wednesday; week 4 is cancelled.
  await put(rust, EVENT, 'rust-weekly-2', event('Rust Meetup #14 (moved to Wednesday)', '2026-12-16T18:00:00.000Z', { locations: [berlin] }))
  await put(rust, EVENT, 'rust-weekly-3', event('Rust Meetup #15', '2026-12-22T18:00:00.000Z', { status: `${EVENT}#cancelled` }))
  // A one-off, answered and then deleted; the answer is withdrawn.
  const oneOff = await put(books, EVENT, 'author-talk', event('Author talk', '2026-12-10T18:00:00.000Z'))
  await put(ana, RSVP, 'author-talk', rsvp(oneOff, 'going'))
  await del(ana, RSVP, 'author-talk')
  await del(books, EVENT, 'author-talk')
  // A malformed event: the PDS does not know the lexicon and stores it.
  await put(rust, EVENT, 'broken', { $type: EVENT, name: 'No creation date', startsAt: 'next tuesday' })
  // A handle change: an #identity frame.
  await xrpc(pds, 'com.atproto.identity.updateHandle', { handle: `ana2${suffix}.test` }, ana.token)
  return { accounts: [rust, books, ana, ben, cai].map(({ name, handle, did }) => ({ name, handle, did })), written }
}

async function toJetstream(bytes) {
  const [header, body] = [...decodeAll(bytes)]
  if (header.op !== 1) return []
  const time_us = Date.parse(body.time) * 1000
  if (header.t === '#identity') {
    return [{ did: body.did, time_us, kind: 'identity', identity: { did: body.did, handle: body.handle, seq: body.seq, time: body.time } }]
  }
  if (header.t === '#account') {
    return [{ did: body.did, time_us, kind: 'account', account: { active: body.active, did: body.did, seq: body.seq, status: body.status, time: body.time } }]
  }
  if (header.t !== '#commit') return []
  const car = await readCar(body.blocks)
  const lines = []
  for (const op of body.ops) {
    const [collection, rkey] = op.path.split('/')
    if (collection !== EVENT && collection !== RSVP) continue
    const commit = { rev: body.rev, operation: op.action, collection, rkey }
    if (op.cid) {
      commit.record = lexToJson(decode(car.blocks.get(op.cid)))
      commit.cid = op.cid.toString()
    }
    lines.push({ did: body.repo, time_us, kind: 'commit', commit })
  }
  return lines
}

async function record(pds, prefix) {
  const url = pds.replace(/^http/, 'ws') + '/xrpc/com.atproto.sync.subscribeRepos?cursor=0'
  const frames = []
  await new Promise((resolve, reject) => {
    const ws = new WebSocket(url)
    let idle = null
    const rearm = () => {
      clearTimeout(idle)
      idle = setTimeout(() => ws.close(), 2000)
    }
    ws.on('open', rearm)
    ws.on('message', (data) => {
      frames.push(Buffer.from(data))
      rearm()
    })
    ws.on('close', resolve)
    ws.on('error', reject)
  })
  const out = fs.openSync(`${prefix}.frames`, 'w')
  for (const frame of frames) {
    const len = Buffer.alloc(4)
    len.writeUInt32BE(frame.length)
    fs.writeSync(out, len)
    fs.writeSync(out, frame)
  }
  fs.closeSync(out)
  const lines = []
  for (const frame of frames) lines.push(...(await toJetstream(frame)))
  fs.writeFileSync(`${prefix}.jsonl`, lines.map((l) => JSON.stringify(l)).join('\n') + '\n')
  console.error(`recorded ${frames.length} frames, ${lines.length} Jetstream messages`)
}

const [mode, pds, prefix] = process.argv.slice(2)
if (mode === 'write') {
  console.log(JSON.stringify(await write(pds)))
} else if (mode === 'record') {
  await record(pds, prefix)
} else {
  console.error('usage: capture.mjs write PDS_URL | record PDS_URL OUT_PREFIX')
  process.exit(2)
}
