import { LOADER_VARIABLES, SETTINGS } from '../config/index.js';

export const COMMANDS_HELP = `Usage: webasset <command> [options]

Commands:
  serve [--port N] [--host ADDR]       Start the server (migrates the database first)
  migrate                              Apply pending database migrations and exit
  audit verify [--from SEQ]            Verify the audit hash chain and signed checkpoints
  audit verify --file EXPORT.ndjson    Verify an NDJSON export (or an evidence bundle .tar) offline
               [--public-key BASE64]   (trusted Ed25519 key; default: this deployment's key)
  audit public-key                     Print the public key(s) that verify checkpoints
  audit export --format ndjson|csv     Stream audit events to stdout (or --output FILE)
               [--from ISO] [--to ISO] [--actor ID] [--action PREFIX]
               [--target-kind KIND] [--target-id ID] [--outcome success|failure|denied]
  tokens create --name NAME --service-account USER [--create-service-account]
               --scope mcp|api:read|api:write [--scope ...] [--on-behalf-of USER]
               [--expires-days N]      Create an agent token (expires in N days,
                                       default 90, at most 365); it is printed once
  tokens create --name NAME --role admin|auditor|operator|agent [--scope ...]
               [--expires-days N]      Create a role token for a script
  tokens list                          List API tokens (never their values)
  tokens revoke ID                     Revoke an API token
  users create --admin|--role ROLE --username U [--email E] [--name N] [--mfa-required]
                                       Create a local user; prints a one-time enrolment
                                       link (48 h), never a password
  users list [--all]                   List users (--all: disabled ones too)
  users disable U [--reason TEXT]      Disable a user; their sessions end at once
  users enable U                       Enable a disabled user
  users reset-mfa U                    Forget a user's TOTP and recovery codes, end their
                                       sessions, print a link to enrol again
  users unlock U                       Lift the sign-in lockout of a user
  users enrolment-link U               Print a new enrolment link (earlier ones stop working)
  import FILE [--dry-run]              Apply a policy file (users, groups, members, assets,
                                       permissions) in one transaction; prints the diff
                                       (+ create, ~ field: before → after, - prune only)
  vault set ID --field NAME --stdin|--file FILE [--max-age-days N|default]
                                       Set one field of a vault entry (a new version; the
                                       other fields are kept). Values never in argv
  vault set ID --max-age-days N|default
                                       Change only the maximum age (default 90 days)
  vault list                           Vault entries: fields, version, set by/at, age, stale
  vault history ID                     Versions of an entry, who set them and when
  vault stale                          Entries past their maximum age
  vault delete ID                      Delete an entry and all its versions
  vault rotate-key --new-key-file FILE Re-wrap every data key under a new master key
               [--batch-size N] [--settle-seconds N]
                                       (FILE - reads stdin); safe to interrupt and rerun
  vault link ID --infisical-project P --environment E [--path /F] --key FIELD=NAME ...
                                       Keep an entry in Infisical (names only, no values)
  vault unlink ID                      Remove an entry's Infisical reference
  recording list [--user ID] [--asset ID] [--from ISO] [--to ISO] [--text Q] [--limit N] [--cursor C]
                                       Recordings you may replay (id, start, duration, state,
                                       asset, user, hold, bytes)
  recording show ID                    A recording's metadata and event track (audited)
  recording export ID [--format webm|mp4] [--out FILE]
                                       Video made by ffmpeg (FFMPEG_PATH), one at a time
  recording evidence ID --out DIR      Evidence bundle: chunks, signed manifest, the session's
                                       audit events, public key, verification report
  recording verify ID|DIR|FILE.tar     Check every chunk hash and the manifest signature
                                       (exit 1 names the failing chunk)
  recording delete ID --reason TEXT    Delete a recording early (refused under legal hold)
  recording hold|release ID --reason TEXT
                                       Place or release a legal hold
  mcp --token-file FILE [--url URL]    MCP server over stdio for local clients (Claude
                                       Desktop, VS Code): relays to URL/mcp (default: the
                                       public URL) with the agent token in FILE; the same
                                       checks as HTTP. See docs/mcp.md
  demo-portal [--port N] [--host ADDR] [--credentials FILE]
                                       Run the demo bank portal (default 127.0.0.1:8090;
                                       FILE: JSON username, password, totpSeed)
  demo-portal seed [--url URL] [--grant USER] [--credentials FILE]
                                       Add the demo portal to the product: vault entry and
                                       asset demo-bank, connect + watch for USER (default:
                                       the first administrator); safe to run again

Global options:
  --config FILE    YAML config file (default: ./webasset.yaml when present)
  --help, -h       Show this help
  --version        Show the version

Exit codes: 0 ok, 1 failure (e.g. verification failed), 2 bad command line or
configuration, 3 database or audit trail unavailable.`;

/** Full help: commands and every setting, generated from the settings registry. */
export function helpText(): string {
  const rows = SETTINGS.map((s) => {
    const name = s.secret ? `${s.env} (or ${s.env}_FILE)` : s.env;
    const def = s.defaultText === undefined ? '' : ` [default: ${s.defaultText}]`;
    return `  ${name}\n      ${s.description}${def}`;
  });
  const loader = LOADER_VARIABLES.map((v) => `  ${v.env}\n      ${v.description}`);
  return `${COMMANDS_HELP}

Settings (environment variables; the same names in camelCase in webasset.yaml,
e.g. PORT -> port, WEBASSET_DATA_DIR -> dataDir; secrets also as <key>File):
${[...rows, ...loader].join('\n')}

Precedence: defaults < webasset.yaml < environment < command-line flags.
See docs/configuration.md.`;
}
