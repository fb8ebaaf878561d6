// A Fedify peer for Parvis's live interop test (tests/interop/test_fedify.py).
//
// One actor, /users/fedi, with its own RSA (HTTP Signatures) and Ed25519
// (Object Integrity Proofs) keys, served by Fedify itself on loopback. It accepts
// every Follow of it (a signed Accept, sent by Fedify's queue) and publishes notes
// to those followers on request:
//
//   node peer.mjs --port 8123        (or PEER_PORT=8123; --host, default 127.0.0.1)
//
// Everything federated is Fedify's own code: actor document, WebFinger, inbox,
// signature verification, key fetching, lookups and signed delivery. The only
// relaxation is `allowPrivateAddress`, which lets Fedify's document loader and
// WebFinger client fetch loopback URLs (Fedify refuses private addresses by
// default). Signatures are verified as in production: no
// `skipSignatureVerification`, and inbox listeners only run for activities
// Fedify verified.
//
// Control and observation endpoints for the test (plain JSON, not Fedify):
//   GET  /health                 -> {"ok": true, "actor": <actor id>}
//   POST /follow?target=<url>    -> WebFinger + lookupObject of the target, then a
//                                   signed Follow sent at once; answers what it did
//   POST /publish?content=<html> -> a Create(Note) sent at once to every follower;
//                                   answers the note id and the followers' ids
//   GET  /received               -> activities that reached the inbox listeners
//   GET  /unverified             -> activities Fedify refused to verify, and why
//   GET  /sent                   -> every HTTP request this peer made (method,
//                                   URL, signature scheme, status, error body)
//   GET  /inbound                -> every POST this peer answered (path, signature
//                                   scheme, Fedify's status, error body)
//   GET  /log                    -> Fedify's warnings and errors (LogTape)

import { randomUUID } from "node:crypto";
import { createServer } from "node:http";
import { parseArgs } from "node:util";

import {
  createFederation,
  generateCryptoKeyPair,
  InProcessMessageQueue,
  MemoryKvStore,
} from "@fedify/fedify";
import {
  Accept,
  Activity,
  Create,
  Endpoints,
  Follow,
  isActor,
  Note,
  PUBLIC_COLLECTION,
  Person,
} from "@fedify/vocab";
import { configure } from "@logtape/logtape";

const { values: args } = parseArgs({
  options: {
    port: { type: "string", default: process.env.PEER_PORT ?? "" },
    host: { type: "string", default: process.env.PEER_HOST ?? "127.0.0.1" },
  },
});
const PORT = Number.parseInt(args.port, 10);
if (!Number.isInteger(PORT) || PORT <= 0 || PORT > 65535) {
  console.error("usage: node peer.mjs --port <port> [--host 127.0.0.1]  (or PEER_PORT)");
  process.exit(2);
}
const HOST = args.host;
const ORIGIN = `http://${HOST.includes(":") ? `[${HOST}]` : HOST}:${PORT}`;
const USER = "fedi";

// --- What the test reads -----------------------------------------------------

const received = [];
const unverified = [];
const sent = [];
const inbound = [];
const logged = [];
// The actors whose Follow this peer accepted, by id: where /publish delivers.
const followers = new Map();

await configure({
  sinks: {
    memory(record) {
      const message = record.message
        .map((part) => (typeof part === "string" ? part : safeString(part)))
        .join("");
      const entry = { level: record.level, category: record.category.join("."), message };
      logged.push(entry);
      console.error(`[${entry.level}] ${entry.category}: ${message}`);
    },
  },
  loggers: [
    { category: ["fedify"], sinks: ["memory"], lowestLevel: "warning" },
    { category: ["logtape", "meta"], sinks: [], lowestLevel: "warning" },
  ],
});

function safeString(value) {
  if (value instanceof Error) return `${value.name}: ${value.message}`;
  try {
    return typeof value === "object" ? JSON.stringify(value) : String(value);
  } catch {
    return String(value);
  }
}

function signatureScheme(headers) {
  if (headers.has("signature-input")) return "rfc9421";
  return headers.has("signature") ? "draft-cavage" : null;
}

// Every request Fedify makes goes through the global fetch: record each one
// (it is only observed, never altered) so the test can tell which signature
// scheme Fedify used and what Parvis answered.
const originalFetch = globalThis.fetch;
globalThis.fetch = async (input, init) => {
  const request = new Request(input, init);
  const entry = {
    method: request.method,
    url: request.url,
    signature: signatureScheme(request.headers),
  };
  sent.push(entry);
  try {
    const response = await originalFetch(request);
    entry.status = response.status;
    if (response.status >= 400) {
      entry.body = (await response.clone().text()).slice(0, 2000);
    }
    return response;
  } catch (error) {
    entry.error = safeString(error);
    throw error;
  }
};

// --- The federation ------------------------------------------------------------

const keyPairs = [
  await generateCryptoKeyPair("RSASSA-PKCS1-v1_5"),
  await generateCryptoKeyPair("Ed25519"),
];

const federation = createFederation({
  kv: new MemoryKvStore(),
  queue: new InProcessMessageQueue(),
  origin: ORIGIN,
  // Lets Fedify's loaders fetch loopback URLs; signature checks are untouched.
  allowPrivateAddress: true,
});

federation
  .setActorDispatcher("/users/{identifier}", async (ctx, identifier) => {
    if (identifier !== USER) return null;
    const keys = await ctx.getActorKeyPairs(identifier);
    return new Person({
      id: ctx.getActorUri(identifier),
      preferredUsername: identifier,
      name: "Fedify peer",
      summary: "A Fedify 2.3 actor that follows Parvis accounts in tests.",
      url: ctx.getActorUri(identifier),
      inbox: ctx.getInboxUri(identifier),
      endpoints: new Endpoints({ sharedInbox: ctx.getInboxUri() }),
      publicKey: keys[0].cryptographicKey,
      assertionMethods: keys.map((key) => key.multikey),
    });
  })
  .setKeyPairsDispatcher((_ctx, identifier) => (identifier === USER ? keyPairs : []));

async function record(ctx, activity) {
  const document = await activity.toJsonLd({ contextLoader: ctx.contextLoader });
  received.push({
    type: document.type ?? null,
    id: activity.id?.href ?? null,
    actor: activity.actorId?.href ?? null,
    object: activity.objectId?.href ?? null,
    recipient: ctx.recipient ?? null, // null when it came through the shared inbox
    receivedAt: new Date().toISOString(),
    document,
  });
}

federation
  .setInboxListeners("/users/{identifier}/inbox", "/inbox")
  // Activity is the base class: every verified activity without a listener of its own.
  .on(Activity, record)
  // Fedify runs only the most specific listener, so a Follow is recorded here too.
  .on(Follow, async (ctx, follow) => {
    await record(ctx, follow);
    if (follow.objectId?.href !== ctx.getActorUri(USER).href) return;
    const follower = await follow.getActor(ctx);
    if (follower?.id == null || !isActor(follower)) return;
    followers.set(follower.id.href, follower);
    const accept = new Accept({
      id: new URL(`${ORIGIN}/users/${USER}/accepts/${randomUUID()}`),
      actor: ctx.getActorUri(USER),
      object: follow,
    });
    await ctx.sendActivity({ identifier: USER }, follower, accept);
  })
  .onUnverifiedActivity((_ctx, activity, reason) => {
    unverified.push({
      id: activity.id?.href ?? null,
      actor: activity.actorId?.href ?? null,
      reason: JSON.parse(safeString(reason)),
    });
    // Returning nothing keeps Fedify's own 401 answer.
  })
  .onError((_ctx, error) => {
    logged.push({ level: "error", category: "peer.inbox", message: safeString(error) });
  });

// --- Control: follow a Parvis account -----------------------------------------

async function follow(target) {
  const ctx = federation.createContext(new URL(ORIGIN), undefined);
  // WebFinger first (an http actor URL as resource keeps the http scheme; an
  // acct: resource would make Fedify ask https://host/.well-known/webfinger).
  const jrd = await ctx.lookupWebFinger(target);
  if (jrd == null) return { status: 502, body: { error: `WebFinger found nothing for ${target}` } };
  const self = (jrd.links ?? []).find(
    (link) =>
      link.rel === "self" &&
      /^application\/(activity\+json|ld\+json)/.test(link.type ?? "") &&
      link.href,
  );
  if (self == null) return { status: 502, body: { error: "no self link in WebFinger", jrd } };
  const actor = await ctx.lookupObject(self.href);
  if (actor == null || !isActor(actor)) {
    return { status: 502, body: { error: `lookupObject(${self.href}) gave no actor`, jrd } };
  }
  const activity = new Follow({
    id: new URL(`${ORIGIN}/users/${USER}/follows/${randomUUID()}`),
    actor: ctx.getActorUri(USER),
    object: actor.id,
  });
  // Sent now rather than queued, so a refusal surfaces in this answer.
  await ctx.sendActivity({ identifier: USER }, actor, activity, { immediate: true });
  return {
    status: 200,
    body: {
      follow: activity.id.href,
      webfinger: { subject: jrd.subject ?? null, aliases: jrd.aliases ?? [], self: self.href },
      actor: {
        id: actor.id?.href ?? null,
        type: (await actor.toJsonLd({ contextLoader: ctx.contextLoader })).type,
        preferredUsername: actor.preferredUsername?.toString() ?? null,
        inbox: actor.inboxId?.href ?? null,
        sharedInbox: actor.endpoints?.sharedInbox?.href ?? null,
      },
    },
  };
}

// --- Control: publish a note to the followers ---------------------------------

async function publish(content) {
  const ctx = federation.createContext(new URL(ORIGIN), undefined);
  const id = new URL(`${ORIGIN}/users/${USER}/notes/${randomUUID()}`);
  const note = new Note({
    id,
    attribution: ctx.getActorUri(USER),
    content,
    to: PUBLIC_COLLECTION,
  });
  const create = new Create({
    id: new URL(`${id.href}/activity`),
    actor: ctx.getActorUri(USER),
    to: PUBLIC_COLLECTION,
    object: note,
  });
  // Sent now rather than queued, so a refusal surfaces in this answer.
  await ctx.sendActivity({ identifier: USER }, [...followers.values()], create, {
    immediate: true,
  });
  return { note: id.href, followers: [...followers.keys()] };
}

// --- HTTP ----------------------------------------------------------------------

function json(status, body) {
  return new Response(JSON.stringify(body, null, 2), {
    status,
    headers: { "Content-Type": "application/json" },
  });
}

async function handle(request) {
  const url = new URL(request.url);
  if (request.method === "GET" && url.pathname === "/health") {
    return json(200, { ok: true, actor: `${ORIGIN}/users/${USER}` });
  }
  if (request.method === "GET" && url.pathname === "/received") return json(200, received);
  if (request.method === "GET" && url.pathname === "/unverified") return json(200, unverified);
  if (request.method === "GET" && url.pathname === "/sent") return json(200, sent);
  if (request.method === "GET" && url.pathname === "/inbound") return json(200, inbound);
  if (request.method === "GET" && url.pathname === "/log") return json(200, logged);
  if (request.method === "POST" && url.pathname === "/follow") {
    const target = url.searchParams.get("target");
    if (!target) return json(400, { error: "target is required" });
    try {
      const { status, body } = await follow(target);
      return json(status, body);
    } catch (error) {
      return json(502, { error: safeString(error), stack: error?.stack ?? null });
    }
  }
  if (request.method === "POST" && url.pathname === "/publish") {
    const content = url.searchParams.get("content");
    if (!content) return json(400, { error: "content is required" });
    if (followers.size === 0) return json(409, { error: "no follower to publish to" });
    try {
      return json(200, await publish(content));
    } catch (error) {
      return json(502, { error: safeString(error), stack: error?.stack ?? null });
    }
  }
  if (request.method !== "POST") return federation.fetch(request, { contextData: undefined });
  const entry = { path: url.pathname, signature: signatureScheme(request.headers) };
  inbound.push(entry);
  const response = await federation.fetch(request, { contextData: undefined });
  entry.status = response.status;
  if (response.status >= 400) entry.body = (await response.clone().text()).slice(0, 2000);
  return response;
}

const server = createServer(async (incoming, outgoing) => {
  try {
    const chunks = [];
    for await (const chunk of incoming) chunks.push(chunk);
    const body = Buffer.concat(chunks);
    const headers = new Headers();
    for (const [name, value] of Object.entries(incoming.headers)) {
      for (const item of Array.isArray(value) ? value : [value]) headers.append(name, item);
    }
    const request = new Request(new URL(incoming.url, `http://${incoming.headers.host ?? HOST}`), {
      method: incoming.method,
      headers,
      body: ["GET", "HEAD"].includes(incoming.method) ? undefined : body,
    });
    const response = await handle(request);
    const answer = Buffer.from(await response.arrayBuffer());
    outgoing.writeHead(response.status, Object.fromEntries(response.headers));
    outgoing.end(answer);
  } catch (error) {
    console.error(error);
    outgoing.writeHead(500, { "Content-Type": "text/plain" });
    outgoing.end(safeString(error));
  }
});

server.listen(PORT, HOST, () => {
  console.log(`fedify peer on ${ORIGIN}/users/${USER}`);
});

for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, () => {
    server.close();
    process.exit(0);
  });
}
