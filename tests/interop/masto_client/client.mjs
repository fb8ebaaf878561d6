// masto.js (the Mastodon client library of Elk, Phanpy…) against a live Parvis server,
// for tests/interop/test_mastodon_clients.py.
//
//   node client.mjs register '{"url": …, "redirectUri": …, "scopes": …}'
//   node client.mjs token '{"url": …, "clientId": …, "clientSecret": …, "redirectUri": …, "code": …, "scope": …}'
//   node client.mjs run '{"url": …, "accessToken": …, "text": …, "reply": …}'
//   node client.mjs media '{"url": …, "accessToken": …, "text": …}'
//
// Each command prints one JSON document on stdout: what masto handed back (its entities
// as an application sees them: camelCase keys), or, when a call failed, which step it was
// and what masto reported (HTTP status, the server's error, the message).
import { createOAuthAPIClient, createRestAPIClient } from "masto";

const [command, argument] = process.argv.slice(2);
const args = JSON.parse(argument ?? "{}");
const steps = [];

function describe(error) {
  return {
    name: error?.constructor?.name ?? typeof error,
    message: String(error?.message ?? error),
    statusCode: error?.statusCode ?? null,
    description: error?.description ?? null,
    details: error?.details ?? null,
    additionalProperties: error?.additionalProperties ?? null,
    cause: error?.cause ? String(error.cause) : null,
  };
}

// Run one client call; record it and stop the command on failure.
async function step(name, call) {
  try {
    const value = await call();
    steps.push(name);
    return value;
  } catch (error) {
    const failure = new Error(`${name} failed`);
    failure.step = name;
    failure.original = error;
    throw failure;
  }
}

// The HTTP error a call is expected to raise (a 404 after a delete, say).
async function expectError(name, call) {
  return step(name, async () => {
    try {
      const value = await call();
      return { raised: false, value };
    } catch (error) {
      return { raised: true, ...describe(error) };
    }
  });
}

// The first `count` pages of a paginated list (masto follows the Link header).
async function pages(paginator, count) {
  const ids = [];
  for await (const page of paginator) {
    ids.push(page.map((status) => status.id));
    if (ids.length >= count) break;
  }
  return ids;
}

function rest() {
  return createRestAPIClient({
    url: args.url,
    accessToken: args.accessToken,
    timeout: 30_000,
  });
}

// A 1×1 PNG.
const PNG = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC",
  "base64",
);

const commands = {
  async register() {
    const masto = createRestAPIClient({ url: args.url, timeout: 30_000 });
    const app = await step("v1.apps.create", () =>
      masto.v1.apps.create({
        clientName: "Parvis interop (masto.js)",
        redirectUris: args.redirectUri,
        scopes: args.scopes,
        website: "https://example.invalid/masto",
      }),
    );
    return { app };
  },

  async token() {
    const oauth = createOAuthAPIClient({ url: args.url, timeout: 30_000 });
    const token = await step("oauth.token.create", () =>
      oauth.token.create({
        grantType: "authorization_code",
        clientId: args.clientId,
        clientSecret: args.clientSecret,
        redirectUri: args.redirectUri,
        code: args.code,
        scope: args.scope,
      }),
    );
    const masto = createRestAPIClient({ url: args.url, accessToken: token.accessToken });
    const app = await step("v1.apps.verifyCredentials", () => masto.v1.apps.verifyCredentials());
    const me = await step("v1.accounts.verifyCredentials", () =>
      masto.v1.accounts.verifyCredentials(),
    );
    await step("oauth.revoke", () =>
      oauth.revoke({
        clientId: args.clientId,
        clientSecret: args.clientSecret,
        token: token.accessToken,
      }),
    );
    const afterRevoke = await expectError("v1.accounts.verifyCredentials (revoked)", () =>
      masto.v1.accounts.verifyCredentials(),
    );
    return { token, app, me, afterRevoke };
  },

  async run() {
    const masto = rest();
    const me = await step("v1.accounts.verifyCredentials", () =>
      masto.v1.accounts.verifyCredentials(),
    );
    const instance = await step("v2.instance.fetch", () => masto.v2.instance.fetch());
    const instanceV1 = await step("v1.instance.fetch", () => masto.v1.instance.fetch());
    const lookup = await step("v1.accounts.lookup", () =>
      masto.v1.accounts.lookup({ acct: me.acct }),
    );
    const account = await step("v1.accounts.$select(id).fetch", () =>
      masto.v1.accounts.$select(me.id).fetch(),
    );
    const relationships = await step("v1.accounts.relationships.fetch", () =>
      masto.v1.accounts.relationships.fetch({ id: [me.id] }),
    );
    const created = await step("v1.statuses.create", () =>
      masto.v1.statuses.create({ status: args.text, visibility: "public", language: "fr" }),
    );
    const fetched = await step("v1.statuses.$select(id).fetch", () =>
      masto.v1.statuses.$select(created.id).fetch(),
    );
    const reply = await step("v1.statuses.create (reply)", () =>
      masto.v1.statuses.create({ status: args.reply, inReplyToId: created.id }),
    );
    const context = await step("v1.statuses.$select(id).context.fetch", () =>
      masto.v1.statuses.$select(created.id).context.fetch(),
    );
    const replyContext = await step("v1.statuses.$select(reply).context.fetch", () =>
      masto.v1.statuses.$select(reply.id).context.fetch(),
    );
    const home = await step("v1.timelines.home.list", () =>
      masto.v1.timelines.home.list({ limit: 20 }),
    );
    const publicTimeline = await step("v1.timelines.public.list", () =>
      masto.v1.timelines.public.list({ limit: 20 }),
    );
    const localTimeline = await step("v1.timelines.public.list (local)", () =>
      masto.v1.timelines.public.list({ local: true, limit: 20 }),
    );
    const accountStatuses = await step("v1.accounts.$select(id).statuses.list", () =>
      masto.v1.accounts.$select(me.id).statuses.list({ limit: 20 }),
    );
    // Three pages of one status each, through the Link header's "next".
    const publicPages = await step("v1.timelines.public.list (Link pagination)", () =>
      pages(masto.v1.timelines.public.list({ limit: 1 }), 3),
    );
    const deletedReply = await step("v1.statuses.$select(reply).remove", () =>
      masto.v1.statuses.$select(reply.id).remove(),
    );
    const deleted = await step("v1.statuses.$select(id).remove", () =>
      masto.v1.statuses.$select(created.id).remove(),
    );
    const afterDelete = await expectError("v1.statuses.$select(id).fetch (deleted)", () =>
      masto.v1.statuses.$select(created.id).fetch(),
    );
    const homeAfterDelete = await step("v1.timelines.home.list (after delete)", () =>
      masto.v1.timelines.home.list({ limit: 20 }),
    );
    return {
      me,
      instance,
      instanceV1,
      lookup,
      account,
      relationships,
      created,
      fetched,
      reply,
      context,
      replyContext,
      home,
      publicTimeline,
      localTimeline,
      accountStatuses,
      publicPages,
      deletedReply,
      deleted,
      afterDelete,
      homeAfterDelete,
    };
  },

  async media() {
    const masto = rest();
    const media = await step("v2.media.create", () =>
      masto.v2.media.create({
        file: new Blob([PNG], { type: "image/png" }),
        description: "Un pixel",
      }),
    );
    const status = await step("v1.statuses.create (with media)", () =>
      masto.v1.statuses.create({ status: args.text, mediaIds: [media.id] }),
    );
    const deleted = await step("v1.statuses.$select(id).remove", () =>
      masto.v1.statuses.$select(status.id).remove(),
    );
    return { media, status, deleted };
  },
};

const run = commands[command];
if (run === undefined) {
  console.error(`unknown command ${command}; one of ${Object.keys(commands).join(", ")}`);
  process.exit(2);
}
try {
  const result = await run();
  console.log(JSON.stringify({ ok: true, steps, result }));
} catch (error) {
  console.log(
    JSON.stringify({
      ok: false,
      steps,
      failedStep: error.step ?? null,
      error: describe(error.original ?? error),
    }),
  );
}
