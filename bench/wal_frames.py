"""How many WAL frames (whole pages) a login writes, on a copy of wegate's schema.

Runs the statements of a full login (bench/README.md: authorize, callback, token) against a fresh SQLite file
made from crates/wegate/migrations, after a prefill of 50,000 logins so that the B-trees have their depth, and
counts the frames the WAL grows by. Each step commits on its own, as wegate does; `--group K` puts K logins in
one commit (the group-commit experiment), `--without-rowid` rebuilds the login's tables WITHOUT ROWID.

    python3 bench/wal_frames.py [--group K] [--without-rowid] [--logins N]
"""
import argparse, glob, json, os, secrets, sqlite3, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))
MIGRATIONS = sorted(glob.glob(os.path.join(HERE, '..', 'crates', 'wegate', 'migrations', '*.sql')))
LOGIN_TABLES = ['login_tx', 'auth_codes', 'refresh_tokens', 'sessions', 'grant_origins', 'audit_events']
PAGE, FRAME_HEADER, WAL_HEADER = 4096, 24, 32


def without_rowid(conn, table):
    ddl = conn.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)).fetchone()[0]
    indexes = [r[0] for r in conn.execute(
        "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL", (table,))]
    conn.execute(f'ALTER TABLE {table} RENAME TO {table}_old')
    conn.execute(ddl.rstrip().rstrip(';') + ' WITHOUT ROWID')
    conn.execute(f'INSERT INTO {table} SELECT * FROM {table}_old')
    conn.execute(f'DROP TABLE {table}_old')
    for sql in indexes:
        conn.execute(sql)


def token():
    return secrets.token_urlsafe(32)


def login(c, t, audit_id, own_commits):
    """The statements of one login, in wegate's order; `own_commits`: the grant's group is a transaction."""
    tx, browser = secrets.token_hex(16), token()
    c.execute('INSERT INTO login_tx (id, browser_hash, client_id, redirect_uri, scope, state, nonce, code_challenge, '
              'code_challenge_method, response_mode, prompt, max_age, ui_locales, connection, data, created_at, '
              'expires_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)',
              (tx, browser, 'app-1', 'http://127.0.0.1:9999/cb', 'openid profile', token()[:22], token()[:22],
               token(), 'S256', None, None, None, None, 'wecom-qr', json.dumps({'a': token()}), t, t + 600))
    c.execute('DELETE FROM login_tx WHERE id = ? AND expires_at > ? AND browser_hash = ? AND connection = ? '
              'RETURNING *', (tx, t, browser, 'wecom-qr')).fetchall()
    c.execute('SELECT * FROM identities WHERE upstream = ? AND subject = ?', ('wecom:corp', 'zhangsan')).fetchall()
    c.execute('SELECT * FROM users WHERE id = ?', ('u1',)).fetchall()
    c.execute('BEGIN IMMEDIATE' if own_commits else 'SAVEPOINT grant_start')
    session, grant, code = token(), token()[:22], token()
    c.execute('INSERT INTO sessions (id_hash, user_id, auth_time, amr, created_at, expires_at, sid, connection, '
              'upstream, subject) VALUES (?,?,?,?,?,?,?,?,?,?)',
              (session, 'u1', t, '["wecom"]', t, t + 28800, token()[:22], 'wecom-qr', 'wecom:corp', 'zhangsan'))
    c.execute('INSERT INTO grant_origins VALUES (?,?,?,?,?,?,?,?,?,?)',
              (grant, 'u1', 'app-1', token()[:22], 'wecom-qr', 'wecom:corp', 'zhangsan', t, t, t + 2592000))
    c.execute('INSERT INTO auth_codes VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)',
              (code, grant, 'app-1', 'u1', 'http://127.0.0.1:9999/cb', 'openid profile', token()[:22], token(),
               'S256', session, t, '["wecom"]', t, t + 60, None))
    c.execute('INSERT INTO audit_events VALUES (?,?,?,?,?,?,?,?)',
              (audit_id, t, 'login.success', 'app-1', 'wecom-qr', 'u1', 'zhangsan', None))
    c.execute('COMMIT' if own_commits else 'RELEASE grant_start')
    c.execute('UPDATE auth_codes SET used_at = ? WHERE code_hash = ? AND client_id = ? AND used_at IS NULL AND NOT '
              'EXISTS (SELECT 1 FROM revoked_grants g WHERE g.grant_id = auth_codes.grant_id AND g.expires_at > ?) '
              'RETURNING *', (t, code, 'app-1', t)).fetchall()
    c.execute('SELECT * FROM users WHERE id = ?', ('u1',)).fetchall()
    c.execute('INSERT INTO refresh_tokens VALUES (?,?,?,?,?,?,?,?,?,?,?)',
              (token(), grant, 'app-1', 'u1', 'openid profile', session, t, '["wecom"]', t, t + 2592000, None))


def main():
    args = argparse.ArgumentParser()
    args.add_argument('--group', type=int, default=0, help='K logins per commit (0: each step commits alone)')
    args.add_argument('--without-rowid', action='store_true')
    args.add_argument('--logins', type=int, default=3000)
    args.add_argument('--prefill', type=int, default=50000)
    opts = args.parse_args()
    with tempfile.TemporaryDirectory() as dir:
        path = os.path.join(dir, 'wegate.db')
        c = sqlite3.connect(path, isolation_level=None)
        c.execute('PRAGMA journal_mode = WAL')
        c.execute('PRAGMA synchronous = NORMAL')
        c.execute('PRAGMA wal_autocheckpoint = 0')
        c.executescript(''.join(open(p).read() + '\n' for p in MIGRATIONS))
        if opts.without_rowid:
            for table in LOGIN_TABLES:
                without_rowid(c, table)
        c.execute("INSERT INTO users (id, username, username_norm, claims, created_at, updated_at) "
                  "VALUES ('u1', 'zhangsan', 'zhangsan', '{}', 1, 1)")
        c.execute("INSERT INTO identities VALUES ('wecom:corp', 'zhangsan', 'u1', 'wecom-qr', '{}', 1, 1)")
        now, audit_id = int(time.time()), int(time.time()) * 1000
        c.execute('BEGIN')
        for _ in range(opts.prefill):
            audit_id += 1
            login(c, now, audit_id, own_commits=False)
        c.execute('COMMIT')
        c.execute('PRAGMA wal_checkpoint(TRUNCATE)')
        before = os.path.getsize(path + '-wal')
        group = max(opts.group, 1)
        for _ in range(opts.logins // group):
            if opts.group:
                c.execute('BEGIN IMMEDIATE')
            for _ in range(group):
                audit_id += 1
                login(c, now + 1, audit_id, own_commits=not opts.group)
            if opts.group:
                c.execute('COMMIT')
        grown = os.path.getsize(path + '-wal') - before - (WAL_HEADER if before == 0 else 0)
        frames = grown / (PAGE + FRAME_HEADER)
        print(f'{frames / (opts.logins // group * group):.1f} WAL frames per login '
              f'(group {opts.group or "none"}, {"WITHOUT ROWID" if opts.without_rowid else "rowid tables"})')


if __name__ == '__main__':
    main()
