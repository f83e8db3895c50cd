// A real OpenID provider for the team-mode tests: panva's oidc-provider (pinned in tests/oidc/package.json,
// installed by `bash tests/oidc/install.sh`), configured as an OAuth 2.1 authorization server for co-mcp.
//
//   node tests/oidc/provider.mjs --port PORT --resource RESOURCE [--resource RESOURCE...]
//
// - Issuer http://127.0.0.1:PORT (loopback http, for tests only), discovery at
//   /.well-known/openid-configuration, its fresh RSA key (a new one each start) at the jwks_uri.
// - Access tokens for a resource (RFC 8707 `resource`) are JWTs signed RS256 with that key: aud = the resource,
//   sub = the login name, scope = the requested part of "data_assets:read data_assets:write".
//   A RESOURCE may hold `*`, which matches any run of characters without "/" (http://127.0.0.1:*/mcp: co-mcp's
//   endpoint on any port). Any other resource is refused (invalid_target).
// - Logins and consents through oidc-provider's development interactions: any login name, any password.
// - A pre-registered public client "co-mcp-tests" (PKCE, native, redirect http://127.0.0.1/callback on any
//   port), and open dynamic client registration (POST /reg). A client's `access_token_ttl` metadata (seconds)
//   sets the lifetime of its access tokens (default 3600): tests register one to get tokens that expire soon.
//
// Prints "ready <issuer>" on stdout once it listens; logs to stderr. Stops on SIGTERM/SIGINT.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    resource: { type: 'string', multiple: true, default: [] },
    host: { type: 'string', default: '127.0.0.1' },
  },
});
const port = Number(values.port);
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  console.error('provider.mjs: --port must be a TCP port number');
  process.exit(2);
}
if (values.resource.length === 0) {
  console.error('provider.mjs: at least one --resource is required');
  process.exit(2);
}

// The package lives under .ci/.work/node/oidc-provider (tests/oidc/install.sh), not beside this file.
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const prefix = process.env.OIDC_PROVIDER_PREFIX || join(root, '.ci', '.work', 'node', 'oidc-provider');
const entry = createRequire(join(prefix, 'package.json')).resolve('oidc-provider');
const { default: Provider, errors } = await import(pathToFileURL(entry).href);

const SCOPE = 'data_assets:read data_assets:write';
const DEFAULT_TTL = 3600;
const issuer = `http://${values.host}:${port}`;

const escape = (text) => text.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
const accepted = values.resource.map(
  (pattern) => new RegExp(`^${pattern.split('*').map(escape).join('[^/]*')}$`),
);

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), use: 'sig', alg: 'RS256' };

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: 'co-mcp-tests',
      application_type: 'native',
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      redirect_uris: ['http://127.0.0.1/callback'],
    },
  ],
  jwks: { keys: [signingKey] },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  scopes: ['openid', 'offline_access', ...SCOPE.split(' ')],
  pkce: { required: () => true },
  findAccount: (ctx, sub) => ({ accountId: sub, claims: () => ({ sub }) }),
  ttl: {
    AccessToken: (ctx, token) => token.resourceServer?.accessTokenTTL ?? DEFAULT_TTL,
    Grant: 3600,
    IdToken: 3600,
    Interaction: 600,
    Session: 3600,
  },
  extraClientMetadata: {
    properties: ['access_token_ttl'],
    validator(ctx, key, value) {
      if (key === 'access_token_ttl' && value !== undefined && !(Number.isInteger(value) && value > 0)) {
        throw new errors.InvalidClientMetadata('access_token_ttl must be a positive integer (seconds)');
      }
    },
  },
  features: {
    devInteractions: { enabled: true },
    registration: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: (ctx, client, oneOf) => oneOf,
      useGrantedResource: () => true,
      getResourceServerInfo(ctx, resource, client) {
        if (!accepted.some((pattern) => pattern.test(resource))) {
          throw new errors.InvalidTarget(`this provider issues no tokens for ${resource}`);
        }
        return {
          scope: SCOPE,
          audience: resource,
          accessTokenFormat: 'jwt',
          accessTokenTTL: client?.access_token_ttl ?? DEFAULT_TTL,
          jwt: { sign: { alg: 'RS256' } },
        };
      },
    },
  },
  clientBasedCORS: () => true,
});

provider.on('server_error', (ctx, error) => console.error('server_error', error));

const server = provider.listen(port, values.host, () => {
  console.log(`ready ${issuer}`);
});
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
