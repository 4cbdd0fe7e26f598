#!/usr/bin/env bash
# Writes an upgrade fixture: a SQLite database made by a given (earlier) wegate binary through its own API and
# flows — a connection with a sealed secret, an app with a client secret, a user with a password, a WeCom member
# signed in (identity, session, grant origin, refresh token), the signing key — and a JSON file of what the
# upgrade test needs to use them. Run it with the released binary each time the schema changes:
#   git worktree add /tmp/prev <last release> && (cd /tmp/prev && cargo build --release --bin wegate)
#   scripts/make-fixture.sh /tmp/prev/target/release/wegate crates/wegate/tests/fixtures/schema-00NN
set -euo pipefail
bin=${1:?usage: make-fixture.sh WEGATE_BINARY OUT_PREFIX}
out=${2:?usage: make-fixture.sh WEGATE_BINARY OUT_PREFIX}
work=$(mktemp -d)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(free_port); simport=$(free_port)
base=http://127.0.0.1:$port; sim=http://127.0.0.1:$simport
key=Zml4dHVyZS1lbmNyeXB0aW9uLWtleS0wMTIzNDU2Nzg=   # 32 bytes: fixture-encryption-key-012345678
admin=fixture-admin-token-0123456789
cleanup() { kill "${server:-}" "${simulator:-}" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

"$bin" simulator --listen "127.0.0.1:$simport" --trusted-domain "127.0.0.1:$port" >/dev/null 2>&1 & simulator=$!
WEGATE_LISTEN=127.0.0.1:$port WEGATE_DATABASE_URL=sqlite://$work/w.db WEGATE_ADMIN_TOKEN=$admin \
  WEGATE_ENCRYPTION_KEY=$key WEGATE_WECOM_API_BASE=$sim WEGATE_WECOM_LOGIN_BASE=$sim WEGATE_WECOM_OAUTH_BASE=$sim \
  WEGATE_WECOM_OPEN_BASE=$sim WEGATE_LOG_LEVEL=warn "$bin" serve & server=$!
for _ in $(seq 1 100); do curl -sf "$base/readyz" >/dev/null && break; sleep 0.1; done

api() { curl -sf -H "Authorization: Bearer $admin" -H 'content-type: application/json' "$@"; }
api "$base/api/v1/connections" -d '{"identifier": "wecom", "display_name": "WeCom", "kind": "wecom_qrcode",
  "corp_id": "wwdemo0000000001", "agent_id": "1000002", "secret": "oVVnAgdyg44CAF8kjQOaguaAJDfvQbwKfqSa8ftimr2",
  "association": {"mode": "match", "fields": ["email"]}}' >/dev/null
app=$(api "$base/api/v1/apps" -d '{"name": "Fixture app", "kind": "web", "redirect_uris": ["https://app.example.com/cb"]}')
client_id=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["client_id"])' <<<"$app")
client_secret=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["client_secret"])' <<<"$app")
api -X PUT "$base/api/v1/apps/$client_id/connections/wecom" >/dev/null
api "$base/api/v1/users" -d '{"username": "zoe", "email": "zoe@example.com", "password": "zoe-long-password"}' >/dev/null

# ZhangSan signs in through the simulator's QR page, with offline_access: a refresh token.
verifier=fixture-verifier-0123456789abcdefghijklmnopqrstuv
challenge=$(printf %s "$verifier" | openssl dgst -binary -sha256 | base64 | tr '+/' '-_' | tr -d '=')
jar=$work/jar
to_wecom=$(curl -s -c "$jar" -b "$jar" -o /dev/null -w '%{redirect_url}' \
  "$base/authorize?client_id=$client_id&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcb&response_type=code&scope=openid%20profile%20email%20offline_access&state=s&nonce=n&code_challenge=$challenge&code_challenge_method=S256&connection=wecom")
callback=$(curl -s -o /dev/null -w '%{redirect_url}' "${to_wecom%%#*}&sim_user=ZhangSan")
to_app=$(curl -s -c "$jar" -b "$jar" -o /dev/null -w '%{redirect_url}' "$callback")
code=$(python3 -c 'import sys,urllib.parse as u; print(u.parse_qs(u.urlparse(sys.argv[1]).query)["code"][0])' "$to_app")
tokens=$(curl -sf -u "$client_id:$client_secret" "$base/token" -d grant_type=authorization_code -d "code=$code" \
  -d redirect_uri=https://app.example.com/cb -d "code_verifier=$verifier")
read -r refresh_token sub < <(python3 -c '
import json,sys,base64
t=json.load(sys.stdin); p=t["id_token"].split(".")[1]; p+="="*(-len(p)%4)
print(t["refresh_token"], json.loads(base64.urlsafe_b64decode(p))["sub"])' <<<"$tokens")
kid=$(curl -sf "$base/jwks" | python3 -c 'import json,sys; print(json.load(sys.stdin)["keys"][0]["kid"])')
schema=$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("select max(version) from _sqlx_migrations").fetchone()[0])' "$work/w.db")

kill -TERM "$server"; wait "$server" || true; server=
# One self-contained file: the WAL folded in.
python3 -c 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute("PRAGMA wal_checkpoint(TRUNCATE)"); c.execute("PRAGMA journal_mode=DELETE"); c.close()' "$work/w.db"
cp "$work/w.db" "$out.db"
python3 - "$out.json" <<PY
import json,sys
json.dump({"schema": $schema, "made_by": "$("$bin" --version)", "encryption_key": "$key",
  "client_id": "$client_id", "client_secret": "$client_secret", "refresh_token": "$refresh_token",
  "wecom_member": "ZhangSan", "wecom_member_sub": "$sub", "user": {"login": "zoe", "password": "zoe-long-password"},
  "kid": "$kid"}, open(sys.argv[1], "w"), indent=2)
open(sys.argv[1], "a").write("\n")
PY
echo "wrote $out.db and $out.json (schema $schema)"
