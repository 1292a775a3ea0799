// A real OpenID Connect provider for the SSO tests: node's `oidc-provider`
// (package.json devDependencies), started by tests/directory_support/oidc.py.
//
//   node oidc_provider.mjs <config.json>
//
// config.json: {"jwks": {"keys": [<private RS256 JWK>]}, "clients_file": …,
// "accounts_file": …}. Clients and accounts are JSON files read again at every
// use, so a test can register a redirect URI or change someone's groups while
// the provider runs. Listens on a free loopback port and prints one line,
// {"issuer": "http://127.0.0.1:<port>"}, once it accepts connections.
//
// Sign-in is a username + password form (the accounts file holds both);
// consent is implied (a first-party client). PKCE is required of every client.

import fs from 'node:fs';
import http from 'node:http';

import { Provider } from 'oidc-provider';

const config = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const readJson = (file) => JSON.parse(fs.readFileSync(file, 'utf8'));

// Clients from the clients file; everything else (codes, tokens, sessions,
// grants, interactions) in memory, gone when the process ends.
const stores = new Map();
class TestAdapter {
  constructor(name) {
    this.name = name;
    if (!stores.has(name)) stores.set(name, new Map());
    this.store = stores.get(name);
  }

  async find(id) {
    if (this.name === 'Client') return readJson(config.clients_file)[id];
    const entry = this.store.get(id);
    if (!entry || (entry.expiresAt && entry.expiresAt < Date.now())) return undefined;
    return entry.payload;
  }

  async findByUid(uid) {
    for (const [id, entry] of this.store) if (entry.payload.uid === uid) return this.find(id);
    return undefined;
  }

  async findByUserCode(userCode) {
    for (const [id, entry] of this.store) if (entry.payload.userCode === userCode) return this.find(id);
    return undefined;
  }

  async upsert(id, payload, expiresIn) {
    this.store.set(id, { payload, expiresAt: expiresIn ? Date.now() + expiresIn * 1000 : 0 });
  }

  async consume(id) {
    const entry = this.store.get(id);
    if (entry) entry.payload.consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id) {
    this.store.delete(id);
  }

  async revokeByGrantId(grantId) {
    for (const store of stores.values()) {
      for (const [id, entry] of store) if (entry.payload.grantId === grantId) store.delete(id);
    }
  }
}

function account(login) {
  return readJson(config.accounts_file)[login];
}

const escape = (text) => String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function loginPage(uid, clientId, error) {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Test identity provider</title></head>
<body><h1>Sign in to the test identity provider</h1>
<p>Application: <span id="client">${escape(clientId)}</span></p>
${error ? `<p role="alert">${escape(error)}</p>` : ''}
<form method="post" action="/interaction/${escape(uid)}">
<label for="login">Username</label> <input id="login" name="login" autocomplete="username">
<label for="password">Password</label> <input id="password" name="password" type="password">
<button type="submit">Sign in</button></form></body></html>`;
}

async function readForm(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

const server = http.createServer();
server.listen(0, '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, {
    adapter: TestAdapter,
    jwks: config.jwks,
    cookies: { keys: ['oidc-test-provider-cookie-key'] },
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      // Like Okta's groups claim "included in any scope" (docs/directory.md).
      profile: ['name', 'given_name', 'family_name', 'preferred_username', 'groups'],
    },
    async findAccount(ctx, sub) {
      const entry = Object.values(readJson(config.accounts_file)).find((a) => a.sub === sub);
      if (!entry) return undefined;
      return { accountId: sub, claims: async () => ({ ...entry.claims, sub }) };
    },
    features: { devInteractions: { enabled: false } },
    pkce: { required: () => true },
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    ttl: { Session: 3600, Interaction: 600, Grant: 3600, AccessToken: 600, IdToken: 600 },
  });

  provider.use(async (ctx, next) => {
    const match = ctx.path.match(/^\/interaction\/([^/]+)$/);
    if (!match) return next();
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    const clientId = details.params.client_id;
    let accountId = details.session?.accountId;
    if (details.prompt.name === 'login') {
      if (ctx.method !== 'POST') {
        ctx.type = 'html';
        ctx.body = loginPage(details.uid, clientId);
        return undefined;
      }
      const form = await readForm(ctx.req);
      const person = account(form.get('login') || '');
      if (!person || person.password !== form.get('password')) {
        ctx.status = 200;
        ctx.type = 'html';
        ctx.body = loginPage(details.uid, clientId, 'Wrong username or password.');
        return undefined;
      }
      accountId = person.sub;
    }
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId, clientId });
    grant.addOIDCScope(details.params.scope);
    const grantId = await grant.save();
    await provider.interactionFinished(
      ctx.req,
      ctx.res,
      { login: { accountId }, consent: { grantId } },
      { mergeWithLastSubmission: false },
    );
    ctx.respond = false;
    return undefined;
  });

  server.on('request', provider.callback());
  process.stdout.write(`${JSON.stringify({ issuer })}\n`);
});

process.on('SIGTERM', () => server.close(() => process.exit(0)));
