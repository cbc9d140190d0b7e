import { existsSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { AppError } from '../core/index.js';
import type { Config } from './config.js';
import { LOADER_VARIABLES, SETTINGS, type SettingDefinition } from './settings.js';

export interface LoadConfigInput {
  /** The process environment, passed in: modules never read process.env. */
  env: Readonly<Record<string, string | undefined>>;
  cwd: string;
  /** `--config FILE` from the command line; wins over WEBASSET_CONFIG. */
  configPath?: string | undefined;
  /** Command-line flags by setting key; they win over everything else. */
  flags?: Readonly<Record<string, unknown>>;
}

export interface LoadedConfig {
  config: Config;
  /** Every secret value found in the config, for the redactor. */
  secrets: string[];
  /** Where the YAML file came from, when one was read. */
  configFile: string | undefined;
}

/**
 * Builds the config from defaults < YAML file < environment < flags and
 * validates it in one pass. Throws `config_invalid` listing every problem,
 * each named by its environment variable; values are never echoed.
 */
export function loadConfig(input: LoadConfigInput): LoadedConfig {
  const problems: string[] = [];
  const raw: Record<string, unknown> = {};
  const configFile = findConfigFile(input);

  if (configFile) Object.assign(raw, readYamlLayer(configFile, problems));
  Object.assign(raw, readEnvLayer(input.env, input.cwd, problems));
  for (const [key, value] of Object.entries(input.flags ?? {})) if (value !== undefined) raw[key] = value;

  const shape: Record<string, z.ZodType> = {};
  for (const def of SETTINGS) shape[def.key] = def.schema;
  const parsed = z.object(shape).strict().safeParse(raw);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const def = SETTINGS.find((d) => d.key === issue.path[0]);
      problems.push(`${def ? def.env : String(issue.path[0])}: ${issue.message}`);
    }
  }
  if (problems.length > 0 || !parsed.success) throw configError(problems);

  const values = parsed.data as Record<string, unknown>;
  const config = {
    ...values,
    dataDir: resolve(input.cwd, values.dataDir as string),
    recordingsDir: resolve(input.cwd, (values.recordingsDir as string | undefined) ?? join(values.dataDir as string, 'recordings')),
    nodeId: (values.nodeId as string | undefined) ?? hostname(),
  } as unknown as Config;
  crossCheck(config, problems);
  if (problems.length > 0) throw configError(problems);
  return { config, secrets: collectSecrets(config), configFile };
}

function configError(problems: string[]): AppError {
  const list = problems.map((p) => `  - ${p}`).join('\n');
  return new AppError('config_invalid', {
    publicMessage: `Invalid configuration:\n${list}\nSee docs/configuration.md or webasset --help.`,
    detail: `${problems.length} problem(s)`,
    data: { problems },
  });
}

function findConfigFile(input: LoadConfigInput): string | undefined {
  const explicit = input.configPath ?? input.env.WEBASSET_CONFIG;
  if (explicit) return isAbsolute(explicit) ? explicit : resolve(input.cwd, explicit);
  const fallback = resolve(input.cwd, 'webasset.yaml');
  return existsSync(fallback) ? fallback : undefined;
}

function readYamlLayer(file: string, problems: string[]): Record<string, unknown> {
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(file, 'utf8'));
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : 'not valid YAML';
    problems.push(`${file}: ${reason}`);
    return {};
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) {
    problems.push(`${file}: expected a mapping of setting names to values`);
    return {};
  }
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(doc as Record<string, unknown>)) {
    const def = SETTINGS.find((d) => d.key === name);
    const fileDef = SETTINGS.find((d) => d.secret && `${d.key}File` === name);
    if (def) out[def.key] = value;
    else if (fileDef) {
      if ((doc as Record<string, unknown>)[fileDef.key] !== undefined) {
        problems.push(`${file}: set either ${fileDef.key} or ${name}, not both`);
      } else if (typeof value !== 'string') problems.push(`${file}: ${name}: expected a file path`);
      else readSecretFile(fileDef, resolve(file, '..', value), `${file}: ${name}`, out, problems);
    } else problems.push(`${file}: unknown setting '${name}'`);
  }
  return out;
}

function readEnvLayer(env: LoadConfigInput['env'], cwd: string, problems: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const def of SETTINGS) {
    const direct = env[def.env];
    const fromFile = def.secret ? env[`${def.env}_FILE`] : undefined;
    if (direct !== undefined && fromFile !== undefined) {
      problems.push(`${def.env}: set either ${def.env} or ${def.env}_FILE, not both`);
      continue;
    }
    if (direct !== undefined) out[def.key] = direct;
    else if (fromFile !== undefined) readSecretFile(def, resolve(cwd, fromFile), `${def.env}_FILE`, out, problems);
  }
  const known = new Set<string>([
    ...SETTINGS.map((d) => d.env),
    ...SETTINGS.filter((d) => d.secret).map((d) => `${d.env}_FILE`),
    ...LOADER_VARIABLES.map((v) => v.env),
  ]);
  for (const name of Object.keys(env)) {
    if (name.startsWith('WEBASSET_') && !known.has(name)) problems.push(`${name}: unknown setting`);
  }
  return out;
}

function readSecretFile(def: SettingDefinition, path: string, label: string, out: Record<string, unknown>, problems: string[]): void {
  try {
    // A trailing newline is what `echo` and most editors leave; it is never part of a secret.
    out[def.key] = readFileSync(path, 'utf8').replace(/\r?\n$/, '');
  } catch {
    problems.push(`${label}: cannot read the file`);
  }
}

function crossCheck(config: Config, problems: string[]): void {
  const oidc = [config.oidcIssuer, config.oidcClientId].filter(Boolean).length;
  if (oidc === 1) problems.push('OIDC_ISSUER, OIDC_CLIENT_ID: set both or neither');
  // The callback URL registered at the provider is built from it; never from a request's Host header.
  if (config.oidcIssuer && !config.publicUrl) problems.push('WEBASSET_PUBLIC_URL: required with OIDC_ISSUER (the sign-in callback is <public URL>/auth/oidc/callback)');
  if (config.infisicalUrl && (!config.infisicalClientId || !config.infisicalClientSecret)) {
    problems.push('INFISICAL_CLIENT_ID, INFISICAL_CLIENT_SECRET: required with INFISICAL_URL (Universal Auth machine identity)');
  }
  // A node other nodes relay to must check their signatures, and is found only through the shared Redis.
  if (config.nodeUrl && (!config.clusterKey || !config.redisUrl)) problems.push('WEBASSET_CLUSTER_KEY, REDIS_URL: required with WEBASSET_NODE_URL (the node is announced in Redis; relayed requests are signed)');
  if (config.alertWebhookUrls.length > 0 && !config.alertWebhookSecret) {
    problems.push('WEBASSET_ALERT_WEBHOOK_SECRET: required when WEBASSET_ALERT_WEBHOOK_URLS is set (alerts are always signed)');
  }
}

function collectSecrets(config: Config): string[] {
  const out: string[] = [];
  for (const def of SETTINGS) {
    const value = (config as unknown as Record<string, unknown>)[def.key];
    // A secret list (webhook URLs: their path is often the credential) is redacted item by item.
    if (def.secret && Array.isArray(value)) out.push(...value.filter((item): item is string => typeof item === 'string'));
    if (!def.secret || typeof value !== 'string') continue;
    out.push(value);
    if (def.key === 'databaseUrl' || def.key === 'redisUrl') {
      try {
        const password = decodeURIComponent(new URL(value).password);
        if (password) out.push(password);
      } catch {
        // Already validated as a URL; nothing more to extract.
      }
    }
  }
  return out;
}
