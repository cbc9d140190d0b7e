#!/bin/sh
# Creates the Docker secrets of compose.yaml in ./secrets, once: a file that already exists is
# never replaced (a new master key would lock the vault; a new audit signing key would stop old
# checkpoints from verifying). Needs openssl and sha256sum. See docs/deployment.md.
set -eu
cd "$(dirname "$0")"
umask 077
mkdir -p secrets
chmod 0700 secrets

new() { # new NAME: writes stdin to secrets/NAME unless it exists
  if [ -e "secrets/$1" ]; then echo "kept    secrets/$1"; cat >/dev/null; else cat >"secrets/$1"; echo "created secrets/$1"; fi
}

# 32 random bytes, base64: the format the gateway's key settings require.
for key in master_key identity_key audit_signing_key cluster_key; do
  openssl rand -base64 32 | new "$key"
done

# Passwords in hex, so they need no escaping inside a URL.
if [ ! -e secrets/postgres_password ]; then
  pg=$(openssl rand -hex 24)
  printf '%s' "$pg" | new postgres_password
  printf 'postgres://webasset:%s@postgres:5432/webasset' "$pg" | new database_url
fi
if [ ! -e secrets/redis_url ]; then
  rd=$(openssl rand -hex 24)
  printf 'redis://webasset:%s@redis:6379/0' "$rd" | new redis_url
  # Redis keeps only the SHA-256 of the password; the default (passwordless) user is off.
  printf 'user default off\nuser webasset on #%s ~* &* +@all\n' "$(printf '%s' "$rd" | sha256sum | cut -d' ' -f1)" | new redis_users_acl
fi

openssl rand -base64 60 | tr -d '\n' | new authentik_secret_key
openssl rand -hex 24 | tr -d '\n' | new authentik_postgres_password

# Filled in by hand with the client secret Authentik shows for the provider (docs/deployment.md).
# Left empty, the gateway refuses to start: "OIDC_CLIENT_SECRET: must not be empty".
[ -e secrets/oidc_client_secret ] || : >secrets/oidc_client_secret

# The containers read these files as their own users (gateway 10001, postgres and redis 999,
# authentik 1000), so the files are world-readable; the folder (0700) keeps other accounts of
# this host out.
chmod 0444 secrets/*
