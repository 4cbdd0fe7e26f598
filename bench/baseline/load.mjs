// Load generator for the node-oidc-provider baseline: the same measurements as wegate's
// crates/wegate/examples/bench.rs, against server.mjs (spawned here as a child process).
//
//   node load.mjs [seconds=10] [concurrency=32]
//
// Env passed through to the server: BASELINE_ROTATE (default 1), BASELINE_JWT_AT (default 0); see server.mjs.

import http from 'node:http';
import net from 'node:net';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

const seconds = Number(process.argv[2]) || 10;
const concurrency = Number(process.argv[3]) || 32;

const CLIENT_ID = 'bench-client';
const CLIENT_SECRET = 'bench-client-secret-0123456789abcdef';
const REDIRECT_URI = 'https://app.example.com/cb';
const BASIC = `Basic ${Buffer.from(`${encodeURIComponent(CLIENT_ID)}:${encodeURIComponent(CLIENT_SECRET)}`).toString('base64')}`;

function rssKib(pid) {
  try {
    const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'));
    return Number(line.split(/\s+/)[1]) || 0;
  } catch {
    return 0;
  }
}

const freePort = () =>
  new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

/** A minimal HTTP client: no redirects followed, body read as text. */
function request(agent, base, method, path, { headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const url = new URL(path, base);
    const req = http.request(
      { agent, method, hostname: url.hostname, port: url.port, path: url.pathname + url.search, headers },
      (res) => {
        let data = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (data += c));
        res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: data }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    if (body !== undefined) req.end(body);
    else req.end();
  });
}

/** A browser's cookie jar, reduced to what this flow needs: name, value, path; deletions honoured. */
class CookieJar {
  #cookies = new Map(); // name|path -> { name, value, path }

  store(setCookie) {
    for (const line of setCookie ?? []) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      let path = '/';
      let expired = false;
      for (const a of attrs) {
        const [k, v = ''] = a.split('=');
        const key = k.trim().toLowerCase();
        if (key === 'path') path = v.trim() || '/';
        else if (key === 'expires' && Date.parse(v) <= Date.now()) expired = true;
        else if (key === 'max-age' && Number(v) <= 0) expired = true;
      }
      const id = `${name}|${path}`;
      if (expired || value === '') this.#cookies.delete(id);
      else this.#cookies.set(id, { name, value, path });
    }
  }

  header(pathname) {
    const out = [];
    for (const c of this.#cookies.values()) {
      if (pathname === c.path || pathname.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`)) {
        out.push(`${c.name}=${c.value}`);
      }
    }
    return out.join('; ');
  }
}

/** A browser: its own cookie jar and its own connection pool (like a new reqwest::Client per login). */
class Browser {
  constructor(base) {
    this.base = base;
    this.agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    this.jar = new CookieJar();
  }

  async send(method, path, opts = {}) {
    const pathname = new URL(path, this.base).pathname;
    const cookie = this.jar.header(pathname);
    const headers = { ...(opts.headers ?? {}), ...(cookie ? { cookie } : {}) };
    const res = await request(this.agent, this.base, method, path, { ...opts, headers });
    this.jar.store(res.headers['set-cookie']);
    return res;
  }

  close() {
    this.agent.destroy();
  }
}

let firstError;
function fail(what) {
  firstError ??= what;
  return undefined;
}

function expectRedirect(res, step) {
  if (res.status < 300 || res.status > 399 || !res.headers.location) {
    throw new Error(`${step}: HTTP ${res.status} ${res.body.slice(0, 200)}`);
  }
  return res.headers.location;
}

async function tokenResponse(res, step) {
  let json;
  try {
    json = JSON.parse(res.body);
  } catch {
    throw new Error(`${step}: HTTP ${res.status} non-JSON ${res.body.slice(0, 200)}`);
  }
  if (res.status !== 200 || !json.refresh_token || !json.id_token || !json.access_token) {
    throw new Error(`${step}: HTTP ${res.status} ${res.body.slice(0, 300)}`);
  }
  return json.refresh_token;
}

/** One full login, as in bench.rs's login(); returns the refresh token (undefined on failure). */
async function login(base) {
  const browser = new Browser(base);
  try {
    const verifier = randomBytes(32).toString('base64url');
    const challenge = createHash('sha256').update(verifier).digest('base64url');
    const q = new URLSearchParams({
      client_id: CLIENT_ID,
      redirect_uri: REDIRECT_URI,
      response_type: 'code',
      scope: 'openid profile offline_access',
      // node-oidc-provider drops offline_access unless consent is prompted for (OIDC Core §11).
      prompt: 'consent',
      state: 's',
      nonce: 'n',
      code_challenge: challenge,
      code_challenge_method: 'S256',
    });
    // 1. /auth → 303 to the interaction (login + consent) page.
    const interaction = expectRedirect(await browser.send('GET', `/auth?${q}`), 'GET /auth');
    // 2. Submit the login/consent form → 303 back to /auth/:uid.
    const resume = expectRedirect(
      await browser.send('POST', interaction, {
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': '0' },
        body: '',
      }),
      'POST /interaction',
    );
    // 3. Resume → 303 to the client's redirect_uri with the code.
    const back = expectRedirect(await browser.send('GET', resume), 'GET resume');
    const code = new URL(back).searchParams.get('code');
    if (!code) throw new Error(`no code in ${back}`);
    // 4. The app redeems the code (PKCE + client_secret_basic).
    const form = new URLSearchParams({
      grant_type: 'authorization_code',
      code,
      redirect_uri: REDIRECT_URI,
      code_verifier: verifier,
    }).toString();
    const res = await browser.send('POST', '/token', {
      headers: {
        authorization: BASIC,
        'content-type': 'application/x-www-form-urlencoded',
        'content-length': Buffer.byteLength(form),
      },
      body: form,
    });
    return await tokenResponse(res, 'POST /token (code)');
  } catch (e) {
    return fail(e.message);
  } finally {
    browser.close();
  }
}

async function refresh(agent, base, token) {
  try {
    const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: token }).toString();
    const res = await request(agent, base, 'POST', '/token', {
      headers: {
        authorization: BASIC,
        'content-type': 'application/x-www-form-urlencoded',
        'content-length': Buffer.byteLength(form),
      },
      body: form,
    });
    return await tokenResponse(res, 'POST /token (refresh)');
  } catch (e) {
    return fail(e.message);
  }
}

async function run(kind, base) {
  let done = 0;
  let failed = 0;
  const deadline = Date.now() + seconds * 1000;
  const worker = async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 }); // the worker's long-lived client
    let token = await login(base);
    while (Date.now() < deadline) {
      let ok;
      if (kind === 'login') {
        ok = (await login(base)) !== undefined;
      } else {
        token = token !== undefined ? await refresh(agent, base, token) : await login(base);
        ok = token !== undefined;
      }
      if (ok) done += 1;
      else failed += 1;
    }
    agent.destroy();
  };
  const workers = Array.from({ length: concurrency }, worker);
  const started = performance.now();
  await Promise.all(workers);
  const elapsed = (performance.now() - started) / 1000;
  return [done / elapsed, failed];
}

const round1 = (x) => Math.round(x * 10) / 10;

async function main() {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const server = fileURLToPath(new URL('./server.mjs', import.meta.url));
  const child = spawn(process.execPath, [server], {
    env: { ...process.env, PORT: String(port) },
    stdio: ['ignore', 2, 2], // server chatter to stderr; stdout carries only the JSON report
  });
  const stop = () => child.exitCode === null && child.kill('SIGTERM');
  process.on('exit', stop);
  child.on('exit', (code, signal) => {
    if (!stopping) {
      console.error(`server exited early (code ${code}, signal ${signal})`);
      process.exit(1);
    }
  });
  let stopping = false;

  let ready = false;
  for (let i = 0; i < 200 && !ready; i += 1) {
    try {
      const res = await request(undefined, base, 'GET', '/.well-known/openid-configuration');
      ready = res.status === 200;
    } catch {
      /* not yet */
    }
    if (!ready) await sleep(50);
  }
  if (!ready) throw new Error('server did not answer /.well-known/openid-configuration');
  await sleep(500);
  const idleKib = rssKib(child.pid);

  // Warm up (as bench.rs does with its four members).
  for (let i = 0; i < 4; i += 1) {
    if ((await login(base)) === undefined) throw new Error(`warm-up login failed: ${firstError}`);
  }

  const [logins, loginFailures] = await run('login', base);
  const peakKib = rssKib(child.pid);
  const [refreshes, refreshFailures] = await run('refresh', base);

  const pkg = JSON.parse(
    readFileSync(fileURLToPath(new URL('./node_modules/oidc-provider/package.json', import.meta.url)), 'utf8'),
  );
  const report = {
    baseline: `node-oidc-provider ${pkg.version} on node ${process.versions.node}`,
    rotate_refresh_tokens: process.env.BASELINE_ROTATE !== '0',
    jwt_access_tokens: process.env.BASELINE_JWT_AT === '1',
    seconds,
    concurrency,
    full_logins_per_second: round1(logins),
    login_failures: loginFailures,
    refreshes_per_second: round1(refreshes),
    refresh_failures: refreshFailures,
    rss_idle_mib: round1(idleKib / 1024),
    rss_after_logins_mib: round1(peakKib / 1024),
    ...(firstError ? { first_error: firstError } : {}),
  };
  console.log(JSON.stringify(report, null, 2));
  stopping = true;
  stop();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
