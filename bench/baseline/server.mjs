// node-oidc-provider configured like wegate's benchmark client, as a same-session baseline.
// Run: PORT=3001 node server.mjs   (load.mjs spawns it for you)
//
// Env:
//   PORT                 listen port on 127.0.0.1 (default 3001); the issuer is http://127.0.0.1:PORT
//   BASELINE_ROTATE      1 (default) = rotate the refresh token on every use, like wegate;
//                        0 = node-oidc-provider's default policy (a confidential client's token rotates
//                        only after 70% of its lifetime, i.e. never during a benchmark)
//   BASELINE_JWT_AT      0 (default) = node-oidc-provider's default opaque access tokens (one RSA
//                        signature per token response: the ID token);
//                        1 = RFC 9068 JWT access tokens via resourceIndicators (two RSA signatures,
//                        like wegate)

import { createServer } from 'node:http';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import Provider from 'oidc-provider';

const PORT = Number(process.env.PORT || 3001);
const ISSUER = `http://127.0.0.1:${PORT}`;
const ROTATE = process.env.BASELINE_ROTATE !== '0';
const JWT_AT = process.env.BASELINE_JWT_AT === '1';

const CLIENT_ID = 'bench-client';
const CLIENT_SECRET = 'bench-client-secret-0123456789abcdef';
const REDIRECT_URI = 'https://app.example.com/cb';
const ACCOUNT_ID = 'bench-user-1';
const RESOURCE = 'https://api.example.com';

// RS256 signing key, generated at start (RSA-2048, like wegate's).
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: randomUUID(), use: 'sig', alg: 'RS256' };

const configuration = {
  // Default in-memory adapter (no `adapter` option).
  clients: [
    {
      client_id: CLIENT_ID,
      client_secret: CLIENT_SECRET,
      token_endpoint_auth_method: 'client_secret_basic',
      redirect_uris: [REDIRECT_URI],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      id_token_signed_response_alg: 'RS256',
    },
  ],
  jwks: { keys: [signingKey] },
  cookies: { keys: ['bench-cookie-key-0123456789abcdef'] },
  scopes: ['openid', 'profile', 'offline_access'],
  claims: {
    openid: ['sub'],
    profile: ['name', 'preferred_username', 'updated_at'],
  },
  // PKCE: S256 is the only method node-oidc-provider accepts; require it for every client.
  pkce: { required: () => true },
  features: {
    devInteractions: { enabled: false }, // our own /interaction route below
    ...(JWT_AT
      ? {
          resourceIndicators: {
            enabled: true,
            defaultResource: () => RESOURCE,
            useGrantedResource: () => true,
            getResourceServerInfo: () => ({
              scope: 'profile',
              audience: RESOURCE,
              accessTokenTTL: 3600,
              accessTokenFormat: 'jwt',
              jwt: { sign: { alg: 'RS256' } },
            }),
          },
        }
      : {}),
  },
  // Default policy already issues one when offline_access was granted and the client may refresh;
  // spelled out so the bench does not depend on it silently changing.
  issueRefreshToken: async (_ctx, client, code) =>
    client.grantTypeAllowed('refresh_token') && code.scopes.has('offline_access'),
  ...(ROTATE ? { rotateRefreshToken: () => true } : {}),
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  async findAccount(_ctx, id) {
    return {
      accountId: id,
      async claims() {
        return { sub: id, name: 'Bench User', preferred_username: 'bench', updated_at: 1700000000 };
      },
    };
  },
};

const provider = new Provider(ISSUER, configuration);
provider.on('server_error', (_ctx, err) => console.error('server_error', err));

// Minimal interaction: one POST both logs the fixed account in and grants consent to everything that was
// asked for (openid profile offline_access, and the resource's scope when JWT access tokens are on).
async function finishInteraction(req, res) {
  const details = await provider.interactionDetails(req, res);
  const { params, prompt } = details;
  const accountId = details.session?.accountId ?? ACCOUNT_ID;
  const grant = details.grantId
    ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId, clientId: params.client_id });
  grant.addOIDCScope(String(params.scope || 'openid'));
  const missing = prompt.details?.missingResourceScopes;
  if (missing) for (const [indicator, scopes] of Object.entries(missing)) grant.addResourceScope(indicator, scopes.join(' '));
  if (JWT_AT) grant.addResourceScope(RESOURCE, 'profile');
  const grantId = await grant.save();
  await provider.interactionFinished(
    req,
    res,
    { login: { accountId }, consent: { grantId } },
    { mergeWithLastSubmission: false },
  );
}

const handler = provider.callback();
const server = createServer((req, res) => {
  if (req.method === 'POST' && req.url.startsWith('/interaction/')) {
    // Drain the (ignored) form body, then finish.
    req.resume();
    req.on('end', () => {
      finishInteraction(req, res).catch((err) => {
        res.statusCode = 400;
        res.setHeader('Content-Type', 'text/plain');
        res.end(`interaction failed: ${err.message}\n`);
      });
    });
    return;
  }
  if (req.method === 'GET' && req.url.startsWith('/interaction/')) {
    // A browser would see a login page here; the scripted client posts straight away.
    res.setHeader('Content-Type', 'text/html');
    res.end(`<form method="post" action="${req.url}"><button>Sign in and allow</button></form>\n`);
    return;
  }
  handler(req, res);
});

server.listen(PORT, '127.0.0.1', () => {
  console.log(
    `node-oidc-provider listening on ${ISSUER} (rotate_refresh_tokens=${ROTATE}, jwt_access_tokens=${JWT_AT})`,
  );
});
