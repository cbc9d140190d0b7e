import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { CHROMIUM_CANDIDATES } from '../../src/browser/index.js';
import { loadConfig, LOADER_VARIABLES, SETTINGS } from '../../src/config/index.js';

// The deployment files (deploy/, .dockerignore) are not run here: there is no Docker engine or
// helm binary on the machines that run this suite. These checks hold them to the product's real
// configuration contract instead: every variable they set is one the config schema knows, no
// secret is written in them, and the wiring a cluster needs (shared keys, one recordings folder,
// healthy databases first) is there.

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const deploy = join(repo, 'deploy');
const read = (path: string) => readFileSync(join(repo, path), 'utf8');
type Yaml = Record<string, unknown>;
const yamlOf = (path: string) => parseYaml(read(path), { merge: true }) as Yaml;
const asMap = (value: unknown): Yaml => (value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Yaml) : {});

/** Names the config loader accepts, derived from the schema: settings, `<secret>_FILE`, loader variables. */
const SETTING_NAMES = new Set(SETTINGS.map((s) => s.env));
const SECRET_NAMES = new Set(SETTINGS.filter((s) => s.secret).map((s) => s.env));
const KNOWN = new Set([...SETTING_NAMES, ...[...SECRET_NAMES].map((n) => `${n}_FILE`), ...LOADER_VARIABLES.map((v) => v.env)]);
/** Variables a gateway container may carry that are not settings, each with its reason. */
const NOT_SETTINGS: Record<string, string> = {
  HOME: 'Chromium keeps its NSS database there',
  NODE_ENV: 'Node convention; the product does not read it',
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD: 'keeps any package from downloading a browser',
  NPM_CONFIG_UPDATE_NOTIFIER: 'build stage only',
  NPM_CONFIG_FUND: 'build stage only',
  NPM_CONFIG_AUDIT: 'build stage only',
  POD_IP: 'Kubernetes: expanded into WEBASSET_NODE_URL',
};
/** Prefixes that only the product's settings use: any such name must be a setting. */
const SETTING_PREFIXES = ['WEBASSET_', 'OIDC_', 'INFISICAL_'];

function unknownNames(names: Iterable<string>, { strict }: { strict: boolean }): string[] {
  return [...names].filter((name) => {
    if (KNOWN.has(name)) return false;
    if (SETTING_PREFIXES.some((p) => name.startsWith(p))) return true;
    return strict && !(name in NOT_SETTINGS);
  });
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

// ---- compose -------------------------------------------------------------------------------

const compose = yamlOf('deploy/compose/compose.yaml');
const single = yamlOf('deploy/compose/compose.single.yaml');
const servicesOf = (doc: Yaml) => asMap(doc.services) as Record<string, Yaml>;
const envOf = (service: Yaml) => asMap(service.environment) as Record<string, unknown>;
/** The gateway's services: those built from deploy/docker/Dockerfile. */
const gatewaysOf = (doc: Yaml) =>
  Object.entries(servicesOf(doc)).filter(([, s]) => asMap(s.build).dockerfile === 'deploy/docker/Dockerfile');
const gateways = gatewaysOf(compose);

/** `ENV` values of the Dockerfile's last (runtime) stage. */
const dockerfile = read('deploy/docker/Dockerfile');
const stages = dockerfile.split(/^FROM /m).slice(1);
const runtimeStage = stages.at(-1) ?? '';
/** A stage's text with the stages it is built from (`FROM npm-base AS build`: npm-base's text first). */
function withParents(stage: string): string {
  const from = /^(\S+)/.exec(stage)?.[1];
  const parent = stages.find((s) => /^\S+ AS (\S+)/.exec(s)?.[1] === from);
  return parent === undefined ? stage : `${withParents(parent)}\n${stage}`;
}
function envInstructions(stage: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const match of stage.replace(/\\\n/g, ' ').matchAll(/^ENV\s+(.+)$/gm)) {
    for (const pair of match[1]!.matchAll(/([A-Z][A-Z0-9_]*)=(\S+)/g)) out.set(pair[1]!, pair[2]!);
  }
  return out;
}
const imageEnv = envInstructions(runtimeStage);

describe('deploy/: every file parses', () => {
  const yamlFiles = filesUnder(deploy).filter((f) => /\.ya?ml$/.test(f) && !f.includes('/templates/'));

  it.each(yamlFiles.map((f) => relative(repo, f)))('%s is YAML', (path) => {
    expect(() => parseYaml(read(path), { merge: true, prettyErrors: true, strict: true, uniqueKeys: true })).not.toThrow();
  });

  const yamllint = (() => {
    try {
      execFileSync('yamllint', ['--version'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  })();
  // Optional: CI machines may not have it (apt-get install yamllint); the parse above always runs.
  it.skipIf(!yamllint)('yamllint passes with deploy/.yamllint (skipped when yamllint is not installed)', () => {
    expect(() => execFileSync('yamllint', ['--strict', '-f', 'parsable', '-c', '.yamllint', '.'], { cwd: deploy, encoding: 'utf8' })).not.toThrow();
  });
});

describe('deploy/: variables are the product\'s settings', () => {
  it('the gateway services of compose.yaml set only settings (or *_FILE of secret ones)', () => {
    expect(gateways.length).toBeGreaterThanOrEqual(2);
    for (const [name, service] of gateways) expect(unknownNames(Object.keys(envOf(service)), { strict: true }), name).toEqual([]);
  });

  it('compose.single.yaml sets only settings', () => {
    const [[, service] = ['', {}]] = gatewaysOf(single);
    expect(unknownNames(Object.keys(envOf(service)), { strict: true })).toEqual([]);
  });

  it('no other file names a WEBASSET_/OIDC_/INFISICAL_ variable the schema lacks', () => {
    const files = filesUnder(deploy).filter((f) => !f.includes('/secrets/'));
    for (const file of files) {
      const names = new Set([...readFileSync(file, 'utf8').matchAll(/\b(?:WEBASSET|OIDC|INFISICAL)_[A-Z0-9_]*[A-Z0-9]\b/g)].map((m) => m[0]));
      expect(unknownNames(names, { strict: false }), relative(repo, file)).toEqual([]);
    }
  });

  it('the Dockerfile\'s runtime ENV is settings or listed non-settings, and CHROMIUM_PATH is a place the product looks', () => {
    expect(unknownNames(imageEnv.keys(), { strict: true })).toEqual([]);
    expect(CHROMIUM_CANDIDATES).toContain(imageEnv.get('CHROMIUM_PATH'));
    expect(imageEnv.get('HOST')).toBe('0.0.0.0');
  });

  it('Helm: ConfigMap data, container env and secrets.keys are settings; secrets.keys are secret settings', () => {
    const configmap = read('deploy/helm/webasset/templates/configmap.yaml');
    const dataKeys = [...configmap.matchAll(/^ {2}([A-Z][A-Z0-9_]+):/gm)].map((m) => m[1]!);
    expect(dataKeys.length).toBeGreaterThan(3);
    const statefulset = read('deploy/helm/webasset/templates/statefulset.yaml');
    const envNames = [...statefulset.matchAll(/- name: ([A-Z][A-Z0-9_]+)\s*$/gm)].map((m) => m[1]!);
    expect(envNames).toContain('WEBASSET_NODE_URL');
    expect(unknownNames([...dataKeys, ...envNames], { strict: true })).toEqual([]);

    const values = yamlOf('deploy/helm/webasset/values.yaml');
    const keys = asMap(asMap(values.secrets).keys);
    expect(Object.keys(keys).filter((name) => !SECRET_NAMES.has(name))).toEqual([]);
    expect(unknownNames(Object.keys(asMap(asMap(values.config).extraEnv)), { strict: true })).toEqual([]);
    // The template passes each as <SETTING>_FILE.
    expect(statefulset).toContain('- name: {{ $setting }}_FILE');
  });
});

// ---- secrets -------------------------------------------------------------------------------

function dotenvExample(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of read('deploy/compose/.env.example').split('\n')) {
    const match = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (match) out[match[1]!] = match[2]!;
  }
  return out;
}

/** What a real secret written into a file would look like. */
const SECRET_SHAPES: Array<[string, RegExp]> = [
  ['32 bytes of base64 (a key)', /(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{43}=/],
  ['a long hex string', /\b[0-9a-f]{32,}\b/i],
  ['credentials in a URL', /\b(?:postgres(?:ql)?|rediss?|https?):\/\/[^\s/:@'"]*:[^\s/@'"$%]+@/],
  ['a private key', /-----BEGIN [A-Z ]*PRIVATE KEY-----/],
  ['an API token', /\bwat_[A-Za-z0-9_-]{20,}/],
];

describe('deploy/: no secret is written in a file', () => {
  const files = [...filesUnder(deploy).filter((f) => !f.includes('/secrets/')), join(repo, '.dockerignore')];

  it.each(files.map((f) => relative(repo, f)))('%s has nothing shaped like a secret', (path) => {
    const text = read(path);
    for (const [what, shape] of SECRET_SHAPES) expect(shape.exec(text)?.[0], `${path}: ${what}`).toBeUndefined();
  });

  it('compose sets secret settings only through *_FILE, and Authentik\'s secrets only as file://', () => {
    for (const doc of [compose, single]) {
      for (const [name, service] of Object.entries(servicesOf(doc))) {
        for (const [key, value] of Object.entries(envOf(service))) {
          expect(SECRET_NAMES.has(key), `${name}: ${key} set directly`).toBe(false);
          if (/PASSWORD|SECRET|TOKEN|_KEY$/.test(key) && !key.endsWith('_FILE')) {
            expect(String(value), `${name}: ${key}`).toMatch(/^file:\/\/\/run\/secrets\//);
          }
          if (key.endsWith('_FILE')) expect(String(value), `${name}: ${key}`).toMatch(/^\/run\/secrets\//);
        }
      }
    }
  });

  it('every /run/secrets/<name> a service reads is a secret it mounts, declared at the top level', () => {
    const declared = asMap(compose.secrets);
    for (const [name, service] of Object.entries(servicesOf(compose))) {
      const mounted = new Set((service.secrets as string[] | undefined) ?? []);
      for (const value of Object.values(envOf(service))) {
        const match = /\/run\/secrets\/([a-z0-9_]+)$/.exec(String(value));
        if (match) expect(mounted.has(match[1]!), `${name} reads ${match[1]} without mounting it`).toBe(true);
      }
      for (const secret of mounted) expect(declared[secret], `${name}: secret ${secret}`).toBeDefined();
    }
    // The gateway secrets are exactly the secret settings a node needs, each from its file.
    for (const [name, service] of gateways) {
      const fileVars = Object.keys(envOf(service)).filter((k) => k.endsWith('_FILE'));
      expect(fileVars.sort(), name).toEqual(
        ['DATABASE_URL', 'REDIS_URL', 'WEBASSET_MASTER_KEY', 'WEBASSET_IDENTITY_KEY', 'WEBASSET_AUDIT_SIGNING_KEY', 'WEBASSET_CLUSTER_KEY', 'OIDC_CLIENT_SECRET'].map((n) => `${n}_FILE`).sort(),
      );
    }
  });

  it('.env.example holds placeholders only, and every variable it names is used by a compose file', () => {
    const env = dotenvExample();
    const composeText = read('deploy/compose/compose.yaml') + read('deploy/compose/compose.single.yaml');
    for (const [key, value] of Object.entries(env)) {
      expect(composeText, `${key} is not used`).toMatch(new RegExp(`\\$\\{${key}[:}-]`));
      if (/PASSWORD|SECRET|TOKEN|KEY|CLIENT_ID/.test(key)) expect(value, key).toMatch(/^changeme/);
    }
    // A variable compose requires (${X:?...}) is in .env.example.
    for (const match of composeText.matchAll(/\$\{([A-Z][A-Z0-9_]*):\?/g)) expect(env, match[1]).toHaveProperty(match[1]!);
  });

  it('make-secrets.sh creates every file compose.yaml declares as a secret, and never replaces one', () => {
    const script = read('deploy/compose/make-secrets.sh');
    for (const secret of Object.keys(asMap(compose.secrets))) expect(script, secret).toMatch(new RegExp(`\\b${secret}\\b`));
    expect(script).toMatch(/if \[ -e "secrets\/\$1" \]/);
    expect(read('deploy/compose/secrets/.gitignore')).toMatch(/^\*$/m);
  });

  it('Helm values hold no secret: secrets come from an existing Secret', () => {
    const values = yamlOf('deploy/helm/webasset/values.yaml');
    const walk = (node: unknown, path: string[]): void => {
      if (Array.isArray(node)) node.forEach((item, i) => walk(item, [...path, String(i)]));
      else if (node !== null && typeof node === 'object') for (const [k, v] of Object.entries(node)) walk(v, [...path, k]);
      else if (typeof node === 'string' && node !== '' && /password|secret|token|key$/i.test(path.at(-1) ?? '') && path[0] !== 'secrets') {
        throw new Error(`values.yaml ${path.join('.')} looks like an inline secret`);
      }
    };
    expect(() => walk(values, [])).not.toThrow();
    expect(asMap(values.secrets).existingSecret).toBe('');
    expect(read('deploy/helm/webasset/templates/statefulset.yaml')).toMatch(/required "secrets\.existingSecret is required/);
  });
});

// ---- Dockerfile ----------------------------------------------------------------------------

describe('deploy/docker/Dockerfile', () => {
  it('builds on node:20-bookworm-slim in several stages', () => {
    expect(dockerfile).toMatch(/^ARG NODE_IMAGE=node:20-bookworm-slim$/m);
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const stage of stages) expect(withParents(stage)).toMatch(/^\$\{NODE_IMAGE\} AS [\w-]+/);
  });

  it('installs Debian\'s chromium with apt and never downloads a Playwright browser', () => {
    expect(runtimeStage).toMatch(/apt-get install[^\n]*--no-install-recommends[\s\S]*?(?<![\w-])chromium(?![\w-])/);
    expect(runtimeStage).toMatch(/\bfonts-/);
    expect(dockerfile).not.toMatch(/playwright(?:-core)?\s+install|install-deps/);
    expect(dockerfile).not.toMatch(/PLAYWRIGHT_BROWSERS_PATH/);
    // Every stage that runs npm ci says so explicitly.
    for (const stage of stages.filter((s) => /npm ci/.test(s))) expect(withParents(stage)).toMatch(/PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1/);
  });

  it('runs as a non-root user under tini, with a /healthz check and the port exposed', () => {
    const users = [...runtimeStage.matchAll(/^USER\s+(\S+)/gm)].map((m) => m[1]!);
    expect(users.length).toBeGreaterThan(0);
    expect(users.at(-1)).not.toMatch(/^(root|0)(:|$)/);
    expect(runtimeStage).toMatch(/^ENTRYPOINT \["\/usr\/bin\/tini", "--"/m);
    expect(runtimeStage).toMatch(/^HEALTHCHECK [\s\S]*\/healthz/m);
    expect(runtimeStage).toMatch(new RegExp(`^EXPOSE ${imageEnv.get('PORT')}$`, 'm'));
  });

  it('bakes in no secret: no secret setting, no ARG or ENV named like one, no key or .env copied', () => {
    for (const name of imageEnv.keys()) expect(SECRET_NAMES.has(name.replace(/_FILE$/, '')), name).toBe(false);
    expect(dockerfile).not.toMatch(/^(ARG|ENV)\s+\S*(PASSWORD|SECRET|TOKEN)/m);
    expect(dockerfile).not.toMatch(/^COPY\s[^\n]*(\.env|\.key|\.pem|secrets)/m);
  });

  it('copies what the server reads at run time: dist, the built UI, every web/ page folder, bin', () => {
    const pageFolders = readdirSync(join(repo, 'web')).filter((name) => name !== 'app' && statSync(join(repo, 'web', name)).isDirectory());
    expect(pageFolders.length).toBeGreaterThan(0);
    for (const folder of pageFolders) expect(runtimeStage, `web/${folder}`).toMatch(new RegExp(`^COPY web/${folder} \\./web/${folder}$`, 'm'));
    expect(runtimeStage).toMatch(/^COPY --from=build \/src\/dist \.\/dist$/m);
    expect(runtimeStage).toMatch(/^COPY --from=build \/src\/web\/app\/dist \.\/web\/app\/dist$/m);
    expect(runtimeStage).toMatch(/^COPY bin \.\/bin$/m);
  });

  it('.dockerignore keeps dependencies, data, local state, secrets and test output out of the build', () => {
    const ignored = read('.dockerignore').split('\n').map((l) => l.trim());
    for (const entry of ['node_modules', '.tmp', '.git', 'data', 'dist', 'coverage', '.env', 'test']) expect(ignored, entry).toContain(entry);
  });
});

// ---- compose wiring ------------------------------------------------------------------------

describe('deploy/compose', () => {
  // A scratch image (no shell, no client) cannot probe itself; Traefik's own checks cover it.
  const NO_HEALTHCHECK: Record<string, string> = { whoami: 'traefik/whoami is a scratch image' };

  it('every service has a healthcheck (or a stated reason), none is privileged', () => {
    for (const doc of [compose, single]) {
      for (const [name, service] of Object.entries(servicesOf(doc))) {
        if (!(name in NO_HEALTHCHECK)) expect(asMap(service.healthcheck).test, `${name}: healthcheck`).toBeDefined();
        expect(service.privileged, name).toBeUndefined();
        expect(service.network_mode, name).toBeUndefined();
      }
    }
  });

  it('runs PostgreSQL 16 and Redis 7 for the gateway, Redis without eviction', () => {
    const services = servicesOf(compose);
    expect(String(services.postgres?.image)).toMatch(/^postgres:\$\{POSTGRES_TAG:-16[-.]/);
    expect(String(services.redis?.image)).toMatch(/^redis:\$\{REDIS_TAG:-7[-.]/);
    expect(services.redis?.command).toEqual(expect.arrayContaining(['--maxmemory-policy', 'noeviction']));
  });

  it('gateway nodes start after PostgreSQL and Redis are healthy, with Chromium\'s shm and a grace period longer than shutdown', () => {
    for (const [name, service] of gateways) {
      const dependsOn = asMap(service.depends_on);
      for (const dep of ['postgres', 'redis']) expect(asMap(dependsOn[dep]).condition, `${name} -> ${dep}`).toBe('service_healthy');
      expect(service.shm_size, name).toBeDefined();
      expect(service.read_only, name).toBe(true);
      expect(service.cap_drop, name).toEqual(['ALL']);
      const grace = Number(/^(\d+)s$/.exec(String(service.stop_grace_period))?.[1]);
      expect(grace * 1000, name).toBeGreaterThan(Number(envOf(service).WEBASSET_SHUTDOWN_TIMEOUT_MS));
      expect(asMap(asMap(service.deploy).resources).limits, name).toBeDefined();
      expect(JSON.stringify(asMap(service.healthcheck).test)).toMatch(/\/readyz/);
    }
  });

  it('each node has its own id and address; all share one recordings volume at WEBASSET_RECORDINGS_DIR', () => {
    const ids = gateways.map(([, s]) => envOf(s).WEBASSET_NODE_ID);
    const urls = gateways.map(([, s]) => envOf(s).WEBASSET_NODE_URL);
    expect(new Set(ids).size).toBe(gateways.length);
    expect(new Set(urls).size).toBe(gateways.length);
    gateways.forEach(([name], i) => expect(urls[i]).toBe(`http://${name}:${imageEnv.get('PORT')}`));

    const recordingsDir = imageEnv.get('WEBASSET_RECORDINGS_DIR');
    const recordingMounts = gateways.map(([, s]) => ((s.volumes as string[] | undefined) ?? []).find((v) => v.endsWith(`:${recordingsDir}`)));
    expect(recordingMounts.every((m) => m !== undefined)).toBe(true);
    expect(new Set(recordingMounts).size).toBe(1);
    const dataMounts = gateways.map(([, s]) => ((s.volumes as string[] | undefined) ?? []).find((v) => v.endsWith(`:${imageEnv.get('WEBASSET_DATA_DIR')}`)));
    expect(new Set(dataMounts).size).toBe(gateways.length);
  });

  it('trusts exactly Traefik\'s fixed address, and Traefik\'s ForwardAuth asks /authz of the gateway nodes', () => {
    const traefik = servicesOf(compose).traefik!;
    const traefikIp = asMap(asMap(traefik.networks).proxy).ipv4_address;
    for (const [name, service] of gateways) expect(envOf(service).WEBASSET_TRUSTED_PROXIES, name).toBe(traefikIp);

    const dynamic = yamlOf('deploy/compose/traefik/dynamic.yaml');
    const http = asMap(dynamic.http);
    const forwardAuth = asMap(asMap(asMap(http.middlewares)['webasset-auth']).forwardAuth);
    const address = new URL(String(forwardAuth.address));
    expect(address.pathname).toBe('/authz');
    expect(forwardAuth.trustForwardHeader).toBe(false);
    expect(forwardAuth.authResponseHeaders).toEqual(['X-Webasset-User', 'X-Webasset-Email', 'X-Webasset-Groups']);
    // The alias every node carries on the proxy network.
    for (const [name, service] of gateways) expect(asMap(asMap(service.networks).proxy).aliases, name).toContain(address.hostname);

    const servers = (asMap(asMap(asMap(http.services).webasset).loadBalancer).servers as Array<{ url: string }>).map((s) => s.url);
    expect(servers.sort()).toEqual(gateways.map(([name]) => `http://${name}:${imageEnv.get('PORT')}`).sort());
    expect(asMap(asMap(asMap(http.services).webasset).loadBalancer).healthCheck).toMatchObject({ path: '/readyz' });
    // The protected example upstream goes through the middleware.
    expect(asMap(asMap(http.routers).whoami).middlewares).toEqual(['webasset-auth']);
  });

  it('the ForwardAuth rules in the environment are valid JSON for WEBASSET_FORWARD_AUTH', () => {
    const text = String(envOf(gateways[0]![1]).WEBASSET_FORWARD_AUTH).replace(/\$\{([A-Z_]+)(?::-([^}]*))?\}/g, (_m, _n, fallback: string | undefined) => fallback ?? 'webasset.example.com');
    const parsed = JSON.parse(text) as { signInUrl: string; rules: unknown[] };
    expect(parsed.signInUrl).toMatch(/\/auth\/oidc\/login$/);
    expect(parsed.rules.length).toBeGreaterThan(0);
  });

  it('each node\'s environment, with .env.example and made-up secrets, passes the product\'s own config loader', () => {
    const dir = mkdtempSync(join(tmpdir(), 'webasset-deploy-'));
    try {
      // Secrets in the formats make-secrets.sh writes (values made up here, never stored).
      const hex = () => randomBytes(24).toString('hex');
      const secretValues: Record<string, string> = {
        database_url: `postgres://webasset:${hex()}@postgres:5432/webasset`,
        redis_url: `redis://webasset:${hex()}@redis:6379/0`,
        oidc_client_secret: hex(),
      };
      for (const name of Object.keys(asMap(compose.secrets))) {
        writeFileSync(join(dir, name), `${secretValues[name] ?? randomBytes(32).toString('base64')}\n`, { mode: 0o600 });
      }
      const dotenv = dotenvExample();
      const interpolate = (value: string) =>
        value.replace(/\$\{([A-Z][A-Z0-9_]*)(?::?[-?]([^}]*))?\}/g, (_m, name: string, fallback: string | undefined) => dotenv[name] ?? fallback ?? '');
      for (const [name, service] of [...gateways, ...gatewaysOf(single)]) {
        const env: Record<string, string> = Object.fromEntries(imageEnv);
        for (const [key, value] of Object.entries(envOf(service))) {
          env[key] = interpolate(String(value)).replace(/^\/run\/secrets\//, `${dir}/`);
        }
        const { config } = loadConfig({ env, cwd: dir });
        expect(config.recordingsDir, name).toBe(imageEnv.get('WEBASSET_RECORDINGS_DIR'));
        if (env.WEBASSET_NODE_URL === undefined) continue;
        expect(config).toMatchObject({ nodeUrl: env.WEBASSET_NODE_URL, nodeId: env.WEBASSET_NODE_ID, trustedProxies: [env.WEBASSET_TRUSTED_PROXIES] });
        expect(config.forwardAuth.rules).toEqual([expect.objectContaining({ host: dotenv.GATEWAY_DOMAIN, groups: [dotenv.WHOAMI_GROUP] })]);
        expect(config.oidcIssuer).toBe(`https://${dotenv.SSO_DOMAIN}/application/o/${dotenv.SSO_APP_SLUG}/`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('compose.single.yaml runs the embedded mode: no database, Redis or cluster settings', () => {
    const [[, service] = ['', {}]] = gatewaysOf(single);
    for (const name of ['DATABASE_URL', 'REDIS_URL', 'WEBASSET_NODE_URL', 'WEBASSET_CLUSTER_KEY']) {
      expect(envOf(service)[name], name).toBeUndefined();
      expect(envOf(service)[`${name}_FILE`], name).toBeUndefined();
    }
    expect(service.shm_size).toBeDefined();
  });
});

// ---- Helm ----------------------------------------------------------------------------------

describe('deploy/helm/webasset', () => {
  const chartDir = join(deploy, 'helm/webasset');
  const templates = filesUnder(join(chartDir, 'templates')).map((f) => ({ path: relative(repo, f), text: readFileSync(f, 'utf8') }));
  const values = yamlOf('deploy/helm/webasset/values.yaml');

  it('Chart.yaml is an application chart of API v2', () => {
    const chart = yamlOf('deploy/helm/webasset/Chart.yaml');
    expect(chart).toMatchObject({ apiVersion: 'v2', name: 'webasset', type: 'application' });
    expect(String(chart.appVersion)).toBe((JSON.parse(read('package.json')) as { version: string }).version);
  });

  it('templates read only values that values.yaml defines', () => {
    const missing: string[] = [];
    for (const { path, text } of templates) {
      for (const match of text.matchAll(/\$?\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)/g)) {
        let node: unknown = values;
        for (const part of match[1]!.slice(1).split('.')) {
          if (node === null || typeof node !== 'object' || !(part in node)) {
            missing.push(`${path}: .Values${match[1]}`);
            break;
          }
          node = (node as Yaml)[part];
        }
      }
    }
    expect(missing).toEqual([]);
  });

  it('template actions open and close in pairs', () => {
    for (const { path, text } of templates) {
      const actions = [...text.matchAll(/\{\{-?\s*(if|with|range|define|end)\b/g)].map((m) => m[1]!);
      const opened = actions.filter((a) => a !== 'end').length;
      expect(actions.filter((a) => a === 'end').length, path).toBe(opened);
      expect(text.split('{{').length, path).toBe(text.split('}}').length);
    }
  });

  it('runs non-root with a read-only root, probes /healthz and /readyz, and turns service links off', () => {
    const statefulset = templates.find((t) => t.path.endsWith('statefulset.yaml'))!.text;
    expect(statefulset).toMatch(/^kind: StatefulSet$/m);
    expect(statefulset).toMatch(/enableServiceLinks: false/);
    expect(statefulset).toMatch(/livenessProbe:\s+httpGet:\s+path: \/healthz/);
    expect(statefulset).toMatch(/readinessProbe:\s+httpGet:\s+path: \/readyz/);
    expect(statefulset).toMatch(/medium: Memory/);
    expect(values.podSecurityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 10001 });
    expect(values.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    const grace = Number(values.terminationGracePeriodSeconds);
    const shutdownMs = Number(SETTINGS.find((s) => s.env === 'WEBASSET_SHUTDOWN_TIMEOUT_MS')?.defaultText);
    expect(grace * 1000).toBeGreaterThan(shutdownMs);
  });

  it('has the objects a cluster needs: Service, Traefik Ingress, ForwardAuth Middleware, RWX recordings claim, PDB', () => {
    const kinds = templates.flatMap((t) => [...t.text.matchAll(/^kind: (\w+)$/gm)].map((m) => m[1]!));
    expect(kinds).toEqual(expect.arrayContaining(['StatefulSet', 'Service', 'Ingress', 'Middleware', 'PersistentVolumeClaim', 'PodDisruptionBudget', 'ConfigMap']));
    expect(asMap(values.recordings).accessMode).toBe('ReadWriteMany');
    const ingress = templates.find((t) => t.path.endsWith('ingress.yaml'))!.text;
    expect(ingress).toMatch(/traefik\.ingress\.kubernetes\.io\/router\.entrypoints/);
    const middleware = templates.find((t) => t.path.endsWith('middleware-forwardauth.yaml'))!.text;
    expect(middleware).toMatch(/address: http:\/\/[^\n]*\/authz/);
  });
});

describe('docs/deployment.md', () => {
  const doc = existsSync(join(repo, 'docs/deployment.md')) ? read('docs/deployment.md') : '';

  it('names every compose secret and every Helm secret key', () => {
    for (const secret of Object.keys(asMap(compose.secrets))) expect(doc, secret).toContain(secret);
    for (const key of Object.values(asMap(asMap(yamlOf('deploy/helm/webasset/values.yaml').secrets).keys))) expect(doc, String(key)).toContain(String(key));
  });
});
